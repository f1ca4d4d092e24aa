"""Nothing lost, nothing left behind: --overwrite replaces only what rewritelib wrote,
interrupted writes leave no temporary folder, a diverging loss writes no result, every
JSON is strict, and data read back is checked against its rules."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rewritelib import run as run_module
from rewritelib.cli import main
from rewritelib.config import ConfigError, DataConfig
from rewritelib.dataset import build_dataset, write_dataset
from rewritelib.examples import read_data_dir
from rewritelib.folders import RUN_MARKER

SMALL = ["--n-instructions", "20", "--budget", "500", "--test-instructions", "10",
         "--test-examples", "100", "--seen-examples", "50", "--input-length", "16",
         "--pattern-length", "3-5", "--alphabet", "abcdefg"]
TRAIN = ["--model", "scratch", "--preset", "tiny", "--max-steps", "5", "--no-progress"]


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


# --- --overwrite replaces only what the project wrote -------------------------------------

def test_train_overwrite_refuses_the_folder_that_holds_the_data(tmp_path, capsys, monkeypatch):
    """The reported accident: --out . (or a parent of --data) with --overwrite deleted the data."""
    proj = tmp_path / "proj"
    assert main(["data", "--out", str(proj / "data"), *SMALL]) == 0
    before = tree(tmp_path)
    monkeypatch.chdir(proj)
    for out in (".", str(proj), str(proj / "data")):
        assert main(["train", "--data", str(proj / "data"), "--out", out, "--overwrite", *TRAIN]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "out:" in err
    assert tree(tmp_path) == before


def test_overwrite_refuses_foreign_folders_and_kinds(tmp_path, capsys, tiny_data_dir):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert main(["data", "--out", str(tmp_path / "d"), *SMALL]) == 0
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(tmp_path / "r"), *TRAIN]) == 0
    before = tree(tmp_path)
    cases = [["data", "--out", str(mine), *SMALL],                     # foreign files
             ["data", "--out", str(tmp_path / "r"), *SMALL],           # a run folder
             ["train", "--data", str(tiny_data_dir), "--out", str(tmp_path / "d"), *TRAIN],
             ["train", "--data", str(tiny_data_dir), "--out", str(mine), *TRAIN]]
    for argv in cases:
        assert main(argv + ["--overwrite"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "nothing was deleted" in err
    (tmp_path / "r" / "extra.txt").write_text("a file rewritelib did not write")
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(tmp_path / "r"), *TRAIN,
                 "--overwrite"]) == 2
    assert "extra.txt" in capsys.readouterr().err
    (tmp_path / "r" / "extra.txt").unlink()
    assert tree(tmp_path) == before


def test_overwrite_replaces_own_run_and_a_crash_keeps_the_old_one(tmp_path, tiny_data_dir, monkeypatch):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(out), *TRAIN]) == 0
    assert (out / RUN_MARKER).exists()
    old = tree(out)

    def crash(*a, **k):
        raise RuntimeError("power cut")

    monkeypatch.setattr(run_module, "save_weights", crash)
    with pytest.raises(RuntimeError):
        main(["train", "--data", str(tiny_data_dir), "--out", str(out), *TRAIN, "--overwrite",
              "--seed", "1"])
    assert tree(out) == old and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    monkeypatch.undo()
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(out), *TRAIN, "--overwrite",
                 "--seed", "1"]) == 0
    assert json.loads((out / "result.json").read_text())["run_info"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_protected_folders_are_refused(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    assert main(["data", "--out", str(home), *SMALL]) == 0  # even a data folder, if it is home
    monkeypatch.setenv("HOME", str(home))
    before = tree(tmp_path)
    assert main(["data", "--out", str(home), *SMALL, "--overwrite"]) == 2
    assert "home" in capsys.readouterr().err
    assert main(["data", "--out", "/", *SMALL, "--overwrite"]) == 2
    assert tree(tmp_path) == before


# --- interrupted writes leave nothing -----------------------------------------------------

# The writer under test is the real CLI in a child process, held still with its files
# written but not yet swapped in, so a signal always lands mid-write: a writer left to run
# freely can finish before the signal on a fast machine (it did: a flaky test).
# The child stands for a command in a terminal's foreground, where Ctrl-C reaches Python's
# handler. A background job of a non-interactive shell (`make test &`, nohup) starts with SIGINT
# ignored, and the child would inherit that and rightly ignore the test's SIGINT: restore it.
PAUSED_WRITER = """
import contextlib, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import rewritelib.dataset as dataset
from rewritelib.cli import main
real = dataset.replacing

@contextlib.contextmanager
def replacing_then_pause(out):
    with real(out) as tmp:
        yield tmp
        time.sleep(120)

dataset.replacing = replacing_then_pause
sys.exit(main(sys.argv[1:]))
"""


def paused_data_cli(out: Path) -> subprocess.Popen:
    """The data CLI, paused after writing its files into the temporary folder."""
    return subprocess.Popen([sys.executable, "-c", PAUSED_WRITER, "data", "--out", str(out), *SMALL],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_tmp(folder: Path, proc, timeout=60) -> Path:
    end = time.time() + timeout
    while time.time() < end:
        found = [p for p in folder.iterdir() if ".tmp-" in p.name]
        if found and (found[0] / "spec.json").exists():
            return found[0]
        assert proc.poll() is None, f"the writer stopped before it could be interrupted: {proc.stderr.read()}"
        time.sleep(0.01)
    raise AssertionError("no temporary folder appeared")


def test_sigkill_mid_write_then_next_run_leaves_no_temporary_folder(tmp_path):
    out = tmp_path / "d"
    proc = paused_data_cli(out)
    tmp = wait_for_tmp(tmp_path, proc)
    proc.kill()
    proc.wait()
    assert tmp.exists() and not out.exists()  # SIGKILL cannot clean up: the leftover is there
    assert main(["data", "--out", str(out), *SMALL]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"),
                                           (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_clean_up_with_one_line(tmp_path, sig, code, word):
    out = tmp_path / "d"
    proc = paused_data_cli(out)
    wait_for_tmp(tmp_path, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code and err.count("\n") == 1 and word in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_moved_aside_by_a_killed_writer_comes_back(tmp_path):
    out = tmp_path / "d"
    assert main(["data", "--out", str(out), *SMALL]) == 0
    before = tree(out)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    out.rename(tmp_path / f".d.old-{dead}")  # killed between the two renames of a swap
    assert main(["data", "--out", str(out), *SMALL, "--seed", "5"]) == 2  # not empty: refused
    assert tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_writability_is_checked_before_building(tmp_path, capsys, monkeypatch):
    import rewritelib.dataset as dataset

    def must_not_build(cfg):
        raise AssertionError("built before checking --out")

    monkeypatch.setattr(dataset, "build_dataset", must_not_build)
    (tmp_path / "file").write_text("x")
    assert main(["data", "--out", str(tmp_path / "file" / "d"), *SMALL]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["data", "--out", "/proc/rewritelib-test/d", *SMALL]) == 2
    assert "cannot write" in capsys.readouterr().err


# --- no NaN, no inf ---------------------------------------------------------------------

def test_a_diverging_loss_stops_with_one_line_and_no_result(tmp_path, tiny_data_dir, capsys, monkeypatch):
    real = run_module.build_scratch

    def poisoned(*a, **k):
        model = real(*a, **k)
        with torch.no_grad():
            model.transformer.wte.weight.fill_(float("nan"))
        return model

    monkeypatch.setattr(run_module, "build_scratch", poisoned)
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(out), *TRAIN]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nan at step 1" in err
    assert list(tmp_path.iterdir()) == []


def test_every_json_written_is_strict(tmp_path, tiny_data_dir):
    out = tmp_path / "d"
    assert main(["data", "--out", str(out), *SMALL, "--seen-examples", "0"]) == 0
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(tmp_path / "r"), *TRAIN,
                 "--eval-every", "2"]) == 0
    for path in [out / "spec.json", tmp_path / "r" / "result.json", tmp_path / "r" / "evals.jsonl"]:
        for text in path.read_text().splitlines() if path.suffix == ".jsonl" else [path.read_text()]:
            # parse_constant sees NaN / Infinity / -Infinity, which strict JSON readers refuse
            json.loads(text, parse_constant=lambda c: pytest.fail(f"{path.name} holds {c}"))
    assert json.loads((out / "spec.json").read_text())["noop_share"]["seen"] is None


def test_capacity_check_uses_exact_integers():
    cfg = DataConfig(input_length=250, pattern_length=220, budget=1000, n_instructions=10,
                     test_instructions=10, test_examples=10, seen_examples=0)
    assert cfg.pattern_length == (220, 220)
    with pytest.raises(ConfigError, match="n_instructions"):  # exactly 2**2 = 4 strings
        DataConfig(alphabet="ab", pattern_length=2, input_length=4, n_instructions=2,
                   test_instructions=1, budget=10, test_examples=10)


# --- data read back is checked ----------------------------------------------------------

def test_reader_checks_every_example_against_its_rule(tmp_path, tiny_data_dir):
    read_data_dir(tiny_data_dir)  # the project's own data passes
    enc = write_dataset(build_dataset(DataConfig(
        n_instructions=4, budget=200, test_instructions=4, test_examples=40, seen_examples=20,
        input_length=6, pattern_length=2, alphabet="abcd", noop_fraction=0.3, encrypt=True)),
        tmp_path / "enc")
    read_data_dir(enc)  # enciphered targets are checked through the spec's cipher
    lines = (enc / "train.jsonl").read_text().splitlines()
    row = json.loads(lines[7])
    row["output"] = row["input"]  # a plausible mistake: the copy instead of the rewrite
    if row["is_noop"]:
        row["occurrences"] += 1
    (enc / "train.jsonl").write_text("\n".join(lines[:7] + [json.dumps(row)] + lines[8:]) + "\n")
    with pytest.raises(ConfigError, match="train.jsonl line 8"):
        read_data_dir(enc)
    read_data_dir(enc, verify=False)
