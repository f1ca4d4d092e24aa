"""The fitted transition (transition.py): it finds a known threshold, its bootstrap interval
covers it as often as it says, data that pin nothing say so, and every committed
thresholds.csv is what the fit gives on the committed records."""

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from rewritelib.config import ConfigError
from rewritelib.transition import thresholds_table, transition

RUNS = Path(__file__).resolve().parents[1] / "papermill_runs"
GRID = np.array([8, 32, 128, 256, 512, 1024, 2048])
FLOOR, PLATEAU, MIDDLE, SLOPE = 0.0, 0.85, np.log10(400), 6.0  # an E1-like transition


def true_threshold(level: float) -> float:
    y = level if level == 0.5 else level * PLATEAU
    return 10 ** (MIDDLE + np.log((y - FLOOR) / (PLATEAU - y)) / SLOPE)


def simulated_study(rng, seeds=3, n=500, curve=None) -> pd.DataFrame:
    """Runs drawn from a known logistic curve: each seed's counts binomial around it."""
    p = curve if curve is not None else FLOOR + (PLATEAU - FLOOR) * expit(SLOPE * (np.log10(GRID) - MIDDLE))
    return pd.DataFrame([{"n_instructions": i, "seed": s, "exact_match": k / n, "n": n, "split": "unseen"}
                         for s in range(seeds) for i, k in zip(GRID, rng.binomial(n, p))])


def test_the_fit_finds_a_known_threshold():
    rows = transition(simulated_study(np.random.default_rng(0), n=100_000), replicates=50)
    for row in rows:
        assert row["status"] == "fitted"
        assert row["I_estimate"] == pytest.approx(true_threshold(row["level"]), rel=0.03)
        assert row["I_ci_low"] <= row["I_estimate"] <= row["I_ci_high"]
    assert rows[0]["plateau"] == pytest.approx(PLATEAU, abs=0.01)


def test_the_interval_covers_the_true_threshold_90_times_in_100():
    rng = np.random.default_rng(1)
    hits = {0.5: 0, 0.9: 0}
    for study in range(100):
        for row in transition(simulated_study(rng), replicates=150, seed=study):
            hits[row["level"]] += row["I_ci_low"] <= true_threshold(row["level"]) <= row["I_ci_high"]
    assert min(hits.values()) >= 90, hits


def test_the_interval_is_reproducible_to_the_digit():
    df = simulated_study(np.random.default_rng(2))
    assert transition(df, replicates=100, seed=7) == transition(df, replicates=100, seed=7)


@pytest.mark.parametrize("accuracy,status", [(0.0, "not reached"), (0.02, "not reached"),
                                             (0.95, "below range")])
def test_flat_data_say_what_they_do_not_pin(accuracy, status):
    df = simulated_study(np.random.default_rng(3), curve=np.full(len(GRID), accuracy))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning or optimizer noise either
        rows = transition(df, replicates=50)
    assert [r["status"] for r in rows] == [status, status]
    assert all(np.isnan(r["I_estimate"]) for r in rows)


def test_a_curve_that_passes_everywhere_is_below_range_at_50_percent():
    curve = 0.6 + 0.3 * expit(SLOPE * (np.log10(GRID) - MIDDLE))  # rises, but never below 50%
    rows = transition(simulated_study(np.random.default_rng(4), curve=curve), replicates=50)
    assert rows[0]["status"] == "below range" and rows[1]["status"] == "fitted"


@pytest.mark.parametrize("runs,param", [
    (pd.DataFrame({"n_instructions": [8, 8], "seed": [0, 1], "exact_match": [0.1, 0.2],
                   "n": [100, 100], "split": "unseen"}), "n_instructions"),
    (pd.DataFrame(columns=["n_instructions", "seed", "exact_match", "n", "split"]), "split"),
])
def test_bad_input_is_one_line_naming_the_parameter(runs, param):
    with pytest.raises(ConfigError) as e:
        thresholds_table(runs)
    assert str(e.value).startswith(f"{param}: ") and "\n" not in str(e.value)
    table = thresholds_table(runs, strict=False) if len(runs) else None
    assert table is None or set(table["status"]) == {"fewer than 3 I"}


def committed():
    from rewritelib.experiments import EXPERIMENTS
    from rewritelib.study import study_name

    for exp in EXPERIMENTS.values():
        for scale in ("cpu", "gpu"):
            if exp.transition and (RUNS / study_name(exp.study, scale) / "thresholds.csv").exists():
                yield pytest.param(exp.name, study_name(exp.study, scale), id=study_name(exp.study, scale))


@pytest.mark.parametrize("name,study", list(committed()))
def test_committed_thresholds_are_fitted_from_the_records(name, study, monkeypatch):
    from rewritelib.experiments import get
    from rewritelib.study import collect

    monkeypatch.setenv("REWRITELIB_RUNS", str(RUNS))
    from rewritelib.experiments import transition_args

    split, by, axis = transition_args(get(name))
    fresh = thresholds_table(collect(study), split, by, strict=False, axis=axis)
    committed = pd.read_csv(RUNS / study / "thresholds.csv")
    pd.testing.assert_frame_equal(committed, pd.read_csv(io.StringIO(fresh.to_csv(index=False))))


def test_every_study_with_a_transition_has_its_thresholds_committed():
    studies = {s.values[1] for s in committed()}
    assert studies == {p.parent.name for p in RUNS.glob("*/summary.csv")}  # every committed study
    assert studies >= {"diversity", "diversity-long", "noop", "noop-control", "noop-reads", "skew",
                       "families", "occurrences", "pretrained", "pretrained-budget"}


def test_the_ratio_of_two_thresholds_covers_the_true_one():
    """Arm b is arm a's curve moved to twice the I: the ratio's interval holds 2, not 1."""
    from rewritelib.transition import ratio

    rng = np.random.default_rng(5)
    moved = FLOOR + (PLATEAU - FLOOR) * expit(SLOPE * (np.log10(GRID) - MIDDLE - np.log10(2)))
    r = ratio(simulated_study(rng, curve=moved), simulated_study(rng), replicates=200)
    assert r["ci_low"] <= 2 <= r["ci_high"] and r["ci_low"] > 1 and r["ratio"] == pytest.approx(2, rel=0.15)


def test_comparisons_answer_with_intervals_or_say_why_not(monkeypatch, tmp_path):
    from rewritelib.comparisons import comparisons_table

    monkeypatch.setenv("REWRITELIB_RUNS", str(RUNS))
    e6 = comparisons_table(["E6"], "cpu", replicates=100).set_index("comparison")
    plain = e6.loc["E6: scratch / pretrained, plain"]  # the overview's resolved comparison (notebooks/00_overview)
    assert plain["resolved"] and plain["ci_low"] > 1 and plain["note"] == ""
    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))  # nothing run: one line each, no error
    missing = comparisons_table(["E1", "E2"], "tiny", levels=(0.5, 0.9))
    assert len(missing) == 10 and missing["note"].str.startswith("study: no finished runs in ").all()


def test_e7_m3_is_compared_with_single_rules_trained_as_long(monkeypatch):
    """m = 3 runs E1-long's recipe, so the single-rule arm must be E1-long's runs (the same
    steps, batch and shape of rule), not E1's quick ones."""
    from rewritelib.comparisons import COMPARISONS, arm

    monkeypatch.setenv("REWRITELIB_RUNS", str(RUNS))
    (_, _, a, b), = [c for c in COMPARISONS if c[1].startswith("E7-m3")]
    programs, rules = arm(*a), arm(*b)
    assert set(programs["program_length"].astype(str)) == {"3"}
    for column in ("steps", "budget", "alphabet", "input_length", "pattern_length", "replacement_length"):
        assert set(programs[column]) == set(rules[column]), column
    assert _batch_sizes(RUNS / a[0], programs) == _batch_sizes(RUNS / b[0], rules) == {64}


def _batch_sizes(study: Path, runs: pd.DataFrame) -> set[int]:
    """summary.csv leaves the batch out; each run's result.json keeps it with the recipe."""
    import json

    return {json.loads((study / r / "result.json").read_text())["run_info"]["params"]["train"]["batch_size"]
            for r in set(runs["run_id"])}
