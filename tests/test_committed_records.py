"""The committed study records are what the code makes of them: every result.json is a
valid record, and each summary.csv is exactly what ``study.collect`` builds from them."""

import io
import json
import re
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
COMPLETE_AT_CPU = ["E1", "E1-long", "E2", "E4", "E4-narrow", "E5", "E6", "E6-budget", "E6-encrypted-long",
                   "E7", "E7-m3", "E7-compose"]


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


def test_e4_narrow_sets_e4s_wide_runs_of_its_families_beside_its_own(monkeypatch):
    """E4-narrow's tables and figure read E4's committed runs of the same families (training
    k = 3-6) beside its own (3-4); a family it did not run, or a range it shares, adds none."""
    from rewritelib.experiments import _beside_e4, _e4_narrow_figure

    monkeypatch.setenv("REWRITELIB_RUNS", str(RUNS))
    wide = collect("families")
    narrow = wide[wide["family"] == "periodic"].assign(study="families-narrow", family_k="3-4")
    both = _beside_e4(narrow)
    assert set(zip(both["family"], both["family_k"])) == {("periodic", "3-4"), ("periodic", "3-6")}
    assert len(both) == 2 * len(narrow)
    assert len(_beside_e4(narrow.assign(family_k="3-6"))) == len(narrow)
    assert len(_e4_narrow_figure(narrow).axes[0].get_lines()) >= 2  # a curve per training range


def _doc_rows(section: str) -> dict[int, list[float]]:
    """The numbers of each table row of a docs section, keyed by the row's I."""
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].replace(",", "").isdigit():
            rows[int(cells[0].replace(",", ""))] = [float(x) for x in re.findall(r"\d+\.\d+", line)]
    return rows


def test_docs_e7_tables_are_the_committed_records():
    """docs/e7_programs.md's tables of the E7 sweep and of E7-compose are typed by hand: each
    mean (and sd) they show is the records' to the 3 decimals shown."""
    text = (RUNS.parent / "docs" / "e7_programs.md").read_text()
    stats = {}
    for study in ("programs", "programs-compose"):
        d = pd.read_csv(RUNS / study / "summary.csv")
        stats[study] = d.groupby(["program_length", "n_instructions", "split"])["exact_match"].agg(["mean", "std"])
    at = lambda study, m, i, split: [round(x, 3) for x in stats[study].loc[(m, i, split)]]

    sweep = _doc_rows(text.split("## The sweep", 1)[1].split("\n## ", 1)[0])
    assert sorted(sweep) == [256, 512, 1024, 2048, 4096]
    for i, numbers in sweep.items():
        assert numbers[:4] == at("programs", 2, i, "seen") + at("programs", 2, i, "unseen"), i
    compose = _doc_rows(text.split("## Composition", 1)[1].split("\n## ", 1)[0])
    assert sorted(compose) == [256, 1024, 4096]
    for i, numbers in compose.items():
        single = [at("programs-compose", "1", i, s)[0] for s in ("seen", "unseen")]
        mix = [at("programs-compose", "1,2", i, s)[0] for s in ("seen", "unseen")]
        assert numbers[:4] == single + mix and at("programs", 2, i, "unseen")[0] in numbers[4:], i


@pytest.mark.parametrize("study, heading, table_after", [
    ("programs-m3", "## Three-rule programs", "### The grid"),
    ("programs-long", "## E7-long's grid", "| I (programs)"),
])
def test_docs_e7_grid_tables_are_the_committed_records(study, heading, table_after):
    """docs/e7_programs.md's tables of E7-m3's and E7-long's grids: the seeds, seen and unseen
    means of each I are the records' (a grid with seeds still missing says which ones ran)."""
    text = (RUNS.parent / "docs" / "e7_programs.md").read_text()
    d = pd.read_csv(RUNS / study / "summary.csv")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    table = _doc_rows(table_after + section.split(table_after, 1)[1])
    assert sorted(table) == sorted(d["n_instructions"].unique())
    for i, numbers in table.items():
        runs = d[d["n_instructions"] == i]
        means = [round(runs[runs["split"] == s]["exact_match"].mean(), 3) for s in ("seen", "unseen")]
        seeds = ", ".join(map(str, sorted(runs["seed"].unique())))
        assert numbers[:2] == means and f"| {i:,} | {seeds} |" in section, i


def test_per_rule_tables_score_each_run_first_and_then_average_the_seeds(monkeypatch):
    """by_distinct_letters pools a run's test rules of a cell (right / n over them), then
    takes the mean over the runs; the rule counts are summed over seeds. On the committed E4
    records, repeated patterns of k = 3-6 hold at most 2 distinct letters."""
    from rewritelib.study import by_distinct_letters, rule_scores

    scores = pd.DataFrame({"family": "mixed", "family_k": "3-4", "n_instructions": 256,
                           "seed": [0, 0, 1], "letters": [5, 5, 5], "right": [1, 3, 0], "n": [4, 4, 10]})
    assert by_distinct_letters(scores).loc[("mixed", "3-4", 256), 5] == "0.250 (3 rules)"  # (4/8 + 0) / 2
    monkeypatch.setenv("REWRITELIB_RUNS", str(RUNS))
    seen = rule_scores("families", "seen")
    assert seen[seen["family"] == "repeated"]["letters"].max() == 2
    assert set(seen["family_k"]) == {"3-6"} and seen["letters"].max() == 6
