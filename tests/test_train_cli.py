"""The train CLI: a real run end to end, and one clean line for every bad input."""

import json
import subprocess
import sys

import pytest
import torch

from rewritelib.cli import main
from rewritelib.config import ModelError
from rewritelib.model import add_lora, build_scratch


def test_cli_trains_and_records(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_data_dir), "--model", "scratch", "--preset", "tiny",
                 "--out", str(out), "--max-steps", "30", "--no-progress"]) == 0
    assert "result.json" in capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    assert result["run_info"]["command"].startswith("python -m rewritelib")
    assert result["run_info"]["params"]["train"]["max_steps"] == 30
    assert (out / "model" / "model.safetensors").exists() and (out / "tokenizer.json").exists()


def corrupt(tmp_path, tiny_data_dir, how):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("train.jsonl", "test.jsonl", "seen.jsonl"):
        (bad / name).write_text((tiny_data_dir / name).read_text())
    lines = (bad / "train.jsonl").read_text().splitlines()
    row = json.loads(lines[2])
    if how == "missing":
        del row["output"]
        lines[2] = json.dumps(row)
    elif how == "type":
        row["occurrences"] = "one"
        lines[2] = json.dumps(row)
    elif how == "json":
        lines[2] = lines[2][:-5]
    elif how == "nofile":
        (bad / "test.jsonl").unlink()
    (bad / "train.jsonl").write_text("\n".join(lines) + "\n")
    return bad


BAD = [
    (["--model", "giant"], "model"),
    (["--preset", "huge"], "preset"),
    (["--model", "pretrained", "--preset", "small"], "preset"),
    (["--model", "pretrained", "--model-name", "./no/such/model"], "model_name"),
    (["--model", "pretrained", "--model-name", "no-such-org/no-such-model-xyz"], "model_name"),
    (["--model", "pretrained", "--lora-targets", "q_proj,not_a_layer"], "lora_targets"),
    (["--model", "pretrained", "--presentation", "morse"], "presentation"),
    (["--lr", "0"], "lr"),
    (["--max-steps", "0"], "max_steps"),
    (["--batch-size", "-4"], "batch_size"),
    (["--device", "tpu"], "device"),
    (["--data", "/no/such/folder"], "data"),
]


@pytest.mark.parametrize("extra,param", BAD, ids=[f"{p}-{i}" for i, (_, p) in enumerate(BAD)])
def test_bad_input_one_line_nothing_written(tiny_data_dir, tmp_path, capsys, extra, param):
    out = tmp_path / "run"
    args = ["train", "--data", str(tiny_data_dir), "--out", str(out), "--no-progress", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    # (the first load of SmolLM2 may draw its de-quantization progress bar above the error)
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and err.splitlines()[-1].startswith("rewritelib train: error: " + param), err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("how", ["missing", "type", "json", "nofile"])
def test_data_that_breaks_the_schema(tiny_data_dir, tmp_path, capsys, how):
    bad = corrupt(tmp_path, tiny_data_dir, how)
    out = tmp_path / "run"
    assert main(["train", "--data", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data:" in err
    assert not out.exists()


def test_cuda_asked_without_cuda(tiny_data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(out), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "device: cuda asked but this machine has no CUDA device" in err and not out.exists()


def test_existing_run_needs_overwrite(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert main(["train", "--data", str(tiny_data_dir), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (out / "notes.txt").exists()


def test_lora_targets_checked_on_gpt2_too():
    model = build_scratch("tiny", 10, 16)
    with pytest.raises(ModelError, match="lora_targets: q_proj"):
        add_lora(model, targets=["q_proj"])
    assert add_lora(model, rank=2, alpha=4).print_trainable_parameters is not None


def test_no_traceback_in_a_real_process(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rewritelib", "train", "--data", str(tmp_path),
                        "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
