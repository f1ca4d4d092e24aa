"""The data CLI: files as promised, byte-identical with a seed, clean one-line errors."""

import hashlib
import json
import subprocess
import sys

import pytest

from rewritelib import dataset
from rewritelib.cli import main
from rewritelib.config import DataConfig
from rewritelib.dataset import FIELDS, build_dataset, read_jsonl

SMALL = ["--n-instructions", "20", "--budget", "500", "--test-instructions", "10",
         "--test-examples", "100", "--seen-examples", "50", "--input-length", "16",
         "--pattern-length", "3-5", "--alphabet", "abcdefg", "--noop-fraction", "0.4"]


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_writes_the_contract(tmp_path):
    assert main(["data", "--out", str(tmp_path / "d"), *SMALL]) == 0
    out = tmp_path / "d"
    assert sorted(p.name for p in out.iterdir()) == ["seen.jsonl", "spec.json", "test.jsonl", "train.jsonl"]
    train, test = read_jsonl(out / "train.jsonl"), read_jsonl(out / "test.jsonl")
    assert len(train) == 500 and len(test) == 100
    assert list(train[0]) == list(FIELDS)
    spec = json.loads((out / "spec.json").read_text())
    assert spec["params"]["budget"] == 500 and spec["version"]
    assert sum(spec["train_counts"]) == 500 and len(spec["train_counts"]) == 20
    # the spec's parameters rebuild the very same data
    again = build_dataset(DataConfig(**spec["params"]))
    assert [r["input"] for r in train] == again.splits["train"].input


def test_the_same_parameters_give_the_bytes_they_always_gave(tmp_path):
    """Pinned digests: the committed records were trained on data these parameters rebuild,
    so a change to the generator that alters existing data sets must show up here."""
    assert main(["data", "--out", str(tmp_path / "d"), *SMALL]) == 0
    got = {name: d[:16] for name, d in digest(tmp_path / "d").items() if name != "spec.json"}
    assert got == {"seen.jsonl": "aacb0696f231965c", "test.jsonl": "44f7e52287b37fe9",
                   "train.jsonl": "60a783ed6db65804"}


def test_noops_on_top_add_no_ops_beside_the_budget(tmp_path):
    assert main(["data", "--out", str(tmp_path / "d"), *SMALL, "--noops-on-top"]) == 0
    train = read_jsonl(tmp_path / "d" / "train.jsonl")
    spec = json.loads((tmp_path / "d" / "spec.json").read_text())
    assert sum(not r["is_noop"] for r in train) == 500 and len(train) == 500 + round(500 * 0.4 / 0.6)
    assert spec["params"]["noops_on_top"] is True and sum(spec["train_counts"]) == len(train)


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        assert main(["data", "--out", str(tmp_path / name), *SMALL, "--seed", "7", "--encrypt"]) == 0
    assert main(["data", "--out", str(tmp_path / "c"), *SMALL, "--seed", "8", "--encrypt"]) == 0
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["train.jsonl"] != digest(tmp_path / "c")["train.jsonl"]


BAD = [
    (["--input-length", "0"], "input_length"),
    (["--pattern-length", "0"], "pattern_length"),
    (["--pattern-length", "-3"], "pattern_length"),
    (["--pattern-length", "20"], "pattern_length"),           # longer than the input
    (["--replacement-length", "5-2"], "replacement_length"),
    (["--n-instructions", "500", "--pattern-length", "2", "--alphabet", "abc"], "n_instructions"),
    (["--budget", "10"], "budget"),                            # fewer examples than rules
    (["--budget", "many"], "budget"),
    (["--noop-fraction", "1.5"], "noop_fraction"),
    (["--noop-fraction", "-0.1"], "noop_fraction"),
    (["--skew", "0"], "skew"),
    (["--skew", "-1"], "skew"),
    (["--skew", "steep"], "skew"),
    (["--family", "spiral"], "family"),
    (["--family", "periodic", "--family-k", "9"], "family_k"),
    (["--alphabet", "a"], "alphabet"),
    (["--alphabet", "aab"], "alphabet"),
    (["--alphabet", "ab c"], "alphabet"),
    (["--occurrences", "0"], "occurrences"),
    (["--occurrences", "9"], "occurrences"),                   # 9 copies of 3-5 letters > 16
    (["--test-examples", "5"], "test_examples"),
    (["--seed", "-1"], "seed"),
]


@pytest.mark.parametrize("extra,param", BAD, ids=[p for _, p in BAD])
def test_bad_input_one_line_nothing_written(tmp_path, capsys, extra, param):
    out = tmp_path / "d"
    assert main(["data", "--out", str(out), *SMALL, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and param in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_out_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["data", "--out", str(out), *SMALL]) == 0
    before = digest(out)
    assert main(["data", "--out", str(out), *SMALL, "--seed", "3"]) == 2
    assert "--overwrite" in capsys.readouterr().err and digest(out) == before
    assert main(["data", "--out", str(out), *SMALL, "--seed", "3", "--overwrite"]) == 0
    assert digest(out) != before and sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "d"
    real = dataset._write_jsonl

    def dies_on_test(path, split):
        if path.name == "test.jsonl":
            raise KeyboardInterrupt
        real(path, split)

    monkeypatch.setattr(dataset, "_write_jsonl", dies_on_test)
    assert main(["data", "--out", str(out), *SMALL]) == 130  # Ctrl-C: one line, no traceback
    assert list(tmp_path.iterdir()) == []


def test_unknown_option_is_one_line():
    r = subprocess.run([sys.executable, "-m", "rewritelib", "data", "--out", "x", "--bogus", "1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--bogus" in r.stderr


def test_subprocess_error_has_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rewritelib", "data", "--out", str(tmp_path / "d"),
                        "--pattern-length", "60"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "pattern_length" in r.stderr and "Traceback" not in r.stderr
