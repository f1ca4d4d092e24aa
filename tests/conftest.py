import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model must load with no hub at all

import pytest

from rewritelib.config import DataConfig
from rewritelib.dataset import build_dataset


def small_config(**kw) -> DataConfig:
    """Small and fast, but with every kind of example in it."""
    base = dict(n_instructions=40, budget=4000, test_instructions=20, test_examples=1000,
                seen_examples=400, input_length=24, pattern_length="3-6",
                replacement_length="0-7", alphabet="abcdef", noop_fraction=0.3,
                occurrences="1-3", seed=1)
    base.update(kw)
    return DataConfig(**base)


@pytest.fixture(scope="session")
def small_dataset():
    return build_dataset(small_config())


def tiny_rules_config(**kw) -> DataConfig:
    """A handful of short rules: a tiny model learns them in seconds."""
    base = dict(n_instructions=4, budget=2000, test_instructions=4, test_examples=200,
                seen_examples=200, input_length=6, pattern_length=2, alphabet="abcd",
                noop_fraction=0.25, seed=0)
    base.update(kw)
    return DataConfig(**base)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    from rewritelib.dataset import write_dataset

    return write_dataset(build_dataset(tiny_rules_config()), tmp_path_factory.mktemp("data") / "tiny")
