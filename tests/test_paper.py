"""The paper's numbers as data, the table "paper | ours" from the committed records, the
README's copy of it, and the stored chapters being the cpu study."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from rewritelib import paper

ROOT = Path(__file__).resolve().parents[1]


def test_readme_holds_exactly_the_generated_table():
    held = paper.readme_table((ROOT / "README.md").read_text())
    assert held is not None, "README.md lost its paper-vs-ours markers"
    assert held == paper.markdown(), "README's table is stale: python -m rewritelib.paper --write README.md"


def test_every_claim_names_its_source_and_reads_the_records():
    table = paper.paper_vs_ours()
    assert set(table["experiment"]) == {"E1", "E2", "E3", "E4", "E5", "E6", "E7"}
    assert table["source"].str.len().gt(20).all()
    assert not table["ours"].str.contains("not run").any()
    e1 = table.loc[table["what"] == "threshold (unseen passes 50%)", "ours"].item()
    fitted = pd.read_csv(ROOT / "papermill_runs" / "diversity" / "thresholds.csv").iloc[0]
    assert e1.startswith(f"I = {fitted['I_estimate']:,.0f} ({fitted['I_ci_low']:,.0f}-{fitted['I_ci_high']:,.0f})")


def test_ours_follows_the_records(tmp_path):
    """Change a record's table and the generated table changes with it; a study that is
    not there says "not run" instead of a number."""
    import shutil

    shutil.copytree(ROOT / "papermill_runs" / "diversity", tmp_path / "diversity")
    summary = pd.read_csv(tmp_path / "diversity" / "summary.csv")
    at = (summary["n_instructions"] == 256) & (summary["split"] == "unseen")
    summary.loc[at, "exact_match"] = 0.5
    summary.to_csv(tmp_path / "diversity" / "summary.csv", index=False)
    table = paper.paper_vs_ours(tmp_path).set_index(["experiment", "what"])["ours"]
    assert "I = 256: 0.50 ± 0.00 (3 seeds)" in table["E1", "few instructions"]
    assert table["E3", "skew far past the threshold"] == "I = 5,120: " + ", ".join(
        f"a = {a}: not run" for a in ("uniform", 0.1, 0.03))


def test_check_and_write_the_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{paper.BEGIN}\n| old |\n{paper.END}\nrest\n")
    cmd = [sys.executable, "-m", "rewritelib.paper"]
    stale = subprocess.run(cmd + ["--check", str(readme)], capture_output=True, text=True)
    assert stale.returncode == 1 and len(stale.stderr.splitlines()) == 1
    assert subprocess.run(cmd + ["--write", str(readme)]).returncode == 0
    assert subprocess.run(cmd + ["--check", str(readme)]).returncode == 0
    assert readme.read_text().endswith(f"{paper.END}\nrest\n")
    readme.write_text("no markers\n")
    missing = subprocess.run(cmd + ["--check", str(readme)], capture_output=True, text=True)
    assert missing.returncode == 2 and "markers" in missing.stderr


def test_stored_chapters_are_the_cpu_study():
    """Every chapter is stored executed at its defaults, the cpu preset: its outputs name
    the committed studies, never a tiny one, and hold no progress bar or widget state."""
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        if "preset" in "".join(params["source"]):
            assert re.search(r'^preset = "cpu"', "".join(params["source"]), re.M), path.name
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(c["execution_count"] for c in code), f"{path.name} is not stored executed"
        text = json.dumps([c.get("outputs", []) for c in code])
        assert "-tiny" not in text and "it/s]" not in text, path.name
        assert "widgets" not in nb["metadata"] and "papermill" not in nb["metadata"], path.name
        assert not any("execution" in c["metadata"] for c in code), path.name  # no timings


def test_seeds_past_counts_the_seeds_that_generalize():
    # 2 of 3 at 50%: Wilson's 95% interval is 0.21-0.94 (by hand: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n))
    assert paper.seeds_past(pd.Series([0.9, 0.1, 0.5])) == "2 of 3 seeds past 50% (0.21-0.94, 95% Wilson)"
    assert paper.seeds_past(pd.Series([0.9, 0.1, 0.5]), 0.9) == "1 of 3 seeds past 90% (0.06-0.79, 95% Wilson)"
    assert paper.seeds_past(None) == "not run"
