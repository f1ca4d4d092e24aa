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
