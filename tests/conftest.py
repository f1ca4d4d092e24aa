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
