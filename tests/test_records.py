"""Records that can be checked, and damaged records that are named, not skipped.

A run records the sha256 of its data files, torch's CPU capability and the CPU's model, the
git commit with a digest of any uncommitted diff, and the digest of the pinned environment
(requirements.lock); a result.json that is cut short, empty or without its fields is one
line naming it: ``collect`` raises it, a sweep moves the record aside and reruns its point."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from rewritelib import cli, executor, records
from rewritelib.config import ConfigError
from rewritelib.records import (DamagedRecord, data_digests, finished, git_diff_sha256, git_hash,
                                lock_state, read_record, validate_result)
from rewritelib.study import collect, run_id

ROOT = Path(__file__).resolve().parents[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_run(tiny_data_dir, tmp_path_factory):
    """A real run, 2 steps at the tiny preset: (its result, its folder)."""
    from rewritelib.run import RunConfig, run

    out = tmp_path_factory.mktemp("records") / "run"
    cfg = RunConfig.from_args(data=str(tiny_data_dir), out=str(out), model="scratch",
                              preset="tiny", max_steps=2)
    return run(cfg, progress=False), out


def test_a_record_names_its_data_cpu_code_and_environment(tiny_run, tiny_data_dir):
    result, out = tiny_run
    assert json.loads((out / "result.json").read_text()) == result
    digests = result["run_info"]["data_sha256"]
    assert digests == {name: sha256(tiny_data_dir / name)
                       for name in ("train.jsonl", "seen.jsonl", "test.jsonl", "spec.json")}
    from rewritelib.config import DataConfig
    from rewritelib.dataset import build_dataset, write_dataset

    rebuilt = write_dataset(build_dataset(DataConfig(**result["run_info"]["data_spec"])),
                            out.parent / "rebuilt")  # what a sweep's record is checked with
    assert data_digests(rebuilt) == digests
    meta = result["meta_info"]
    assert meta["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert meta["cpu_model"] and isinstance(meta["cpu_model"], str)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "model name" in cpuinfo.read_text():
        first = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("model name"))
        assert meta["cpu_model"] == first.partition(":")[2].strip()
    if meta["git_hash"] and meta["git_hash"].endswith("-dirty"):  # this checkout is often dirty
        assert len(meta["git_diff_sha256"]) == 64
    else:
        assert meta["git_diff_sha256"] is None
    lock = meta["versions"]["lock"]
    assert lock["file"] == "requirements.lock" and lock["sha256"] == sha256(ROOT / "requirements.lock")
    assert isinstance(lock["differs"], list)
    validate_result(result)


def test_data_digests_are_streamed_and_name_missing_files(tmp_path):
    (tmp_path / "train.jsonl").write_bytes(b"x" * (3 << 20) + b"tail")  # several 1 MiB chunks
    (tmp_path / "test.jsonl").write_bytes(b"")
    assert records.file_sha256(tmp_path / "train.jsonl", chunk=1000) == sha256(tmp_path / "train.jsonl")
    assert data_digests(tmp_path) == {"train.jsonl": sha256(tmp_path / "train.jsonl"),
                                      "seen.jsonl": None, "test.jsonl": hashlib.sha256(b"").hexdigest(),
                                      "spec.json": None}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


def test_git_hash_and_the_digest_of_a_dirty_diff(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above tmp_path
    assert git_hash(tmp_path) is None and git_diff_sha256(tmp_path) is None  # not in git
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    git(repo, "add", "a.py")
    git(repo, "commit", "-q", "-m", "one")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert git_hash(repo) == head and git_diff_sha256(repo) is None  # clean
    (repo / "new.py").write_text("untracked\n")  # untracked files are not the diff
    assert git_hash(repo) == head and git_diff_sha256(repo) is None
    (repo / "a.py").write_text("x = 2\n")
    assert git_hash(repo) == head + "-dirty"
    first = git_diff_sha256(repo)
    diff = subprocess.run(["git", "diff", "--binary", "HEAD"], cwd=repo, capture_output=True).stdout
    assert first == hashlib.sha256(diff).hexdigest()
    (repo / "a.py").write_text("x = 3\n")
    assert git_diff_sha256(repo) not in (None, first)  # another diff, another digest
    (repo / "a.py").write_text("x = 2\n")
    assert git_diff_sha256(repo) == first  # the same diff, the same digest
    git(repo, "add", "a.py")  # staged changes are uncommitted too
    assert git_hash(repo) == head + "-dirty" and git_diff_sha256(repo) == first


def test_records_a_sweep_writes_leave_the_code_hash_clean(tmp_path, monkeypatch):
    """A sweep adds and redraws files under papermill_runs/ as it goes: they are records,
    not code, so a run after them is not '-dirty', and a dirty diff digests the code alone."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    (repo / "papermill_runs" / "s").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    (repo / "papermill_runs" / "s" / "summary.csv").write_text("a\n1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "papermill_runs" / "s" / "summary.csv").write_text("a\n2\n")  # redrawn by a sweep
    assert git_hash(repo) == head and git_diff_sha256(repo) is None
    assert git_hash(repo / "papermill_runs") == head  # from inside the runs folder too
    (repo / "a.py").write_text("x = 2\n")
    assert git_hash(repo) == head + "-dirty"
    code = subprocess.run(["git", "diff", "--binary", "HEAD", "--", "a.py"], cwd=repo, capture_output=True).stdout
    assert git_diff_sha256(repo) == hashlib.sha256(code).hexdigest()


def test_lock_state_names_installed_packages_off_their_pin(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"# header\ntorch=={torch.__version__.split('+')[0]}\n    # via x\n"
                    "numpy==0.0.1\nno-such-package-here==1.0\n")
    import numpy

    state = lock_state(lock)
    assert state == {"file": "requirements.lock", "sha256": sha256(lock),
                     "differs": [f"numpy {numpy.__version__} (lock 0.0.1)"]}
    assert lock_state(tmp_path / "absent.lock") is None


# --- damaged records -------------------------------------------------------------------------

DAMAGE = {
    "truncated": lambda good: good[:200],
    "empty": lambda good: b"",
    "fieldless": lambda good: b'{"run_info": {}}',
}
MESSAGE = {"truncated": "not JSON", "empty": "empty file", "fieldless": "missing run_info.params"}


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_record_is_one_line_naming_it(kind, tiny_run, tmp_path):
    good = (tiny_run[1] / "result.json").read_bytes()
    for name in ("I0002-s0", "I0004-s0"):
        (tmp_path / "study" / name).mkdir(parents=True)
        (tmp_path / "study" / name / "result.json").write_bytes(good)
    assert len(collect("study", tmp_path)) > 0
    bad = tmp_path / "study" / "I0004-s0" / "result.json"
    bad.write_bytes(DAMAGE[kind](good))
    with pytest.raises(DamagedRecord) as e:
        read_record(bad)
    with pytest.raises(DamagedRecord) as c:  # collect (the summaries) never skips it
        collect("study", tmp_path)
    for err in (e, c):
        message = str(err.value)
        assert "\n" not in message and message.startswith(f"{bad}: damaged record (")
        assert MESSAGE[kind] in message


def test_other_damage_is_one_line_too(tmp_path):
    path = tmp_path / "result.json"
    for text, why in [("[]", "must be a JSON object"), ('{"run_info": 5}', "must be an object"),
                      ("\x00\xff", "not JSON"), ("   \n", "empty file")]:
        path.write_text(text)
        with pytest.raises(DamagedRecord, match=f"^{path}: damaged record .*{why}"):
            read_record(path)
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(DamagedRecord, match="not UTF-8"):
        read_record(path)


def test_finished_moves_a_damaged_record_aside(tiny_run, tmp_path, capsys):
    run_dir = tmp_path / "study" / "I0002-s0"
    assert not finished(run_dir)  # no folder, no record
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_bytes((tiny_run[1] / "result.json").read_bytes())
    assert finished(run_dir) and capsys.readouterr().err == ""
    (run_dir / "result.json").write_text("")
    assert not finished(run_dir) and not (run_dir / "result.json").exists()
    (aside,) = (tmp_path / "study").glob("I0002-s0.result.damaged-*.json")
    assert aside.read_text() == ""  # kept, as it was
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(run_dir / "result.json") in err[0] and str(aside) in err[0]
    (run_dir / "result.json").write_text("{")  # a second one in the same second: both kept
    assert not finished(run_dir)
    assert len(list((tmp_path / "study").glob("I0002-s0.result.damaged-*.json"))) == 2


def test_execute_run_does_not_skip_a_damaged_record(tmp_path, monkeypatch):
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: calls.append(a))
    run_dir = tmp_path / "I0002-s0"
    run_dir.mkdir()
    (run_dir / "result.json").write_text('{"run_info": {}}')
    assert executor.execute_run(tmp_path / "nb.ipynb", run_dir, {})["status"] == "done"
    assert len(calls) == 1 and list(tmp_path.glob("I0002-s0.result.damaged-*.json"))


def test_a_sweep_reruns_damaged_records_and_keeps_them(tiny_run, tmp_path, monkeypatch, capsys):
    """`rewritelib sweep` over three done points whose records are cut short, empty and
    field-less: one line for each, each rerun, each damaged record kept; exit 0."""
    from rewritelib.experiments import get

    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))
    good = (tiny_run[1] / "result.json").read_bytes()
    points = get("E1").points("tiny", n_instructions=[2, 8, 32])
    dirs = {kind: tmp_path / "diversity-tiny" / run_id(point, 0) for kind, point in zip(DAMAGE, points)}
    for kind, run_dir in dirs.items():
        run_dir.mkdir(parents=True)
        (run_dir / ".rewritelib-run").touch()
        (run_dir / "result.json").write_bytes(DAMAGE[kind](good))
    argv = ["sweep", "E1", "--preset", "tiny", "--seeds", "0", "--grid", "n_instructions=2,8,32",
            "--max-steps", "2", "--scheduler", "serial", "--no-progress"]
    assert cli.main(argv) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "damaged" in line]
    assert len(err) == 3, err
    for kind, run_dir in dirs.items():
        (line,) = [line for line in err if str(run_dir / "result.json") in line]
        assert MESSAGE[kind] in line and "rerunning" in line
        (aside,) = run_dir.parent.glob(f"{run_dir.name}.result.damaged-*.json")
        assert aside.read_bytes() == DAMAGE[kind](good)  # kept as it was
        validate_result(read_record(run_dir / "result.json"))  # the rerun's record
    assert len(collect("diversity-tiny")) > 0
    assert cli.main(argv) == 0  # now done: skipped, nothing damaged
    assert "damaged" not in capsys.readouterr().err


def test_train_one_reuses_only_a_run_of_the_same_settings(tmp_path, monkeypatch):
    """A notebook run again (nbval, a fresh clone) reads the run its run_dir holds instead
    of training it again, but only a run of the very same data and recipe; with weights=True
    (the before/after demo loads the model) a record without its weights trains anew."""
    from rewritelib.study import train_one

    run_dir = tmp_path / "run"
    first = train_one("tiny", 4, run_dir=run_dir, train_overrides={"max_steps": 2}, progress=False)
    stamp = (run_dir / "result.json").stat().st_mtime_ns
    again = train_one("tiny", 4, run_dir=run_dir, train_overrides={"max_steps": 2}, progress=False,
                      reuse=True)
    assert again == first and (run_dir / "result.json").stat().st_mtime_ns == stamp
    other = train_one("tiny", 4, run_dir=run_dir, train_overrides={"max_steps": 3}, progress=False,
                      reuse=True)
    assert other["train_info"]["steps"] == 3
    shutil.rmtree(run_dir / "model")  # a committed record: git keeps no weights
    stamp = (run_dir / "result.json").stat().st_mtime_ns
    assert train_one("tiny", 4, run_dir=run_dir, train_overrides={"max_steps": 3}, progress=False,
                     reuse=True) == other  # the record alone is enough to show it
    assert (run_dir / "result.json").stat().st_mtime_ns == stamp
    monkeypatch.setenv("REWRITELIB_RECORDS_ONLY", "1")
    with pytest.raises(ConfigError, match="REWRITELIB_RECORDS_ONLY: .* has no record of 1 run"):
        train_one("tiny", 4, run_dir=run_dir, train_overrides={"max_steps": 3}, progress=False,
                  reuse=True, weights=True)
    monkeypatch.delenv("REWRITELIB_RECORDS_ONLY")
    train_one("tiny", 4, run_dir=run_dir, train_overrides={"max_steps": 3}, progress=False,
              reuse=True, weights=True)
    assert (run_dir / "result.json").stat().st_mtime_ns != stamp and (run_dir / "model").is_dir()


def test_a_committed_sweep_run_is_read_not_trained(tmp_path, monkeypatch):
    """Notebook 02 stored at cpu points at a committed E1 run made by a sweep (another
    command line, fields added since): its settings agree, so it is read; another seed is
    not that run, and with records only it is one line, not an hour of training."""
    from rewritelib.study import train_one

    committed = Path(__file__).resolve().parents[1] / "papermill_runs" / "diversity" / "I1024-skewuniform-s0"
    run_dir = tmp_path / "diversity" / committed.name
    shutil.copytree(committed, run_dir)
    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))
    monkeypatch.setenv("REWRITELIB_RECORDS_ONLY", "1")
    record = train_one("cpu", 1024, 0, run_dir=f"diversity/{committed.name}", progress=False, reuse=True)
    assert record == json.loads((committed / "result.json").read_text())
    with pytest.raises(ConfigError) as e:
        train_one("cpu", 1024, 1, run_dir=f"diversity/{committed.name}", progress=False, reuse=True)
    assert len(str(e.value).splitlines()) == 1 and "diversity has no record of 1 run(s)" in str(e.value)


def test_records_only_sweep_refuses_before_any_run(tmp_path, monkeypatch):
    from rewritelib.experiments import run

    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))
    monkeypatch.setenv("REWRITELIB_RECORDS_ONLY", "1")
    with pytest.raises(ConfigError, match=r"diversity-tiny has no record of 2 run\(s\)"):
        run("E1", "tiny", [0], {"n_instructions": [2, 8]}, progress=False, scheduler="serial")
    assert not any(tmp_path.rglob("result.json")) and not any(tmp_path.rglob("run.ipynb"))
