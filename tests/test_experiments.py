"""The experiment registry: every grid point of every experiment at every scale is valid,
E4 and E5 build the data they promise, and the sweep CLI runs an experiment."""

import json

import pytest

from rewritelib.cli import main, parse_grid
from rewritelib.config import ConfigError, DataConfig
from rewritelib.dataset import build_dataset
from rewritelib.experiments import EXPERIMENTS, get
from rewritelib.presets import run_settings
from rewritelib.scales import recipe
from rewritelib.study import ROOT, check_point, point_overrides, run_id


def point_settings(exp, scale, point, seed=0):
    data, train = point_overrides(point, exp.data.get(scale), exp.train.get(scale))
    return run_settings(scale, point["n_instructions"], seed, data_overrides=data, train_overrides=train)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_registered_point_is_valid(name):
    exp = get(name)
    for scale in exp.grids:
        for point in exp.points(scale):
            data, train = point_overrides(point, exp.data.get(scale), exp.train.get(scale))
            check_point(scale, point["n_instructions"], 0, data_overrides=data, train_overrides=train)


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


def test_grid_encrypt_false_is_the_committed_plain_run():
    """--grid encrypt=False once stayed the text "False", which is truthy: the run was
    enciphered and named encryptFalse, and the committed plain run was not skipped."""
    assert parse_grid(["encrypt=False"]) == {"encrypt": [False]}
    exp = get("E6")
    [point] = exp.points("cpu", **parse_grid(["n_instructions=32", "model=pretrained", "encrypt=false"]))
    assert point["encrypt"] is False
    folder = ROOT / "papermill_runs" / "pretrained" / run_id(point, 0)
    assert folder.name == "I0032-encrypt0-modelpretrained-skewuniform-s0"
    spec = json.loads((folder / "result.json").read_text())["run_info"]["data_spec"]
    assert spec["encrypt"] is False  # the same data as the record: the sweep skips it
    assert DataConfig(**point_settings(exp, "cpu", point)[0]) == DataConfig(**spec)


def test_sweep_cli_runs_an_experiment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))
    assert main(["sweep", "E1", "--preset", "tiny", "--grid", "n_instructions=2", "--max-steps", "3",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "summary.csv" in out
    record = json.loads((tmp_path / "diversity-tiny" / "I0002-skewuniform-s0" / "result.json").read_text())
    assert record["train_info"]["steps"] == 3


@pytest.mark.parametrize("scale", ["tiny", "cpu"])
def test_e6_trains_both_models_on_the_same_data(scale):
    exp = get("E6")
    by_data = {}
    for point in exp.points(scale):
        data, train = point_settings(exp, scale, point, seed=1)
        assert train["model"] == point["model"] and data["noop_fraction"] == 0.4
        by_data.setdefault(json.dumps(data, sort_keys=True), set()).add(point["model"])
    assert all(models == {"scratch", "pretrained"} for models in by_data.values())
    assert len(by_data) == len(exp.points(scale)) // 2
    plain, secret = (build_dataset(DataConfig(**point_settings(exp, scale, {**exp.points(scale)[0], "encrypt": e})[0]))
                     for e in (False, True))
    assert plain.cipher is None and secret.cipher is not None
    test = secret.splits["test"]
    assert abs(test.is_noop.mean() - 0.4) < 0.05  # no-ops in the test set too
    noop = int(test.is_noop.argmax())  # a no-op's answer is its input, enciphered
    assert test.output[noop] == test.input[noop].translate(str.maketrans(secret.config.alphabet, secret.cipher))
    assert test.output[noop] != test.input[noop]


def test_e6_budget_is_pretrained_and_encrypted():
    exp = get("E6-budget")
    points = exp.points("cpu")
    assert {(p["budget"], p["skew"]) for p in points} == {(b, a) for b in (20_000, 10_000)
                                                         for a in ("uniform", 0.1, 0.01)}
    for point in points:
        data, train = point_settings(exp, "cpu", point)
        assert train["model"] == "pretrained" and data["encrypt"] and data["noop_fraction"] == 0.4
        assert train["max_steps"] == 400  # E6's 100 steps learn no encrypted rewriting at cpu


def test_e1_long_is_e1_with_the_longer_recipe():
    e1, long = get("E1"), get("E1-long")
    quick = recipe("cpu", "scratch")
    assert (quick["batch_size"], quick["max_steps"]) == (64, 2200)  # the recipe E1's records ran
    assert long.points("cpu") == e1.points("cpu") and long.study != e1.study
    for point in long.points("cpu"):
        data, train = point_settings(long, "cpu", point)
        assert data == point_settings(e1, "cpu", point)[0]  # the same data
        long_recipe = recipe("cpu", train.pop("model", "scratch"), **train)
        assert long_recipe["batch_size"] * long_recipe["max_steps"] >= 3 * quick["batch_size"] * quick["max_steps"]
    with pytest.raises(ConfigError, match="E1-long has no grid at gpu"):
        long.points("gpu")


@pytest.mark.parametrize("scale", ["tiny", "cpu"])
def test_e2_reads_is_the_control_reading_as_many_has_op_examples_as_10_percent(scale):
    reads, control, e2 = get("E2-reads"), get("E2-control"), get("E2")
    quick = recipe(scale, "scratch")
    for point in reads.points(scale):
        data, train = point_settings(reads, scale, point)
        assert data == point_settings(control, scale, point)[0]  # the first control's data
        steps = recipe(scale, train.pop("model", "scratch"), **train)["max_steps"]
        share = point["noop_fraction"]
        ds = build_dataset(DataConfig(**data))
        assert abs(ds.splits["train"].is_noop.mean() - share) < 0.01
        # has-op examples read: steps x batch x has-op share, the 10% run's to within a step
        assert abs(steps * (1 - share) - quick["max_steps"] * 0.9) <= 1
        ten = {**point, "noop_fraction": 0.1}
        assert (~ds.splits["train"].is_noop).sum() == \
            (~build_dataset(DataConfig(**point_settings(e2, scale, ten)[0])).splits["train"].is_noop).sum()


def test_a_model_axis_sends_each_kind_only_its_own_settings():
    lora = {"lora_rank": 4, "model_name": "smollm2", "max_steps": 7}
    data, train = point_overrides({"n_instructions": 8, "model": "scratch", "encrypt": True}, {"noop_fraction": 0.4}, lora)
    assert data == {"noop_fraction": 0.4, "encrypt": True} and train == {"max_steps": 7, "model": "scratch"}
    _, train = point_overrides({"n_instructions": 8, "model": "pretrained"}, None, {**lora, "arch": "tiny"})
    assert train == {**lora, "model": "pretrained"}
    _, train = point_overrides({"n_instructions": 8}, None, lora)  # no model axis: nothing dropped,
    with pytest.raises(ConfigError, match="only applies with --model pretrained"):
        check_point("tiny", 8, train_overrides=train)  # so a scratch sweep refuses a LoRA rank
    assert run_id({"n_instructions": 8, "model": "pretrained", "encrypt": True}, 0) == \
        "I0008-encrypt1-modelpretrained-skewuniform-s0"


def test_another_pretrained_model_gets_its_own_study():
    from rewritelib.experiments import _model_suffix

    assert _model_suffix({}) == _model_suffix({"model_name": "smollm2"}) == ""
    assert _model_suffix({"model_name": "HuggingFaceTB/SmolLM2-360M-Instruct"}) == "-SmolLM2_360M_Instruct"
