"""Study presets: the scale of every notebook and sweep, in one place.

A preset fixes the data shape (alphabet, lengths, budget, test sizes), the model and its
training, and the grids of the ablations. ``tiny`` is for tests (seconds), ``cpu`` for the
main job on a laptop, ``gpu`` for one GPU in about an hour, ``paper`` for the paper's exact
settings. Every value can still be overridden (``papermill -p NAME VALUE``).
"""

from __future__ import annotations

import copy

from .config import ConfigError

PRESETS = {
    "tiny": {
        "data": dict(alphabet="abcdefgh", input_length=10, pattern_length=3, budget=1200,
                     test_instructions=24, test_examples=96, seen_examples=96, noop_fraction=0.0),
        "train": dict(model="scratch", preset="tiny", max_steps=40, lr=3e-3, batch_size=32),
        "e1_instructions": [2, 8, 32],
        "e2_noop_fractions": [0.1, 0.5],
        "e2_instructions": [2, 32],
        "e3_skews": ["uniform", 0.5],
        "e3_instructions": [8, 32],
        "seeds": [0],
    },
    "cpu": {  # found by the scale search in docs/scale_search.md
        "data": dict(alphabet="abcdefghijklmnopqrstuvwxyz", input_length=8, pattern_length=3,
                     budget=20_000, test_instructions=100, test_examples=500, seen_examples=500,
                     noop_fraction=0.0),
        "train": dict(model="scratch", preset="cpu", max_steps=2200, lr=1e-3, batch_size=64),
        "e1_instructions": [8, 64, 256, 512, 1024, 2048],
        "e2_noop_fractions": [0.1, 0.3, 0.5],
        "e2_instructions": [64, 256, 512, 1024],
        "e3_skews": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.03],
        "e3_instructions": [512, 5120],
        "seeds": [0],  # make study runs one seed to stay inside 20 minutes; see the README
    },
    "gpu": {
        "data": dict(alphabet="abcdefghijklmnopqrstuvwxyz", input_length=50, pattern_length=20,
                     budget=200_000, test_instructions=1000, test_examples=10_000,
                     seen_examples=5000, noop_fraction=0.0),
        # ~7,000 steps x 256 x 144 tokens = 258 M tokens: ~140 s a run at the 1.8 M tokens/s
        # measured on an H200 (benchmarks/gpu_check.py), so 8 I x 3 seeds in about an hour
        "train": dict(model="scratch", preset="gpu", max_steps=7000, lr=1e-3, batch_size=256),
        "e1_instructions": [10, 30, 100, 300, 1000, 3000, 10_000, 100_000],
        "e2_noop_fractions": [0.1, 0.2, 0.3, 0.4, 0.5],
        "e2_instructions": [100, 300, 1000, 3000],
        "e3_skews": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.07, 0.03],
        "e3_instructions": [1000, 10_000],
        "seeds": [0, 1, 2],
    },
    "paper": {  # Zhang, Wang & Charton (2024): 10^6 examples, 50 epochs, 10^5 test examples
        "data": dict(alphabet="abcdefghijklmnopqrstuvwxyz", input_length=50, pattern_length=20,
                     budget=1_000_000, test_instructions=1000, test_examples=100_000,
                     seen_examples=10_000, noop_fraction=0.0),
        "train": dict(model="scratch", preset="paper", epochs=50, lr=1e-3, batch_size=64),
        "e1_instructions": [10, 100, 300, 400, 500, 1000, 10_000, 100_000, 1_000_000],
        "e2_noop_fractions": [0.1, 0.2, 0.3, 0.4, 0.5],
        "e2_instructions": [300, 400, 500, 1000],
        "e3_skews": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.07, 0.03],
        "e3_instructions": [1000, 10_000, 100_000],
        "seeds": [0, 1, 2],
    },
}


def get_preset(name: str) -> dict:
    if name not in PRESETS:
        raise ConfigError(f"preset: must be one of {', '.join(PRESETS)} (got {name!r})")
    return copy.deepcopy(PRESETS[name])


def grids(preset: dict, **overrides) -> dict:
    """The preset's ablation grids (e1_instructions, e3_skews, ...), each replaced by its
    override unless that is None: what the notebooks' grid parameters mean."""
    for k, v in overrides.items():
        if v is not None and (not isinstance(v, (list, tuple)) or not v):
            raise ConfigError(f"{k}: must be a non-empty list of values, or None for the "
                              f"preset's {preset[k]} (got {v!r})")
    return {k: v if v is not None else preset[k] for k, v in overrides.items()}


def run_settings(preset: str, n_instructions: int, seed: int = 0, noop_fraction=None,
                 skew="uniform", data_overrides: dict | None = None,
                 train_overrides: dict | None = None) -> tuple[dict, dict]:
    """(DataConfig kwargs, RunConfig.from_args kwargs) of one run of a study preset.

    The seed drives both the data and the training. None in an override keeps the preset's.
    """
    p = get_preset(preset)
    data = {**p["data"], **{k: v for k, v in (data_overrides or {}).items() if v is not None}}
    data.update(n_instructions=n_instructions, skew=skew, seed=seed)
    if noop_fraction is not None:
        data["noop_fraction"] = noop_fraction
    train = {**p["train"], **{k: v for k, v in (train_overrides or {}).items() if v is not None}}
    train["seed"] = seed
    return data, train
