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
from rewritelib.config import ConfigError, DataConfig
from rewritelib.run import RunConfig
from rewritelib.train import TrainConfig

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
    ("--seed", "inf", "seed"), ("--seed", "true", "seed"), ("--budget", "False", "budget"),
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
    # --grid parses true/false (any case) to bools; any other value of a bool axis is refused
    (["E6", "--grid", "encrypt=maybe"], "encrypt"), (["E6", "--grid", "encrypt=1"], "encrypt"),
    (["E6", "--grid", "encrypt=False,no"], "encrypt"),
    (["E1", "--grid", "n_instructions=true"], "n_instructions"),
    (["E2", "--grid", "noop_fraction=False"], "noop_fraction"), (["E3", "--grid", "skew=TRUE"], "skew"),
    (["E4", "--grid", "family=3"], "family"), (["E5", "--grid", "occurrences=1:true"], "occurrences"),
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
    assert len(CASES) + len(NOTEBOOK_CASES) >= 240
    assert len(TYPE_CASES) >= 55  # every kind of field of all three configs, each kind of wrong type


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
              p["run_dir"], data_overrides=p.get("data_overrides"),
              train_overrides={"max_steps": p["max_steps"], "model": p["model"]}, progress=False)


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
    ("02-steps-bool", lambda t: _nb02(t, max_steps=True), "max_steps"),
    ("02-instructions-bool", lambda t: _nb02(t, n_instructions=True), "n_instructions"),
    # papermill injects Python values: the text "False" is not a bool (and would be truthy)
    ("02-encrypt-text", lambda t: _nb02(t, data_overrides={"encrypt": "False"}), "encrypt"),
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
    ("06-encrypt-text", lambda t: _sweep(t, points=[{"n_instructions": 2, "encrypt": "false"}]), "encrypt"),
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


# --- every config field takes its type only (pydantic, config.py's Int, Float, Bool, Text) ---
# A bool field takes True or False, never the text "true"/"false": that text is parsed where
# it is typed (--grid, cli._value); in a config it is a mistake, and "False" would be truthy.

def _run_config(**kw):
    return RunConfig(**{"data": ".", "out": ".", **kw})


TYPE_CASES = [  # (config, keywords, the field the one line must name)
    (DataConfig, {"encrypt": "no"}, "encrypt"), (DataConfig, {"encrypt": 2}, "encrypt"),
    (DataConfig, {"encrypt": None}, "encrypt"), (DataConfig, {"encrypt": "False"}, "encrypt"),
    (DataConfig, {"encrypt": "true"}, "encrypt"), (DataConfig, {"encrypt": 0.0}, "encrypt"),
    (DataConfig, {"n_instructions": True}, "n_instructions"),
    (DataConfig, {"n_instructions": 1.5}, "n_instructions"),
    (DataConfig, {"n_instructions": "x"}, "n_instructions"),
    (DataConfig, {"n_instructions": None}, "n_instructions"),
    (DataConfig, {"noop_fraction": True}, "noop_fraction"),
    (DataConfig, {"noop_fraction": "x"}, "noop_fraction"),
    (DataConfig, {"test_noop_fraction": False}, "test_noop_fraction"),
    (DataConfig, {"noops_on_top": "yes"}, "noops_on_top"), (DataConfig, {"noops_on_top": 1}, "noops_on_top"),
    (DataConfig, {"family": 3}, "family"), (DataConfig, {"family": None}, "family"),
    (DataConfig, {"alphabet": 5}, "alphabet"), (DataConfig, {"alphabet": list("abc")}, "alphabet"),
    (DataConfig, {"seed": True}, "seed"), (DataConfig, {"seed": 1.5}, "seed"),
    (DataConfig, {"budget": 2.5}, "budget"), (DataConfig, {"budget": False}, "budget"),
    (DataConfig, {"input_length": True}, "input_length"), (DataConfig, {"skew": True}, "skew"),
    (DataConfig, {"pattern_length": True}, "pattern_length"),
    (DataConfig, {"pattern_length": 2.5}, "pattern_length"),
    (DataConfig, {"occurrences": [1, True]}, "occurrences"),
    (DataConfig, {"family_k": 3.5}, "family_k"), (DataConfig, {"n_instruction": 8}, "n_instruction"),
    (TrainConfig, {"device": 0}, "device"), (TrainConfig, {"device": None}, "device"),
    (TrainConfig, {"lr": True}, "lr"), (TrainConfig, {"lr": "x"}, "lr"),
    (TrainConfig, {"batch_size": True}, "batch_size"), (TrainConfig, {"batch_size": 2.5}, "batch_size"),
    (TrainConfig, {"batch_size": "x"}, "batch_size"), (TrainConfig, {"compile": "yes"}, "compile"),
    (TrainConfig, {"compile": 1}, "compile"), (TrainConfig, {"max_steps": True}, "max_steps"),
    (TrainConfig, {"seed": 1.5}, "seed"), (TrainConfig, {"epochs": True}, "epochs"),
    (TrainConfig, {"eval_every": False}, "eval_every"), (TrainConfig, {"warmup": "x"}, "warmup"),
    (TrainConfig, {"target_accuracy": True}, "target_accuracy"),
    (_run_config, {"model": 1}, "model"), (_run_config, {"presentation": 3}, "presentation"),
    (_run_config, {"lora_rank": True}, "lora_rank"), (_run_config, {"lora_rank": 8.5}, "lora_rank"),
    (_run_config, {"overwrite": "yes"}, "overwrite"), (_run_config, {"verify": 1}, "verify"),
    (_run_config, {"lora_targets": "q_proj"}, "lora_targets"),  # a str, not a list of them
    (_run_config, {"lora_targets": ["q_proj", 1]}, "lora_targets"),
    (_run_config, {"lora_dropout": True}, "lora_dropout"), (_run_config, {"arch": 5}, "arch"),
    (_run_config, {"eval_examples": "x"}, "eval_examples"), (_run_config, {"out": 5}, "out"),
    (_run_config, {"train": "fast"}, "train"),
]


def _type_id(case) -> str:
    make, kw, _ = case
    [(key, value)] = kw.items()
    return f"{'RunConfig' if make is _run_config else make.__name__}-{key}={value!r}"


@pytest.mark.parametrize("make,kw,param", TYPE_CASES, ids=[_type_id(c) for c in TYPE_CASES])
def test_config_types(make, kw, param):
    with pytest.raises(ConfigError) as e:
        make(**kw)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{param}: "), message


def test_config_types_accept_what_the_cli_and_the_records_give():
    # the data CLI hands over text; a record's JSON turned tuples into lists
    cfg = DataConfig(n_instructions="20", budget=500.0, noop_fraction="0.25", test_instructions=10,
                     test_examples=100, input_length=16, pattern_length=[3, 5],
                     occurrences=[1, 2], alphabet="abcdefg", encrypt=True, skew="uniform")
    assert (cfg.n_instructions, cfg.budget, cfg.noop_fraction) == (20, 500, 0.25)
    assert type(cfg.budget) is int and cfg.pattern_length == (3, 5) and cfg.occurrences == (1, 2)
    assert cfg.encrypt is True and cfg.skew is None and cfg.test_noop_fraction == 0.25
    train = TrainConfig(epochs=None, compile=None, target_accuracy=None, max_steps=20.0)
    assert train.max_steps == 20 and type(train.max_steps) is int
    assert _run_config(arch=None, lora_targets=None, train=train).train is train


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


# --- python -m rewritelib compare A B: folders and records ------------------------------

RECORD = Path(__file__).resolve().parents[1] / "papermill_runs/diversity/I0008-skewuniform-s0/result.json"


def _runs(tmp, name, run="I0008-skewuniform-s0", text=None):
    """A runs folder with one copy of a committed record (or ``text`` as its result.json)."""
    (tmp / name / "diversity" / run).mkdir(parents=True)
    (tmp / name / "diversity" / run / "result.json").write_text(text or RECORD.read_text())
    return str(tmp / name)


COMPARE = [  # (id, setup(tmp) -> argv after "compare", the word the one line must name)
    ("missing-a", lambda t: [str(t / "nowhere"), _runs(t, "b")], "A: "),
    ("missing-b", lambda t: [_runs(t, "a"), str(t / "nowhere")], "B: "),
    ("a-file", lambda t: [str(_file(t)), _runs(t, "b")], "not a folder"),
    ("a-run-folder", lambda t: [_runs(t, "a") + "/diversity/I0008-skewuniform-s0", _runs(t, "b")],
     "run folder"),
    ("no-shared-runs", lambda t: [_runs(t, "a"), _runs(t, "b", run="I0064-skewuniform-s0")],
     "no shared runs"),
    ("empty-folders", lambda t: [str(_foreign(t)), _runs(t, "b")], "no shared runs"),
    ("damaged", lambda t: [_runs(t, "a"), _runs(t, "b", text=RECORD.read_text()[:100])],
     "b/diversity/I0008-skewuniform-s0/result.json: damaged record"),
    ("empty-record", lambda t: [_runs(t, "a", text=" "), _runs(t, "b")], "result.json: damaged"),
    ("tolerance-negative", lambda t: [_runs(t, "a"), _runs(t, "b"), "--tolerance", "-0.01"], "tolerance"),
    ("tolerance-nan", lambda t: [_runs(t, "a"), _runs(t, "b"), "--tolerance", "nan"], "tolerance"),
    ("tolerance-above-1", lambda t: [_runs(t, "a"), _runs(t, "b"), "--tolerance", "2"], "tolerance"),
    ("tolerance-text", lambda t: [_runs(t, "a"), _runs(t, "b"), "--tolerance", "x"], "--tolerance"),
    ("unknown-study", lambda t: [_runs(t, "a"), _runs(t, "b"), "--study", "bogus"], "study"),
    ("one-folder", lambda t: [_runs(t, "a")], "B"),
]


@pytest.mark.parametrize("name,setup,param", COMPARE, ids=[c[0] for c in COMPARE])
def test_compare_bad_input(name, setup, param, tmp_path, capsys):
    argv = ["compare", *setup(tmp_path)]
    before = tree(tmp_path)
    code, err = run_cli(argv, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and param in lines[0] and "Traceback" not in err, err
    assert tree(tmp_path) == before
