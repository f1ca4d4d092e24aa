"""The notebooks, executed through papermill at the tiny preset, and the sweep machinery.

Recommenders-style: run the real notebooks with tiny parameters and assert on the records
they write. Everything goes to a temporary papermill_runs ($REWRITELIB_RUNS).
"""

import json
import os
from pathlib import Path

import papermill as pm
import pandas as pd
import pytest

from rewritelib.config import ConfigError
from rewritelib.records import validate_result
from rewritelib.study import (accuracy_table, failures, markdown, run_sweep, runs_root, seeds_passing,
                              thresholds)

from conftest import NOTEBOOK_TINY

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(autouse=True)
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path / "papermill_runs"))
    return tmp_path / "papermill_runs"


@pytest.fixture(scope="session")
def shared_runs_root(tmp_path_factory):
    """Where the notebooks' own tiny sweeps go: $REWRITELIB_SHARED_RUNS, which make test sets
    to the runs folder of nbval and the browser test, so that those, running the same
    notebooks afterwards, find the sweeps done instead of training them a second time."""
    return Path(os.environ.get("REWRITELIB_SHARED_RUNS") or tmp_path_factory.mktemp("notebook_runs"))


@pytest.fixture
def notebook_runs(shared_runs_root, monkeypatch):
    """The shared runs folder, for a test that runs a notebook's sweeps as stored (each test
    its own studies, so the order the tests run in does not matter)."""
    monkeypatch.setenv("REWRITELIB_RUNS", str(shared_runs_root))
    return shared_runs_root


def execute(name, tmp_path, **params):
    params = {"preset": "tiny", **NOTEBOOK_TINY.get(name, {}), **params}
    out = tmp_path / f"{name}.out.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=params,
                        kernel_name="python3", progress_bar=False, cwd=str(NOTEBOOKS))
    return json.loads(out.read_text())


def outputs(nb) -> str:
    text = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            text.append("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


def test_notebooks_have_one_parameters_cell_and_plain_kernel():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        assert "interactive = False" in "".join(tagged[0]["source"]), path.name


def test_data_construction(tmp_path):
    nb = execute("01_data_construction", tmp_path, n_instructions=10, seed=3)
    text = outputs(nb)
    assert "10 training rules" in text and "strings shared between them: 0" in text
    assert "cbacba" in text and "martissippi" in text


def test_widgets_render_in_a_real_kernel(tmp_path):
    nb = execute("01_data_construction", tmp_path, interactive=True)
    views = [o for c in nb["cells"] for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1


def test_training_writes_its_record(tmp_path):
    run_dir = tmp_path / "run"
    nb = execute("02_training", tmp_path, n_instructions=4, seed=1, run_dir=str(run_dir),
                 max_steps=20, progress=False)
    result = json.loads((run_dir / "result.json").read_text())
    validate_result(result)
    assert result["run_info"]["data_spec"]["n_instructions"] == 4 and result["run_info"]["seed"] == 1
    assert result["train_info"]["steps"] == 20 and result["run_info"]["preset"] == "tiny"
    assert "20 steps of 32, 1,200 training examples" in outputs(nb)


def test_diversity_ablation(tmp_path, notebook_runs):
    runs = notebook_runs
    from rewritelib.executor import machine_layout

    nb = execute("03_diversity_ablation", tmp_path)
    # by default the runs went to a local Dask cluster that fills the machine
    assert "Dask dashboard: http://" in outputs(nb)
    threads = {json.loads(p.read_text())["meta_info"]["torch_threads"]
               for p in (runs / "diversity-tiny").glob("*/result.json")}
    assert threads == {machine_layout()[1]}
    e1 = pd.read_csv(runs / "diversity-tiny" / "summary.csv")
    assert sorted(e1["n_instructions"].unique()) == [2, 8, 32]
    assert set(e1["split"]) >= {"seen", "unseen", "has_op"}
    assert e1["exact_match"].between(0, 1).all()
    assert len(list((runs / "diversity-tiny").glob("*/run.ipynb"))) == 3
    assert (runs / "diversity-tiny" / "e1.png").stat().st_size > 10_000
    # the fitted transition: one arm, both levels, beside the summary, and its figure
    fitted = pd.read_csv(runs / "diversity-tiny" / "thresholds.csv")
    assert list(fitted["arm"]) == ["all", "all"] and list(fitted["level"]) == [0.5, 0.9]
    assert set(fitted["n_runs"]) == {3} and (runs / "diversity-tiny" / "transition.png").stat().st_size > 10_000
    assert "thresholds.csv" in outputs(nb)


def test_skew_ablation(tmp_path, notebook_runs):
    runs = notebook_runs
    nb = execute("04_skew_ablation", tmp_path, scheduler="serial", threads=1)
    assert "Dask dashboard" not in outputs(nb)
    e3 = pd.read_csv(runs / "skew-tiny" / "summary.csv")
    assert set(e3["skew"].astype(str)) == {"uniform", "0.5"}
    assert len(e3["run_id"].unique()) == 4
    assert (runs / "skew-tiny" / "e3.png").exists()
    assert (runs / "skew-tiny" / "effective_rules.png").exists()
    unseen = e3[e3.split == "unseen"]
    uniform, skewed = unseen[unseen["skew"] == "uniform"], unseen[unseen["skew"] != "uniform"]
    gap = (uniform.effective_rules - uniform.n_instructions).abs()
    assert (gap <= 0.01 * uniform.n_instructions).all()  # equal up to budget % I
    assert (skewed.effective_rules < skewed.rules_with_examples).all()


def test_families_and_occurrences(tmp_path, notebook_runs):
    runs = notebook_runs
    nb = execute("05_families_and_occurrences", tmp_path)
    e4 = pd.read_csv(runs / "families-tiny" / "summary.csv")
    assert set(e4["family"]) == {"periodic", "mixed"} and len(e4["run_id"].unique()) == 4
    assert set(e4["family_k"]) == {"3-4"} and set(e4["test_family_k"]) == {"1-2"}
    assert (runs / "families-tiny" / "e4.png").stat().st_size > 10_000
    e5 = pd.read_csv(runs / "occurrences-tiny" / "summary.csv")
    assert set(e5["occurrences"].astype(str)) == {"1", "1,2,3"} and len(e5["run_id"].unique()) == 4
    assert (runs / "occurrences-tiny" / "e5.png").exists()
    record = json.loads(next((runs / "occurrences-tiny").glob("*occ1-2-3*/result.json")).read_text())
    assert set(record["metrics"]["by_occurrences"]) == {"1", "2", "3"}  # tested on 1-3 copies
    assert "by test occurrence count" in outputs(nb)


def test_pretrained_lora(tmp_path, notebook_runs):
    # E6 without the before/after demo (a run of its own, committed; nbval reads it)
    runs = notebook_runs
    nb = execute("06_pretrained_lora", tmp_path)
    e6 = pd.read_csv(runs / "pretrained-tiny" / "summary.csv")
    assert set(e6["model"]) == {"scratch", "pretrained"} and set(e6["encrypt"]) == {False, True}
    assert {"noop", "has_op"} <= set(e6["split"]) and (e6["noop_fraction"] == 0.4).all()
    records = [json.loads(p.read_text()) for p in (runs / "pretrained-tiny").glob("*/result.json")]
    assert len(records) == 4
    for encrypt in (False, True):
        by_model = {r["run_info"]["params"]["model"]: r for r in records
                    if r["run_info"]["data_spec"]["encrypt"] == encrypt}
        assert set(by_model) == {"scratch", "pretrained"}
        pre, scratch = by_model["pretrained"], by_model["scratch"]
        assert pre["run_info"]["data_spec"] == scratch["run_info"]["data_spec"]  # the same data
        assert pre["run_info"]["params"]["lora_rank"] == 8 and scratch["run_info"]["params"]["arch"] == "tiny"
        info = pre["train_info"]
        assert 0 < info["trainable_parameters"] < 0.05 * info["total_parameters"]
    assert (runs / "pretrained-tiny" / "e6.png").stat().st_size > 10_000
    text = outputs(nb)
    assert "trainable:" in text and "spaced (32 tokens)" in text and "threshold on unseen has-op" in text


def test_markov_programs(tmp_path, notebook_runs):
    runs = notebook_runs
    nb = execute("07_markov_programs", tmp_path, scheduler="serial", threads=1)
    e7 = pd.read_csv(runs / "programs-tiny" / "summary.csv")
    assert set(e7["program_length"].astype(str)) == {"2"} and sorted(e7["n_instructions"].unique()) == [4, 16]
    assert (runs / "programs-tiny" / "e7.png").stat().st_size > 10_000
    for r in (json.loads(p.read_text()) for p in (runs / "programs-tiny").glob("*/result.json")):
        assert set(r["metrics"]["by_fired"]) == {"0", "1"}  # the first rule fired, or the second (no no-ops at tiny)
        assert set(r["metrics"]["by_conflict"]) == {"conflict", "no conflict"}
    compose = [json.loads(p.read_text()) for p in (runs / "programs-compose-tiny").glob("*/result.json")]
    assert sorted(r["run_info"]["data_spec"]["program_length"] for r in compose) == [[1], [1, 2]]
    assert all(r["run_info"]["data_spec"]["test_program_length"] == [2] for r in compose)
    text = outputs(nb)
    assert "by the position of the rule that fires" in text and "only the order decides" in text


def test_e6_budget_table_and_figure(tmp_path):
    from rewritelib.experiments import get

    rows = [{"split": split, "seed": seed, "budget": budget, "skew": skew, "n_instructions": 2048,
             "exact_match": em, "rules_with_examples": 2048 if skew == "uniform" else 1500,
             "effective_rules": 2048.0 if skew == "uniform" else 900.0}
            for seed in (0, 1) for budget in (20_000, 10_000) for skew in ("uniform", 0.1)
            for split, em in (("has_op", 0.8 if skew == "uniform" else 0.3), ("noop", 0.9), ("seen", 0.7))]
    exp = get("E6-budget")
    tables = exp.tables(pd.DataFrame(rows), "pretrained-budget")
    acc = tables["exact match by budget and skew (mean ± sd (seeds))"]
    assert acc.loc[(10_000, "uniform"), "has_op"] == "0.800 ± 0.000 (2)"
    assert acc.loc[(10_000, "0.1"), "has_op"] == "0.300 ± 0.000 (2)" and list(acc.columns) == ["has_op", "noop", "seen"]
    assert tables["training rules with >= 1 example"].loc[(20_000, "0.1"), "rules_with_examples"] == 1500
    exp.figure(pd.DataFrame(rows), path=tmp_path / "e6-budget.png")
    assert (tmp_path / "e6-budget.png").stat().st_size > 10_000


def test_killed_sweep_resumes_without_redoing_runs(runs, capfd):
    points = [{"n_instructions": n} for n in (2, 4, 8)]
    first = run_sweep("resume", points[:2], [0], "tiny", extra={"max_steps": 5}, progress=False)
    # the kernels talk over IPC: no TCP ports to race for, no TCP warning in a sweep's output
    assert "running over TCP" not in capfd.readouterr().err
    assert [s["status"] for s in first] == ["done", "done"]
    stamps = {p: p.stat().st_mtime_ns for p in (runs / "resume").glob("*/result.json")}
    again = run_sweep("resume", points, [0], "tiny", extra={"max_steps": 5}, progress=False)
    assert [s["status"] for s in again] == ["skipped", "skipped", "done"]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert len(list((runs / "resume").glob("*/result.json"))) == 3


def failing_notebook(tmp_path) -> Path:
    """02_training with a cell that crashes at I = 3: a run that fails inside its kernel,
    after every parameter passed the sweep's up-front checks."""
    nb = json.loads((NOTEBOOKS / "02_training.ipynb").read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if "parameters" in c["metadata"].get("tags", []))
    nb["cells"].insert(at + 1, {"cell_type": "code", "metadata": {}, "outputs": [],
                                "execution_count": None,
                                "source": "if n_instructions == 3:\n    raise RuntimeError('crash at n_instructions=3')"})
    path = tmp_path / "02_failing.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_failed_run_is_recorded_and_not_done(runs, tmp_path):
    points = [{"n_instructions": 3}, {"n_instructions": 2}]  # the first crashes in its kernel
    nb = failing_notebook(tmp_path)
    statuses = run_sweep("failing", points, [0], "tiny", notebook=nb, extra={"max_steps": 5},
                         progress=False)
    assert [s["status"] for s in statuses] == ["failed", "done"]
    failed = failures("failing")
    assert len(failed) == 1 and "n_instructions=3" in failed[0]["error"]
    assert not (runs / "failing" / failed[0]["run_id"] / "result.json").exists()
    again = run_sweep("failing", points, [0], "tiny", notebook=nb, extra={"max_steps": 5},
                      progress=False)
    assert [s["status"] for s in again] == ["failed", "skipped"]


def test_a_bad_point_stops_the_sweep_before_any_run(runs):
    from rewritelib.config import ConfigError

    points = [{"n_instructions": 2}, {"n_instructions": 100_000}]  # budget 1,200 < I
    with pytest.raises(ConfigError, match="budget"):
        run_sweep("refused", points, [0], "tiny", extra={"max_steps": 5}, progress=False)
    assert not (runs / "refused").exists()


def is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_widgets_build_and_react(runs):
    # Widgets hold their content as state (HTML, Image): no Output, no pyplot (see widgets.py)
    import ipywidgets as W

    from rewritelib import widgets

    explorer = widgets.data_explorer(n_instructions=5, budget=100, input_length=8, alphabet="abcdefgh",
                                     pattern_length=(2, 3), occurrences=1, noop_fraction=0.5)
    (controls, table, image) = explorer.children
    left, right = controls.children
    assert [w.value for w in left.children] == [5, 100, 0.5, "uniform", 8]  # starts at the settings given
    assert right.children[0].value == "2-3"
    first = image.value
    assert "pattern" in table.value and is_png(first)
    left.children[0].value = 7  # I: the preview redraws
    assert is_png(image.value) and image.value != first
    left.children[4].value = 2  # |z| shorter than |x|: an error line, not an exception
    assert "invalid: pattern_length" in table.value

    big = widgets.data_explorer(n_instructions=2048, budget=30_000)  # beyond the sliders' usual range
    assert [w.value for w in big.children[0].children[0].children[:2]] == [2048, 30_000]

    run_sweep("browse", [{"n_instructions": 2}, {"n_instructions": 4}], [0], "tiny",
              extra={"max_steps": 3}, progress=False)
    browser = widgets.results_browser(runs_root(), study="browse")
    pick, table, image, run, record = browser.children
    assert isinstance(browser, W.VBox) and pick.options == ("browse",) and pick.value == "browse"
    assert run.value == "I0002-skewuniform-s0" and '"unseen"' in record.value and is_png(image.value)
    run.value = "I0004-skewuniform-s0"
    assert "exact_match" in record.value
    with pytest.raises(ConfigError, match="study: no finished runs"):
        widgets.results_browser(runs_root(), study="nothing-here")

    live = widgets.live_training("tiny", n_instructions=3)
    n, steps, go = live.children[0].children
    assert n.value == 3
    n.value, steps.value = 2, 10
    go.click()
    assert "exact match seen" in live.children[1].value and is_png(live.children[2].value)


def test_a_change_overtaken_by_a_newer_one_is_dropped():
    import ipywidgets as W

    from rewritelib.widgets import Latest

    latest, html = Latest(), W.HTML()
    old, new = latest.take(), latest.take()
    assert latest.show(new, html=(html, "new")) and not latest.show(old, html=(html, "old"))
    assert html.value == "new"


def test_thresholds_per_seed_and_per_group():
    # two no-op shares; share 0.5 crosses 50% one grid point later, and seed 1 later still
    rows = [(f, seed, n, em) for f, ems in {0.1: (0.0, 0.6, 0.95), 0.5: (0.0, 0.2, 0.7)}.items()
            for seed, shift in ((0, 0.0), (1, -0.15)) for n, em in zip((10, 100, 1000), ems)
            for em in [max(em + shift, 0.0)]]
    df = pd.DataFrame(rows, columns=["noop_fraction", "seed", "n_instructions", "exact_match"])
    t = thresholds(df.assign(split="has_op"), split="has_op", by="noop_fraction").set_index(
        ["noop_fraction", "level"])
    assert t.loc[(0.1, 0.5), "first_I_mean"] == 100 and t.loc[(0.5, 0.5), "first_I_mean"] == 1000
    assert t.loc[(0.1, 0.9), "first_I_min_over_seeds"] == 1000
    assert t.loc[(0.1, 0.9), "seeds_reaching"] == 1 and pd.isna(t.loc[(0.5, 0.9), "first_I_mean"])
    never = t.loc[(0.5, 0.9), ["first_I_min_over_seeds", "first_I_max_over_seeds"]]
    assert never.isna().all() and t["first_I_min_over_seeds"].dtype.kind == "f"  # NaN, not None


def test_seeds_passing_counts_seeds_with_a_wilson_interval():
    # 3 of 10 seeds reach 50% at I = 256, none of 3 at 64; Wilson by hand: (p + z^2/2n +-
    # z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.95996
    ems = {64: [0.0, 0.1, 0.2], 256: [0.9, 0.1, 0.5, 0.49, 0.0, 0.93, 0.2, 0.3, 0.1, 0.05]}
    df = pd.DataFrame([{"split": "unseen", "n_instructions": i, "exact_match": e, "seed": s}
                       for i, es in ems.items() for s, e in enumerate(es)])
    t = seeds_passing(df, 0.5)
    assert t.loc[256, ["seeds", "passing"]].tolist() == [10, 3] and t.loc[256, "share"] == 0.3
    z, n, p = 1.959964, 10, 0.3
    mid, half = p + z * z / (2 * n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    assert t.loc[256, "ci_low"] == pytest.approx((mid - half) / (1 + z * z / n), abs=1e-5)
    assert t.loc[256, "ci_high"] == pytest.approx((mid + half) / (1 + z * z / n), abs=1e-5)
    assert t.loc[64, "passing"] == 0 and t.loc[64, "ci_low"] == 0
    assert t.loc[64, "ci_high"] == pytest.approx(z * z / (3 + z * z), abs=1e-5)
    with pytest.raises(ConfigError, match=r"^level: must be in \(0, 1\]"):
        seeds_passing(df, 50)


def test_accuracy_table_reads_mean_sd_and_seeds():
    df = pd.DataFrame({"split": "unseen", "seed": [0, 1, 0], "exact_match": [0.5, 0.7, 0.1],
                       "skew": ["uniform", "uniform", 0.5], "n_instructions": 64})
    t = accuracy_table(df, index="skew", columns="n_instructions")
    assert list(t.index) == ["uniform", "0.5"] and t.loc["uniform", 64] == "0.600 ± 0.141 (2)"  # I stays a number
    md = markdown(t).splitlines()
    assert md[0] == "| skew | 64 |" and md[2] == "| uniform | 0.600 ± 0.141 (2) |"


def test_stored_notebooks_print_no_machine_paths_or_live_addresses():
    """What a reader sees in a stored notebook holds on any machine: runs folders relative to
    the runs root (report()), no temporary folders, no address of a Dask dashboard long gone."""
    import re

    machine = re.compile(r"/(tmp|root|home|work)/|https?://(127\.0\.0\.1|localhost)[:/]")
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        shown = outputs(nb) + json.dumps(nb["metadata"].get("papermill", {}))
        assert not machine.search(shown), (path.name, machine.search(shown).group())
