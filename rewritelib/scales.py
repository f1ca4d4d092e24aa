"""Named scales, defined once: ``tiny``, ``cpu``, ``gpu``, ``paper``.

A scale fixes three things:

- ``data``: the shape of the data sets (alphabet, lengths, budget, test sizes);
- ``scratch``: the training recipe of a GPT-2 trained from scratch, with its size ``arch``;
- ``pretrained``: the training recipe of LoRA on a pretrained model (SmolLM2 by default).

``python -m rewritelib train --preset cpu`` and a study at ``cpu`` both resolve through
:func:`recipe`, so they mean the same run. The GPT-2 sizes are ``ARCHS`` (the key ``arch``);
``preset`` always means a scale.

    >>> recipe("cpu", "scratch")["max_steps"], recipe("cpu", "scratch", max_steps=10)["max_steps"]
    (2200, 10)
    >>> recipe("paper", "scratch", max_steps=10).get("epochs")  # explicit steps beat epochs
"""

from __future__ import annotations

import copy

from .config import ConfigError

# GPT-2 sizes for training from scratch: (layers, width, heads)
ARCHS = {
    "tiny": (2, 64, 2),  # tests and widgets: trains in seconds
    "cpu": (3, 128, 4),  # the CPU study (docs/scale_search.md)
    "small": (4, 192, 4),
    "paper": (6, 256, 4),  # Zhang, Wang & Charton (2024)
}
MODEL_KINDS = ("scratch", "pretrained")
DEFAULT_PRETRAINED = "smollm2"  # the offline GGUF of SmolLM2-135M-Instruct (model.py)
LETTERS = "abcdefghijklmnopqrstuvwxyz"

SCALES = {
    "tiny": {
        "data": dict(alphabet="abcdefgh", input_length=10, pattern_length=3, budget=1200,
                     test_instructions=24, test_examples=96, seen_examples=96, noop_fraction=0.0),
        "scratch": dict(arch="tiny", lr=3e-3, batch_size=32, max_steps=40),
        "pretrained": dict(lr=2e-3, batch_size=4, max_steps=10, lora_rank=8, lora_alpha=16),
    },
    "cpu": {  # found by the scale search in docs/scale_search.md
        "data": dict(alphabet=LETTERS, input_length=8, pattern_length=3, budget=20_000,
                     test_instructions=100, test_examples=500, seen_examples=500, noop_fraction=0.0),
        "scratch": dict(arch="cpu", lr=1e-3, batch_size=64, max_steps=2200),
        # docs/lora_search.md: the best of 9 recipes within ~3 min a run on 2 cores (SmolLM2
        # trains ~150 tokens/s here); no LoRA dropout: ~15% faster, no worse
        "pretrained": dict(lr=2e-3, batch_size=8, max_steps=100, lora_rank=16, lora_alpha=32,
                           lora_dropout=0.0),
    },
    "gpu": {
        "data": dict(alphabet=LETTERS, input_length=50, pattern_length=20, budget=200_000,
                     test_instructions=1000, test_examples=10_000, seen_examples=5000,
                     noop_fraction=0.0),
        # ~7,000 steps x 256 x 144 tokens = 258 M tokens: ~140 s a run at the 1.8 M tokens/s
        # measured on an H200 (benchmarks/gpu_check.py), so 8 I x 3 seeds in about an hour
        "scratch": dict(arch="paper", lr=1e-3, batch_size=256, max_steps=7000),
        "pretrained": dict(lr=5e-4, batch_size=64, max_steps=2000, lora_rank=64, lora_alpha=128),
    },
    "paper": {  # 10^6 examples, 50 epochs, 10^5 test examples; Llama-2 LoRA for pretrained
        "data": dict(alphabet=LETTERS, input_length=50, pattern_length=20, budget=1_000_000,
                     test_instructions=1000, test_examples=100_000, seen_examples=10_000,
                     noop_fraction=0.0),
        "scratch": dict(arch="paper", lr=1e-3, batch_size=64, epochs=50),
        # Llama-2-7B in the paper: rank 512, alpha 1024, lr 1e-5, batch 64, ~2,000 steps
        "pretrained": dict(lr=1e-5, batch_size=64, max_steps=2000, lora_rank=512, lora_alpha=1024),
    },
}


SEEDS = {"tiny": [0], "cpu": [0], "gpu": [0, 1, 2], "paper": [0, 1, 2]}  # a study's default seeds


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ConfigError(f"preset: must be one of {', '.join(SCALES)} (got {scale!r})")
    return scale


def data_shape(scale: str) -> dict:
    """The DataConfig fields of a scale (a copy: change it freely)."""
    return copy.deepcopy(SCALES[check_scale(scale)]["data"])


def recipe(scale: str, model: str = "scratch", **overrides) -> dict:
    """The RunConfig fields of ``model`` at ``scale``: the scale's recipe, then every override
    that is not None. An explicit ``max_steps`` replaces a recipe given in ``epochs``."""
    if model not in MODEL_KINDS:
        raise ConfigError(f"model: must be scratch or pretrained (got {model!r})")
    base = dict(SCALES[check_scale(scale)][model])
    given = {k: v for k, v in overrides.items() if v is not None}
    if "max_steps" in given:
        base.pop("epochs", None)
    return {**base, **given}
