"""The committed study records are what the code makes of them: every result.json is a
valid record, and each summary.csv is exactly what ``study.collect`` builds from them."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from rewritelib.records import validate_result
from rewritelib.study import collect

RUNS = Path(__file__).resolve().parents[1] / "papermill_runs"
STUDIES = sorted(p.parent.name for p in RUNS.glob("*/summary.csv"))


@pytest.mark.parametrize("study", STUDIES)
def test_summary_is_collected_from_the_records(study, monkeypatch):
    monkeypatch.setenv("REWRITELIB_RUNS", str(RUNS))
    for path in (RUNS / study).glob("*/result.json"):
        validate_result(json.loads(path.read_text()))
    committed = pd.read_csv(RUNS / study / "summary.csv")
    fresh = pd.read_csv(io.StringIO(collect(study).to_csv(index=False)))
    pd.testing.assert_frame_equal(committed, fresh)


def test_the_main_study_is_committed():
    assert "diversity" in STUDIES


# Experiments whose committed cpu records are complete: every grid point of the registry's
# cpu grid has at least 3 seeds.
COMPLETE_AT_CPU = ["E1", "E1-long", "E2", "E4", "E5", "E6", "E6-budget"]


@pytest.mark.parametrize("name", COMPLETE_AT_CPU)
def test_committed_cpu_grid_has_three_seeds_everywhere(name, monkeypatch):
    from rewritelib.experiments import get
    from rewritelib.study import run_id

    exp = get(name)
    folder = RUNS / exp.study
    missing = [f"{run_id(point, 0)[:-3]} ({n} seeds)" for point in exp.points("cpu")
               if (n := sum((folder / run_id(point, s) / "result.json").exists() for s in range(10))) < 3]
    assert not missing, f"{name}: grid points with fewer than 3 committed seeds: {missing}"


def test_e2_reads_table_sets_the_second_control_beside_e2_and_the_first(monkeypatch):
    """Notebook 03's E2-reads table: one column per arm, at the I the second control ran, each
    with 3 seeds; the arms differ in the share, where the no-ops sit, or the steps."""
    from rewritelib.experiments import _e2_reads_tables

    monkeypatch.setenv("REWRITELIB_RUNS", str(RUNS))
    (table,) = _e2_reads_tables(collect("noop-reads"), "noop-reads").values()
    assert list(table.index) == [1024]
    assert set(table.columns) == {"10% in budget, 2200 steps", "30% in budget, 2200 steps",
                                  "50% in budget, 2200 steps", "30% on top, 2200 steps",
                                  "50% on top, 2200 steps", "50% on top, 3960 steps"}
    assert all(cell.endswith("(3)") for cell in table.loc[1024])
