"""Every bad input, one table: both CLIs and the notebooks' parameters.

Each case must end with exit status 2 (a ConfigError for the notebooks' functions), exactly
one line on stderr that names the parameter, and not one file created, changed or deleted.
The CLI cases run in-process (``main`` is what ``python -m rewritelib`` calls; test_cli.py
checks the real process for exit status and tracebacks), so 200 cases take seconds.
"""

import json
from pathlib import Path

import pytest

from rewritelib.cli import main
from rewritelib.config import ConfigError

DATA_BASE = ["--n-instructions", "20", "--budget", "500", "--test-instructions", "10",
             "--test-examples", "100", "--seen-examples", "50", "--input-length", "16",
             "--pattern-length", "3-5", "--alphabet", "abcdefg"]
TRAIN_BASE = ["--model", "scratch", "--preset", "tiny", "--max-steps", "5", "--no-progress"]
BIG = str(10**13)

# (flag, bad value, the parameter the one line must name)
DATA_VALUES = [
    ("--n-instructions", "0", "n_instructions"), ("--n-instructions", "-1", "n_instructions"),
    ("--n-instructions", "x", "n_instructions"), ("--n-instructions", "1.5", "n_instructions"),
    ("--n-instructions", "inf", "n_instructions"), ("--n-instructions", "nan", "n_instructions"),
    ("--n-instructions", str(10**12), "budget"),
    ("--budget", "0", "budget"), ("--budget", "-5", "budget"), ("--budget", "x", "budget"),
    ("--budget", "2.5", "budget"), ("--budget", "inf", "budget"), ("--budget", "nan", "budget"),
    ("--budget", "1e400", "budget"), ("--budget", BIG, "budget"), ("--budget", "10", "budget"),
    ("--noop-fraction", "-0.1", "noop_fraction"), ("--noop-fraction", "1.5", "noop_fraction"),
    ("--noop-fraction", "x", "noop_fraction"), ("--noop-fraction", "nan", "noop_fraction"),
    ("--noop-fraction", "inf", "noop_fraction"),
    ("--skew", "0", "skew"), ("--skew", "-1", "skew"), ("--skew", "steep", "skew"),
    ("--skew", "nan", "skew"), ("--skew", "inf", "skew"),
    ("--input-length", "0", "input_length"), ("--input-length", "-1", "input_length"),
    ("--input-length", "x", "input_length"), ("--input-length", "inf", "input_length"),
    ("--input-length", str(10**9), "input_length"), ("--input-length", "2", "pattern_length"),
    ("--pattern-length", "0", "pattern_length"), ("--pattern-length", "-3", "pattern_length"),
    ("--pattern-length", "x", "pattern_length"), ("--pattern-length", "5-2", "pattern_length"),
    ("--pattern-length", "17", "pattern_length"),
    ("--pattern-length", "1-1000000000", "pattern_length"),
    ("--replacement-length", "-1", "replacement_length"),
    ("--replacement-length", "5-2", "replacement_length"),
    ("--replacement-length", "x", "replacement_length"),
    ("--alphabet", "a", "alphabet"), ("--alphabet", "aab", "alphabet"),
    ("--alphabet", "ab c", "alphabet"), ("--alphabet", "ab-c", "alphabet"),
    ("--alphabet", "abcé", "alphabet"), ("--alphabet", "", "alphabet"),
    ("--occurrences", "0", "occurrences"), ("--occurrences", "9", "occurrences"),
    ("--occurrences", "x", "occurrences"), ("--occurrences", "-1", "occurrences"),
    ("--occurrences", "1,99", "occurrences"),
    ("--test-instructions", "0", "test_instructions"),
    ("--test-instructions", "-1", "test_instructions"),
    ("--test-instructions", "x", "test_instructions"),
    ("--test-examples", "5", "test_examples"), ("--test-examples", "0", "test_examples"),
    ("--test-examples", "x", "test_examples"), ("--test-examples", BIG, "test_examples"),
    ("--test-noop-fraction", "2", "test_noop_fraction"),
    ("--test-noop-fraction", "-1", "test_noop_fraction"),
    ("--test-noop-fraction", "nan", "test_noop_fraction"),
    ("--test-occurrences", "0", "test_occurrences"), ("--test-occurrences", "99", "test_occurrences"),
    ("--seen-examples", "-1", "seen_examples"), ("--seen-examples", "x", "seen_examples"),
    ("--seen-examples", BIG, "seen_examples"),
    ("--family", "spiral", "family"), ("--family", "", "family"),
    ("--family-k", "5", "family_k"), ("--test-family-k", "2", "test_family_k"),
    ("--seed", "-1", "seed"), ("--seed", "x", "seed"), ("--seed", str(2**64), "seed"),
    ("--seed", "inf", "seed"),
]
DATA_OTHER = [  # (id, extra argv, parameter)
    ("family-k-too-long", ["--family", "periodic", "--family-k", "9"], "family_k"),
    ("family-k-zero", ["--family", "periodic", "--family-k", "0"], "family_k"),
    ("family-k-text", ["--family", "mirrored", "--family-k", "x"], "family_k"),
    ("capacity", ["--n-instructions", "500", "--pattern-length", "2", "--alphabet", "abc",
                  "--budget", "1000"], "n_instructions"),
    # 6 letters in runs of 3-6 make 1,976 repeated patterns: a sweep must stop before its runs
    ("family-capacity", ["--n-instructions", "2000", "--budget", "4000", "--family", "repeated",
                         "--input-length", "16", "--pattern-length", "6", "--family-k", "3-6",
                         "--test-family-k", "1-2"], "n_instructions"),
    ("unknown-option", ["--bogus", "1"], "--bogus"),
    ("missing-value", ["--budget"], "--budget"),
    ("noops-on-top-without-noops", ["--noops-on-top"], "noop_fraction"),
    ("noops-on-top-all-noops", ["--noops-on-top", "--noop-fraction", "1"], "noop_fraction"),
    # 10^7 has-op examples at a 99.9999% share add 10^13 no-ops: the memory check counts them
    ("noops-on-top-huge", ["--noops-on-top", "--noop-fraction", "0.999999", "--budget", "10000000"], "budget"),
]

TRAIN_VALUES = [
    ("--model", "giant", "model"), ("--preset", "huge", "preset"),
    ("--max-steps", "0", "max_steps"), ("--max-steps", "-1", "max_steps"),
    ("--max-steps", "x", "--max-steps"), ("--max-steps", "1.5", "--max-steps"),
    ("--max-steps", BIG, "max_steps"),
    ("--epochs", "0", "epochs"), ("--epochs", "-1", "epochs"), ("--epochs", "inf", "epochs"),
    ("--epochs", "nan", "epochs"), ("--epochs", "x", "--epochs"), ("--epochs", "1e7", "epochs"),
    ("--lr", "0", "lr"), ("--lr", "1", "lr"), ("--lr", "-1", "lr"), ("--lr", "inf", "lr"),
    ("--lr", "nan", "lr"), ("--lr", "x", "--lr"),
    ("--batch-size", "0", "batch_size"), ("--batch-size", "-4", "batch_size"),
    ("--batch-size", "x", "--batch-size"), ("--batch-size", str(10**9), "batch_size"),
    ("--grad-accum", "0", "grad_accum"), ("--grad-accum", "-1", "grad_accum"),
    ("--warmup", "1", "warmup"), ("--warmup", "-0.1", "warmup"), ("--warmup", "nan", "warmup"),
    ("--warmup", "inf", "warmup"),
    ("--weight-decay", "-1", "weight_decay"), ("--weight-decay", "inf", "weight_decay"),
    ("--weight-decay", "nan", "weight_decay"),
    ("--clip", "0", "clip"), ("--clip", "-1", "clip"), ("--clip", "inf", "clip"),
    ("--clip", "nan", "clip"),
    ("--seed", "-1", "seed"), ("--seed", "x", "--seed"),
    ("--eval-every", "-1", "eval_every"), ("--eval-every", "x", "--eval-every"),
    ("--target-accuracy", "0", "target_accuracy"), ("--target-accuracy", "2", "target_accuracy"),
    ("--target-accuracy", "nan", "target_accuracy"), ("--target-accuracy", "0.9", "target_accuracy"),
    ("--log-every", "0", "log_every"),
    ("--eval-examples", "0", "eval_examples"), ("--eval-batch-size", "0", "eval_batch_size"),
    ("--lora-rank", "8", "lora_rank"), ("--lora-alpha", "8", "lora_alpha"),
    ("--lora-dropout", "0.1", "lora_dropout"), ("--lora-targets", "q_proj", "lora_targets"),
    ("--model-name", "x", "model_name"), ("--presentation", "spaced", "presentation"),
    ("--device", "tpu", "device"), ("--compile", None, "compile"),
]
PRETRAINED = ["--model", "pretrained"]
TRAIN_OTHER = [
    ("epochs-and-steps", ["--epochs", "2"], "epochs"),
    ("pretrained-preset", PRETRAINED + ["--preset", "small"], "preset"),
    ("lora-rank-0", PRETRAINED + ["--lora-rank", "0"], "lora_rank"),
    ("lora-rank-neg", PRETRAINED + ["--lora-rank", "-8"], "lora_rank"),
    ("lora-rank-wide", PRETRAINED + ["--lora-rank", "577"], "lora_rank"),  # SmolLM2 is 576 wide
    ("lora-alpha-0", PRETRAINED + ["--lora-alpha", "0"], "lora_alpha"),
    ("lora-dropout-1", PRETRAINED + ["--lora-dropout", "1"], "lora_dropout"),
    ("lora-dropout-neg", PRETRAINED + ["--lora-dropout", "-0.1"], "lora_dropout"),
    ("lora-dropout-nan", PRETRAINED + ["--lora-dropout", "nan"], "lora_dropout"),
    ("presentation", PRETRAINED + ["--presentation", "morse"], "presentation"),
    ("model-name-folder", PRETRAINED + ["--model-name", "./no/such/model"], "model_name"),
]


# --- data folders with one thing wrong ---------------------------------------------------

def _edit_line(folder, name, fn, line=2):
    path = folder / name
    lines = path.read_bytes().splitlines()
    lines[line] = fn(lines[line])
    path.write_bytes(b"\n".join(lines) + b"\n")


def _json_edit(**change):
    def fn(raw):
        row = json.loads(raw)
        for k, v in change.items():
            row[k] = v(row) if callable(v) else v
        if change.get("del"):
            del row[change["del"]]
            row.pop("del")
        return json.dumps(row).encode()
    return fn


BROKEN_DATA = {  # name: (how to break a copy of good data, the parameter named)
    "not-json": (lambda d: _edit_line(d, "train.jsonl", lambda r: r[:-5]), "data"),
    "not-object": (lambda d: _edit_line(d, "train.jsonl", lambda r: b"[1, 2]"), "data"),
    "missing-field": (lambda d: _edit_line(d, "train.jsonl", _json_edit(**{"del": "output"})), "data"),
    "wrong-type": (lambda d: _edit_line(d, "train.jsonl", _json_edit(occurrences="one")), "data"),
    "bool-for-int": (lambda d: _edit_line(d, "test.jsonl", _json_edit(rule_id=True)), "data"),
    "bad-utf8": (lambda d: _edit_line(d, "train.jsonl", lambda r: r[:20] + b"\xff\xfe" + r[20:]), "data"),
    "wrong-output": (lambda d: _edit_line(d, "train.jsonl",
                                          _json_edit(output=lambda r: r["output"] + "a")), "data"),
    "wrong-is-noop": (lambda d: _edit_line(d, "train.jsonl",
                                           _json_edit(is_noop=lambda r: not r["is_noop"])), "data"),
    "wrong-occurrences": (lambda d: _edit_line(d, "seen.jsonl",
                                               _json_edit(occurrences=lambda r: r["occurrences"] + 1)), "data"),
    "empty-pattern": (lambda d: _edit_line(d, "train.jsonl", _json_edit(pattern="")), "data"),
    "non-alnum-letters": (lambda d: _edit_line(d, "train.jsonl", _json_edit(
        input=lambda r: "-" * len(r["input"]), output=lambda r: "-" * len(r["input"]),
        occurrences=0, is_noop=True)), "data"),
    "empty-train": (lambda d: (d / "train.jsonl").write_text(""), "data"),
    "no-test-file": (lambda d: (d / "test.jsonl").unlink(), "data"),
    "bad-spec": (lambda d: (d / "spec.json").write_text("{not json"), "data"),
    "bad-cipher": (lambda d: (d / "spec.json").write_text(json.dumps(
        {"cipher": "zz", "params": {"alphabet": "abcd"}})), "data"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_data_dir):
    """Good data, broken copies of it, and a file: read-only inputs shared by all cases."""
    root = tmp_path_factory.mktemp("inputs")
    for name, (breaks, _) in BROKEN_DATA.items():
        d = root / name
        d.mkdir()
        for f in tiny_data_dir.iterdir():
            (d / f.name).write_bytes(f.read_bytes())
        breaks(d)
    (root / "a-file").write_text("not a folder")
    return {"root": root, "good": tiny_data_dir}


def tree(*roots) -> dict:
    return {str(p): (p.read_bytes() if p.is_file() else None)
            for root in roots for p in sorted(Path(root).rglob("*"))}


def run_cli(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    return code, capsys.readouterr().err


# --- out folders: (id, setup(tmp) -> out path, overwrite?, parameter) --------------------

def _foreign(tmp):
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("keep")
    return tmp / "mine"


def _file(tmp):
    (tmp / "f").write_text("x")
    return tmp / "f"


def _under_file(tmp):
    return _file(tmp) / "out"


def _own_data(tmp):
    assert main(["data", "--out", str(tmp / "d"), *DATA_BASE]) == 0
    return tmp / "d"


OUTS = [
    ("foreign-overwrite", _foreign, True), ("foreign", _foreign, False),
    ("a-file", _file, False), ("under-a-file", _under_file, False),
    ("read-only-fs", lambda tmp: Path("/proc/rewritelib/out"), False),
    ("cwd", lambda tmp: Path("."), True), ("cwd-parent", lambda tmp: Path(".."), True),
    ("root", lambda tmp: Path("/"), True),
]


SWEEP = [  # python -m rewritelib sweep ...
    (["E9"], "experiment"), (["E1", "--preset", "huge"], "preset"),
    (["E1", "--grid", "bogus=1"], "grid"), (["E1", "--grid", "n_instructions"], "grid"),
    (["E1", "--grid", "n_instructions=0"], "n_instructions"),
    (["E1", "--grid", "n_instructions=x"], "n_instructions"),
    (["E1", "--seeds", "-1"], "seed"), (["E1", "--seeds", "x"], "--seeds"),
    (["E1", "--max-steps", "0"], "max_steps"), (["E4", "--grid", "family=spiral"], "family"),
    (["E5", "--grid", "occurrences=99"], "occurrences"),
    (["E2", "--grid", "noop_fraction=2"], "noop_fraction"),
    (["E3", "--grid", "skew=-1"], "skew"), (["E2", "--preset", "cpu", "--grid", "noop_fraction="], "grid"),
]


def cases():
    out = []
    for extra, param in SWEEP:
        out.append(pytest.param("sweep", extra, param, id="sweep-" + "-".join(extra)[:30]))
    for flag, value, param in DATA_VALUES:
        out.append(pytest.param("data", [flag, value], param, id=f"data{flag}={value[:12]}"))
    for name, extra, param in DATA_OTHER:
        out.append(pytest.param("data", extra, param, id=f"data-{name}"))
    for flag, value, param in TRAIN_VALUES:
        extra = [flag] if value is None else [flag, value]
        out.append(pytest.param("train", extra, param, id=f"train{flag}={value}"))
    for name, extra, param in TRAIN_OTHER:
        out.append(pytest.param("train", extra, param, id=f"train-{name}"))
    for name, (_, param) in BROKEN_DATA.items():
        out.append(pytest.param("train", ["@data", name], param, id=f"train-data-{name}"))
    out.append(pytest.param("train", ["@data", "no-such-folder"], "data", id="train-data-missing"))
    out.append(pytest.param("train", ["@data", "a-file"], "data", id="train-data-a-file"))
    for kind in ("data", "train"):
        for name, setup, overwrite in OUTS:
            out.append(pytest.param(kind, ["@out", name], "out", id=f"{kind}-out-{name}"))
    out.append(pytest.param("data", ["@out", "run-folder"], "out", id="data-out-run-folder"))
    for name in ("own-data", "data-itself", "data-parent"):
        out.append(pytest.param("train", ["@out", name], "out", id=f"train-out-{name}"))
    return out


CASES = cases()


def build_argv(kind, extra, tmp, inputs):
    data, out, overwrite = str(inputs["good"]), str(tmp / "out"), []
    if extra[:1] == ["@data"]:
        data, extra = str(inputs["root"] / extra[1]), []
    elif extra[:1] == ["@out"]:
        name = extra[1]
        extra = []
        setups = {n: (s, o) for n, s, o in OUTS}
        if name in setups:
            setup, ow = setups[name]
            out, overwrite = str(setup(tmp)), ["--overwrite"] if ow else []
        elif name == "own-data":
            out, overwrite = str(_own_data(tmp)), ["--overwrite"]
        elif name == "run-folder":
            (tmp / "r").mkdir()
            (tmp / "r" / "result.json").write_text("{}")
            out, overwrite = str(tmp / "r"), ["--overwrite"]
        elif name == "data-itself":
            data = str(_own_data(tmp))
            out, overwrite = data, ["--overwrite"]
        elif name == "data-parent":
            (tmp / "proj").mkdir()
            data = str(write_copy(inputs["good"], tmp / "proj" / "data"))
            out, overwrite = str(tmp / "proj"), ["--overwrite"]
    if kind == "sweep":
        return ["sweep", *extra, "--no-progress"]
    if kind == "data":
        return ["data", "--out", out, *DATA_BASE, *extra, *overwrite]
    return ["train", "--data", data, "--out", out, *TRAIN_BASE, *extra, *overwrite]


def write_copy(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_the_table_is_large_enough():
    assert len(CASES) + len(NOTEBOOK_CASES) >= 150


@pytest.mark.parametrize("kind,extra,param", CASES)
def test_cli_bad_input(kind, extra, param, tmp_path, inputs, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("REWRITELIB_RUNS", str(work / "runs"))  # sweeps: nothing may appear
    argv = build_argv(kind, extra, work, inputs)
    before = tree(tmp_path, inputs["root"], inputs["good"])
    code, err = run_cli(argv, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and param in lines[0] and "Traceback" not in err, err
    assert tree(tmp_path, inputs["root"], inputs["good"]) == before


# --- the notebooks' parameters: the functions their first cells call --------------------

def _nb01(**kw):
    from rewritelib.config import DataConfig
    from rewritelib.presets import run_settings

    p = dict(preset="tiny", n_instructions=12, seed=0, noop_fraction=0.25) | kw
    data_kw, _ = run_settings(p["preset"], p["n_instructions"], p["seed"], noop_fraction=p["noop_fraction"])
    DataConfig(**data_kw)


def _nb02(tmp, **kw):
    from rewritelib.study import train_one

    p = dict(preset="tiny", n_instructions=8, noop_fraction=None, skew="uniform", seed=0,
             run_dir=tmp / "run", max_steps=None, model=None) | kw
    train_one(p["preset"], p["n_instructions"], p["seed"], p["noop_fraction"], p["skew"],
              p["run_dir"], train_overrides={"max_steps": p["max_steps"], "model": p["model"]},
              progress=False)


def _sweep(tmp, points=None, seeds=(0,), **grid):
    from rewritelib.experiments import get
    from rewritelib.study import run_sweep

    if grid:
        name, overrides = grid.popitem()
        get(name).grid("tiny", **overrides)
    run_sweep("diversity-tiny", points or [{"n_instructions": 2}], list(seeds), "tiny")


NOTEBOOK_CASES = [
    ("01-preset", lambda t: _nb01(preset="huge"), "preset"),
    ("01-instructions", lambda t: _nb01(n_instructions=0), "n_instructions"),
    ("01-noop", lambda t: _nb01(noop_fraction=2), "noop_fraction"),
    ("01-seed", lambda t: _nb01(seed=-1), "seed"),
    ("02-preset", lambda t: _nb02(t, preset="huge"), "preset"),
    ("02-instructions-0", lambda t: _nb02(t, n_instructions=0), "n_instructions"),
    ("02-instructions-text", lambda t: _nb02(t, n_instructions="many"), "n_instructions"),
    ("02-noop", lambda t: _nb02(t, noop_fraction=1.5), "noop_fraction"),
    ("02-skew", lambda t: _nb02(t, skew=-1), "skew"),
    ("02-seed", lambda t: _nb02(t, seed=-1), "seed"),
    ("02-steps", lambda t: _nb02(t, max_steps=0), "max_steps"),
    ("02-steps-inf", lambda t: _nb02(t, max_steps=float("inf")), "max_steps"),
    ("02-model", lambda t: _nb02(t, model="giant"), "model"),
    ("02-run-dir-file", lambda t: _nb02(t, run_dir=t / "f"), "out"),
    ("02-run-dir-foreign", lambda t: _nb02(t, run_dir=t / "mine"), "out"),
    ("03-grid-not-list", lambda t: _sweep(t, E1={"n_instructions": 5}), "n_instructions"),
    ("03-grid-empty", lambda t: _sweep(t, E2={"noop_fraction": []}), "noop_fraction"),
    ("05-grid-axis", lambda t: _sweep(t, E4={"occurrences": [1]}), "axis"),
    ("03-seeds", lambda t: _sweep(t, seeds=[-1]), "seed"),
    ("03-instructions", lambda t: _sweep(t, points=[{"n_instructions": 0}]), "n_instructions"),
    ("03-noop", lambda t: _sweep(t, points=[{"n_instructions": 2, "noop_fraction": 3}]), "noop_fraction"),
    ("04-skew", lambda t: _sweep(t, points=[{"n_instructions": 8, "skew": "steep"}]), "skew"),
    ("04-grid", lambda t: _sweep(t, E3={"skew": "uniform"}), "skew"),
    ("05-family", lambda t: _sweep(t, points=[{"n_instructions": 8, "family": "spiral"}]), "family"),
    ("05-occurrences", lambda t: _sweep(t, points=[{"n_instructions": 8, "occurrences": 99}]), "occurrences"),
]


@pytest.mark.parametrize("name,call,param", NOTEBOOK_CASES, ids=[c[0] for c in NOTEBOOK_CASES])
def test_notebook_parameters(name, call, param, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path / "runs"))
    _file(work), _foreign(work)  # a file and a folder of the user's, for run_dir
    before = tree(tmp_path)
    with pytest.raises(ConfigError) as e:
        call(work)
    message = str(e.value)
    assert "\n" not in message and param in message, message
    assert not (tmp_path / "runs").exists()
    assert tree(tmp_path) == before


class _LetterTokenizer:
    """A tokenizer that cannot spell ' a' as one token: every character is its own."""
    eos_token_id, pad_token_id = 0, 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [1 + ord(c) % 30 for c in text]}


def test_a_tokenizer_that_cannot_spell_the_letters_is_one_line(tmp_path, inputs, capsys, monkeypatch):
    """--presentation spaced needs ' c' to be one token for every letter c of the alphabet."""
    from transformers import LlamaConfig, LlamaForCausalLM

    import rewritelib.run as run

    tiny = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=1, num_attention_heads=2))
    monkeypatch.setattr(run, "load_pretrained", lambda name: (tiny, _LetterTokenizer()))
    before = tree(tmp_path, inputs["good"])
    code, err = run_cli(["train", "--data", str(inputs["good"]), "--out", str(tmp_path / "run"),
                         *PRETRAINED, "--max-steps", "1", "--no-progress"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("rewritelib train: error: presentation: ' ") and "--presentation plain" in err
    assert tree(tmp_path, inputs["good"]) == before
