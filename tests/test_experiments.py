"""The experiment registry: every grid point of every experiment at every scale is valid,
E4 and E5 build the data they promise, and the sweep CLI runs an experiment."""

import json

import pytest

from rewritelib.cli import main, parse_grid
from rewritelib.config import ConfigError, DataConfig
from rewritelib.dataset import build_dataset
from rewritelib.experiments import EXPERIMENTS, get
from rewritelib.presets import run_settings
from rewritelib.study import check_point


def point_settings(exp, scale, point):
    axes = {k: v for k, v in point.items() if k != "n_instructions"}
    return run_settings(scale, point["n_instructions"], 0,
                        data_overrides={**exp.data.get(scale, {}), **axes})


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_registered_point_is_valid(name):
    exp = get(name)
    for scale in exp.grids:
        for point in exp.points(scale):
            axes = {k: v for k, v in point.items() if k != "n_instructions"}
            check_point(scale, point["n_instructions"], 0,
                        data_overrides={**exp.data.get(scale, {}), **axes})


@pytest.mark.parametrize("scale", ["tiny", "cpu"])
def test_e4_tests_smaller_k_than_it_trains_on(scale):
    exp = get("E4")
    for point in exp.points(scale):
        ds = build_dataset(DataConfig(**point_settings(exp, scale, point)[0]))
        train_k, test_k = set(ds.splits["train"].k), set(ds.splits["test"].k)
        assert max(test_k) < min(train_k) and test_k <= {1, 2}
        shapes = {ds.train_rules.family[r] for r in range(len(ds.train_rules))}
        assert shapes == ({"repeated", "periodic", "mirrored"} if point["family"] == "mixed"
                          else {point["family"]})


@pytest.mark.parametrize("scale", ["tiny", "cpu"])
def test_e5_plants_what_it_says(scale):
    exp = get("E5")
    for point in exp.points(scale):
        ds = build_dataset(DataConfig(**point_settings(exp, scale, point)[0]))
        occ = point["occurrences"]
        assert set(ds.splits["train"].occurrences.tolist()) == set(occ if isinstance(occ, tuple) else [occ])
        top = 20 if scale == "cpu" else 3
        assert set(ds.splits["test"].occurrences.tolist()) == set(range(1, top + 1))


def test_grid_overrides_and_errors():
    exp = get("E1")
    assert exp.points("cpu", n_instructions=[8, 64]) == [{"n_instructions": 8}, {"n_instructions": 64}]
    assert len(exp.points("cpu", n_instructions=None)) == 6
    with pytest.raises(ConfigError, match="axis"):
        exp.points("cpu", family=["periodic"])
    with pytest.raises(ConfigError, match="experiment"):
        get("E9")
    assert parse_grid(["n_instructions=8,64", "occurrences=1,1:5:10", "family=mixed"]) == \
        {"n_instructions": [8, 64], "occurrences": [1, (1, 5, 10)], "family": ["mixed"]}


def test_sweep_cli_runs_an_experiment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))
    assert main(["sweep", "E1", "--preset", "tiny", "--grid", "n_instructions=2", "--max-steps", "3",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "summary.csv" in out
    record = json.loads((tmp_path / "diversity-tiny" / "I0002-skewuniform-s0" / "result.json").read_text())
    assert record["train_info"]["steps"] == 3
