"""Study grids per scale: which grid points the ablations of a notebook sweep.

The scales themselves (data shape, GPT-2 size, training recipe per model kind) live in
``scales.py``; this module adds, per scale, the grids of the ablations (E1-E3) and the
default seeds. ``tiny`` is for tests (seconds), ``cpu`` for the main job on a laptop, ``gpu``
for one GPU in about an hour, ``paper`` for the paper's exact settings. Every value can
still be overridden (``papermill -p NAME VALUE``).
"""

from __future__ import annotations

import copy

from .config import ConfigError
from .scales import check_scale, data_shape

PRESETS = {
    "tiny": {
        "e1_instructions": [2, 8, 32],
        "e2_noop_fractions": [0.1, 0.5],
        "e2_instructions": [2, 32],
        "e3_skews": ["uniform", 0.5],
        "e3_instructions": [8, 32],
        "seeds": [0],
    },
    "cpu": {
        "e1_instructions": [8, 64, 256, 512, 1024, 2048],
        "e2_noop_fractions": [0.1, 0.3, 0.5],
        "e2_instructions": [64, 256, 512, 1024],
        "e3_skews": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.03],
        "e3_instructions": [512, 5120],
        "seeds": [0],  # make study runs one seed to stay inside 20 minutes; see the README
    },
    "gpu": {
        "e1_instructions": [10, 30, 100, 300, 1000, 3000, 10_000, 100_000],
        "e2_noop_fractions": [0.1, 0.2, 0.3, 0.4, 0.5],
        "e2_instructions": [100, 300, 1000, 3000],
        "e3_skews": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.07, 0.03],
        "e3_instructions": [1000, 10_000],
        "seeds": [0, 1, 2],
    },
    "paper": {
        "e1_instructions": [10, 100, 300, 400, 500, 1000, 10_000, 100_000, 1_000_000],
        "e2_noop_fractions": [0.1, 0.2, 0.3, 0.4, 0.5],
        "e2_instructions": [300, 400, 500, 1000],
        "e3_skews": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.07, 0.03],
        "e3_instructions": [1000, 10_000, 100_000],
        "seeds": [0, 1, 2],
    },
}


def get_preset(name: str) -> dict:
    """The grids and seeds of a scale, with its data shape under "data"."""
    return {**copy.deepcopy(PRESETS[check_scale(name)]), "data": data_shape(name)}


def grids(preset: dict, **overrides) -> dict:
    """The preset's ablation grids (e1_instructions, e3_skews, ...), each replaced by its
    override unless that is None: what the notebooks' grid parameters mean."""
    for k, v in overrides.items():
        if v is not None and (not isinstance(v, (list, tuple)) or not v):
            raise ConfigError(f"{k}: must be a non-empty list of values, or None for the "
                              f"preset's {preset[k]} (got {v!r})")
    return {k: v if v is not None else preset[k] for k, v in overrides.items()}


def run_settings(preset: str, n_instructions: int, seed: int = 0, noop_fraction=None,
                 skew=None, data_overrides: dict | None = None,
                 train_overrides: dict | None = None) -> tuple[dict, dict]:
    """(DataConfig kwargs, RunConfig.from_args kwargs) of one run at a scale.

    The seed drives both the data and the training. None anywhere keeps the scale's value;
    ``data_overrides`` may set any data axis (family, occurrences, ...). The training recipe
    itself is resolved by RunConfig.from_args (scales.recipe), the same function the CLI's
    --preset goes through.
    """
    point = {"n_instructions": n_instructions, "noop_fraction": noop_fraction, "skew": skew,
             **(data_overrides or {})}
    data = {**data_shape(preset), **{k: v for k, v in point.items() if v is not None}}
    data["seed"] = seed
    train = {"model": "scratch", **{k: v for k, v in (train_overrides or {}).items() if v is not None}}
    train.update(preset=preset, seed=seed)
    return data, train
