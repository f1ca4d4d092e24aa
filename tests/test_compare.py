"""`python -m rewritelib compare A B`: the reproduction check.

Copies of committed records (papermill_runs/diversity) and small synthetic records in
tmp_path; the CLI through a real process for exit status and stderr, the function for the
table's content.
"""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rewritelib.compare import TOLERANCE, compare, summary
from rewritelib.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "papermill_runs" / "diversity"
RUNS = ["I0008-skewuniform-s0", "I0064-skewuniform-s0", "I0512-skewuniform-s1"]


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rewritelib", "compare", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def write(folder: Path, record: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(record))
    return folder / "result.json"


def real(run_id: str) -> dict:
    return json.loads((REAL / run_id / "result.json").read_text())


def synthetic(unseen=0.5, seen=0.9, has_op=0.5, noop=None, **meta) -> dict:
    """A minimal valid record with the newer fields (data digests, lock, CPU)."""
    metrics = {"unseen": unseen, "seen": seen, "has_op": has_op, "noop": noop}
    return {
        "run_info": {"params": {"model": "scratch", "preset": "tiny", "out": "/somewhere",
                                "train": {"max_steps": 5, "seed": 0}},
                     "seed": 0, "command": "test", "start": "", "end": "",
                     "data_spec": {"n_instructions": 8, "seed": 0},
                     "data_sha256": {"train.jsonl": "a" * 64, "test.jsonl": "b" * 64}},
        "train_info": {k: 0 for k in ("steps", "tokens", "tokens_per_s", "loss_curve",
                                      "peak_memory_mb", "trainable_parameters")},
        "metrics": {s: {"exact_match": v, "n": 0 if v is None else 500} for s, v in metrics.items()},
        "meta_info": {"versions": {"python": "3.11.7", "torch": "2.13.0+cpu",
                                   "lock": {"file": "requirements.lock", "sha256": "c" * 64,
                                            "differs": []}},
                      "git_hash": "d" * 40, "git_diff_sha256": None, "device": "cpu",
                      "device_name": "cpu", "torch_threads": 2, "cpu_capability": "AVX2",
                      "cpu_model": "Some CPU", **meta},
    }


@pytest.fixture
def sides(tmp_path):
    """Two runs folders holding the same three committed records, byte for byte."""
    for side in ("a", "b"):
        for run in RUNS:
            write(tmp_path / side / "diversity" / run, real(run))
    return tmp_path / "a", tmp_path / "b"


def perturb(path: Path, split: str, by: float) -> None:
    record = json.loads(path.read_text())
    record["metrics"][split]["exact_match"] += by
    path.write_text(json.dumps(record))


def one_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    return lines[0]


# --- verdicts ---------------------------------------------------------------------------

def test_equal_copies_exit_0_and_say_equal(sides):
    proc = cli(*sides)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == (
        "3 shared run(s): 3 equal to the digit, 0 within the tolerance 0.02 (not equal), "
        "0 outside it; 0 run(s) only in A, 0 only in B")
    rows = [line for line in proc.stdout.splitlines() if line.startswith("diversity ")]
    assert len(rows) == 3 and all(" equal " in r for r in rows)
    df = compare(*sides)
    assert list(df["run"]) == RUNS and (df["verdict"] == "equal").all()
    assert (df["max_diff"] == 0).all() and (df["conditions"] == "").all()
    assert df.loc[2, "unseen_a"] == df.loc[2, "unseen_b"] == real(RUNS[2])["metrics"]["unseen"]["exact_match"]


def test_a_difference_of_0_01_is_within_the_default_tolerance(sides):
    a, b = sides
    perturb(a / "diversity" / RUNS[0] / "result.json", "unseen", 0.01)  # 0 -> 0.01
    proc = cli(a, b)
    assert proc.returncode == 0, proc.stdout
    row = next(line for line in proc.stdout.splitlines() if RUNS[0] in line)
    assert "0.01 | 0" in row and "within" in row
    assert "2 equal to the digit, 1 within the tolerance 0.02" in proc.stdout
    df = compare(a, b).set_index("run")
    assert df.loc[RUNS[0], "verdict"] == "within"
    assert df.loc[RUNS[0], "max_diff"] == pytest.approx(0.01)
    assert df.loc[RUNS[1], "verdict"] == "equal"


def test_a_difference_of_0_05_is_outside_it_and_exits_1(sides):
    a, b = sides
    perturb(b / "diversity" / RUNS[2] / "result.json", "seen", -0.05)
    proc = cli(a, b)
    assert proc.returncode == 1, proc.stdout
    assert "0 within the tolerance 0.02 (not equal), 1 outside it" in proc.stdout
    df = compare(a, b).set_index("run")
    assert df.loc[RUNS[2], "verdict"] == "outside"
    assert df.loc[RUNS[2], "max_diff"] == pytest.approx(0.05)


def test_tolerance_0_asks_for_equality_to_the_digit(sides):
    a, b = sides
    perturb(a / "diversity" / RUNS[1] / "result.json", "has_op", 0.01)
    assert cli(a, b, "--tolerance", "0").returncode == 1
    assert compare(a, b, tolerance=0).set_index("run").loc[RUNS[1], "verdict"] == "outside"
    assert compare(a, b).set_index("run").loc[RUNS[1], "verdict"] == "within"


@pytest.mark.parametrize("b,tolerance,verdict", [
    (0.978, 0.02, "within"),   # 0.998 - 0.978 is 0.020000000000000018 in floats
    (0.976, 0.02, "outside"),
    (0.988, 0.01, "within"),
    (0.997, 0.0, "outside"),
])
def test_the_tolerance_is_inclusive_despite_float_rounding(tmp_path, b, tolerance, verdict):
    write(tmp_path / "a" / "s" / "r", synthetic(seen=0.998))
    write(tmp_path / "b" / "s" / "r", synthetic(seen=b))
    assert compare(tmp_path / "a", tmp_path / "b", tolerance)["verdict"][0] == verdict


def test_a_split_without_examples_matches_only_another_without(tmp_path):
    write(tmp_path / "a" / "s" / "none", synthetic(noop=None))
    write(tmp_path / "b" / "s" / "none", synthetic(noop=None))
    write(tmp_path / "a" / "s" / "one", synthetic(noop=None))
    write(tmp_path / "b" / "s" / "one", synthetic(noop=0.9))
    df = compare(tmp_path / "a", tmp_path / "b").set_index("run")
    assert df.loc["none", "verdict"] == "equal"
    assert df.loc["one", "verdict"] == "outside" and df.loc["one", "max_diff"] == float("inf")


# --- conditions -------------------------------------------------------------------------

def test_conditions_that_differ_are_named(sides):
    a, b = sides
    path = b / "diversity" / RUNS[0] / "result.json"
    record = json.loads(path.read_text())
    record["meta_info"]["torch_threads"] = 8
    record["meta_info"]["versions"]["numpy"] = "9.9.9"
    path.write_text(json.dumps(record))
    df = compare(a, b).set_index("run")
    got = df.loc[RUNS[0], "conditions"]
    assert "torch_threads 2|8" in got and "numpy 2.4.6|9.9.9" in got
    assert "torch " not in got and "git_hash" not in got  # the same in both: not named
    assert df.loc[RUNS[0], "verdict"] == "equal"  # conditions alone are no failure
    assert df.loc[RUNS[1], "conditions"] == ""
    proc = cli(a, b)
    assert proc.returncode == 0 and "torch_threads 2|8" in proc.stdout


NEWER = [  # (field of meta_info, or a function that changes the record; what is named)
    ({"cpu_capability": "AVX512"}, "cpu_capability AVX2|AVX512"),
    ({"cpu_model": "Other CPU"}, "cpu_model Some CPU|Other CPU"),
    ({"device": "cuda:0"}, "device cpu|cuda:0"),
    ({"git_hash": "e" * 40 + "-dirty"}, "git_hash dddddddddddd|eeeeeeeeeeee-dirty"),
    ({"git_diff_sha256": "f" * 64}, "git_diff_sha256 None|ffffffffffff"),
    (lambda r: r["meta_info"]["versions"]["lock"].update(sha256="0" * 64),
     "lock.sha cccccccccccc|000000000000"),
    (lambda r: r["meta_info"]["versions"]["lock"].update(differs=["torch 2.1 (lock 2.13)"]),
     "lock.off-lock none|torch 2.1 (lock 2.13)"),
    (lambda r: r["run_info"]["data_sha256"].update({"test.jsonl": "9" * 64}),
     "data_sha256.test.jsonl bbbbbbbbbbbb|999999999999"),
    (lambda r: r["run_info"]["params"]["train"].update(max_steps=50), "train.max_steps 5|50"),
    (lambda r: r["run_info"]["data_spec"].update(seed=1), "data_spec.seed 0|1"),
]


@pytest.mark.parametrize("change,named", NEWER, ids=[n.split()[0] for _, n in NEWER])
def test_each_recorded_condition_is_named(tmp_path, change, named):
    record = synthetic()
    if callable(change):
        change(record)
    else:
        record["meta_info"].update(change)
    write(tmp_path / "a" / "s" / "r", synthetic())
    write(tmp_path / "b" / "s" / "r", record)
    assert compare(tmp_path / "a", tmp_path / "b")["conditions"][0] == named


def test_fields_an_older_record_lacks_are_listed_apart(tmp_path):
    old = real(RUNS[0])
    new = copy.deepcopy(old)
    new["meta_info"].update(cpu_capability="AVX2", cpu_model="Some CPU", git_diff_sha256=None)
    new["run_info"]["data_sha256"] = {"test.jsonl": "b" * 64}
    write(tmp_path / "a" / "diversity" / RUNS[0], new)
    write(tmp_path / "b" / "diversity" / RUNS[0], old)
    got = compare(tmp_path / "a", tmp_path / "b")["conditions"][0]
    assert got == "recorded in A only: cpu_capability, cpu_model, git_diff_sha256, data_sha256"


# --- which runs ---------------------------------------------------------------------------

def test_runs_on_one_side_only_are_counted(sides):
    a, b = sides
    write(a / "diversity" / "I9999-skewuniform-s0", real(RUNS[0]))
    write(b / "noop" / RUNS[0], real(RUNS[0]))  # the same run id in another study: not shared
    write(b / "diversity" / "I7777-skewuniform-s0", real(RUNS[0]))
    (b / "diversity" / "I5555-skewuniform-s0").mkdir()  # a run without a record: no run
    df = compare(a, b)
    assert len(df) == 3
    assert df.attrs["only_a"] == [("diversity", "I9999-skewuniform-s0")]
    assert df.attrs["only_b"] == [("diversity", "I7777-skewuniform-s0"), ("noop", RUNS[0])]
    assert summary(df).endswith("1 run(s) only in A, 2 only in B")
    proc = cli(a, b)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("1 run(s) only in A, 2 only in B")


def test_a_study_folder_matches_by_run_id_within_its_study(sides):
    a, b = sides
    write(b / "noop" / RUNS[0], synthetic(unseen=1.0))  # another study's run of that id
    df = compare(a / "diversity", b)
    assert list(df["run"]) == RUNS and (df["verdict"] == "equal").all()
    assert df.attrs["only_b"] == []  # B's other studies are not counted
    df = compare(b, a / "diversity")
    assert (df["study"] == "diversity").all() and len(df) == 3
    # two study folders: by run id alone, whatever the studies are called
    df = compare(a / "diversity", b / "noop")
    assert list(df["run"]) == [RUNS[0]] and df["verdict"][0] == "outside"


def test_study_picks_studies(sides):
    a, b = sides
    write(a / "noop" / "r", synthetic())
    write(b / "noop" / "r", synthetic(unseen=0.9))
    assert len(compare(a, b)) == 4
    assert list(compare(a, b, studies=["noop"])["run"]) == ["r"]
    assert set(compare(a, b, studies=["diversity"])["run"]) == set(RUNS)
    with pytest.raises(ConfigError, match="study: 'bogus'"):
        compare(a, b, studies=["bogus"])


# --- bad input: exit 2 and one line --------------------------------------------------

def test_no_shared_runs_is_one_line(tmp_path):
    write(tmp_path / "a" / "diversity" / RUNS[0], real(RUNS[0]))
    write(tmp_path / "b" / "diversity" / RUNS[1], real(RUNS[1]))
    line = one_line(cli(tmp_path / "a", tmp_path / "b"))
    assert "no shared runs" in line and "holds 1 run(s)" in line


def test_a_missing_folder_is_one_line(sides, tmp_path):
    line = one_line(cli(sides[0], tmp_path / "nowhere"))
    assert line.startswith("rewritelib compare: error: B: ") and "nowhere: no such folder" in line


def test_a_damaged_record_is_one_line_naming_it(sides):
    a, b = sides
    path = b / "diversity" / RUNS[1] / "result.json"
    path.write_text(path.read_text()[:200])  # cut short
    line = one_line(cli(a, b))
    assert str(path) in line and "damaged record" in line


@pytest.mark.parametrize("value", [-0.01, 1.5, float("nan"), True, "0.02"])
def test_a_tolerance_outside_0_1_is_refused(sides, value):
    with pytest.raises(ConfigError, match="tolerance"):
        compare(*sides, tolerance=value)


def test_the_help_states_the_tolerance_and_why():
    out = subprocess.run([sys.executable, "-m", "rewritelib", "compare", "--help"],
                         capture_output=True, text=True, cwd=ROOT).stdout
    text = " ".join(out.split())
    assert f"default tolerance, {TOLERANCE} absolute" in text and "thread count" in text
    assert TOLERANCE == 0.02


def test_half_written_and_failed_runs_are_no_runs(sides):
    a, b = sides
    write(a / "diversity" / f".{RUNS[0]}.tmp-123", real(RUNS[0]))  # a sweep writing it
    (a / "diversity" / "I4444-skewuniform-s0").mkdir()
    (a / "diversity" / "I4444-skewuniform-s0" / "failed.json").write_text("{}")
    df = compare(a, b)
    assert len(df) == 3 and df.attrs["only_a"] == [] and df.attrs["only_b"] == []
