"""The settings of one run of a study: a scale's data shape and recipe, plus the grid point.

The scales (data shape, GPT-2 size, training recipe per model kind, default seeds) live in
``scales.py``, the experiments and their grids in ``experiments.py``. ``tiny`` is for tests
(seconds), ``cpu`` for the main job on a laptop, ``gpu`` for one GPU, ``paper`` for the
paper's exact settings.
"""

from __future__ import annotations

from .scales import data_shape


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


def training_overrides(max_steps=None, model=None, overrides: dict | None = None) -> dict:
    """02_training's training parameters as one dict: its ``max_steps`` and ``model``, then
    any other setting in ``overrides`` (which wins). The notebook and the sweep that checks
    its runs beforehand both merge them here."""
    return {"max_steps": max_steps, "model": model, **(overrides or {})}
