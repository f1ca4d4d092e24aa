import os
import shutil

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


# The notebooks at tiny, as the notebook tests run them (tests/test_notebooks.py) and the
# browser test after them, on the sweeps those left behind (tests/browser). The stored
# notebooks are the cpu study over the committed records, every experiment of them checked
# by nbval; here a notebook trains one experiment end to end (03: E1; 06: E6, whose
# pretrained runs are a LoRA fine-tune each), and the other experiments' tables and
# figures are nbval's, over the records.
NOTEBOOK_TINY = {"01_data_construction": {"n_instructions": 12},
                 "02_training": {"n_instructions": 8, "run_dir": None, "max_steps": 40},
                 "03_diversity_ablation": {"experiments": ["E1"]},
                 # E4-narrow at tiny trains what E4 does (k = 3-4): its cpu cell runs in nbval
                 "05_families_and_occurrences": {"experiments": ["E4", "E5"]},
                 "06_pretrained_lora": {"experiments": ["E6"], "demo_instructions": 0},
                 "07_markov_programs": {"experiments": ["E7", "E7-compose"]}}


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


# --- headless Chromium for the browser tests (tests/browser: JupyterLab's widgets, the report) ---

INSTALL = "apt-get install chromium chromium-driver (Debian/Ubuntu), then pip install selenium"


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through its ChromeDriver (a downloaded browser does not run here),
    headless, with the browser's log kept for the tests' checks of SEVERE entries."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"the browser test needs selenium: {INSTALL}", pytrace=False)
    paths = {tool: shutil.which(tool) for tool in ("chromium", "chromedriver")}
    for tool, path in paths.items():
        if path is None:
            pytest.fail(f"the browser test needs {tool}: {INSTALL}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = paths["chromium"]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(paths["chromedriver"]))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
