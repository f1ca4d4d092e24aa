"""Scratch GPT-2: it learns, its exact match equals generate(), its records hold."""

import json

import numpy as np
import pytest
import torch

from rewritelib.dataset import build_dataset, write_dataset
from rewritelib.encoding import CharTokenizer
from rewritelib.evaluate import exact_match, generate_match, greedy_outputs
from rewritelib.examples import read_data_dir
from rewritelib.model import build_scratch
from rewritelib.records import validate_result
from rewritelib.run import RunConfig, load_run, run
from rewritelib.train import TrainConfig, train

from conftest import tiny_rules_config


def test_tiny_model_learns_a_handful_of_rules(tiny_data_dir, tmp_path):
    cfg = RunConfig.from_args(data=str(tiny_data_dir), out=str(tmp_path / "run"), preset="tiny",
                              lr=2e-3, max_steps=600, batch_size=32, eval_every=200)
    result = run(cfg, progress=False)
    assert result["metrics"]["seen"]["exact_match"] >= 0.95
    validate_result(result)
    on_disk = json.loads((tmp_path / "run" / "result.json").read_text())
    assert on_disk["metrics"]["seen"] == result["metrics"]["seen"]
    evals = [json.loads(line) for line in (tmp_path / "run" / "evals.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [200, 400]
    info = on_disk["train_info"]
    assert info["steps"] == 600 and info["tokens_per_s"] > 0 and len(info["loss_curve"]) == 60
    assert info["loss_curve"][-1][1] < info["loss_curve"][0][1] / 5
    assert on_disk["meta_info"]["versions"]["torch"] and on_disk["run_info"]["alphabet"] == "abcd"
    # the saved weights come back with the same verdicts
    model, tok, _ = load_run(tmp_path / "run")
    seen = read_data_dir(tiny_data_dir)["seen"]
    enc = tok.encode_examples(seen["pattern"], seen["replacement"], seen["input"], seen["output"])
    assert exact_match(model, enc).mean() == result["metrics"]["seen"]["exact_match"]


def test_metrics_break_down(tiny_data_dir, tmp_path):
    result = run(RunConfig.from_args(data=str(tiny_data_dir), out=str(tmp_path / "r"), max_steps=20),
                 progress=False)
    m = result["metrics"]
    assert m["noop"]["n"] + m["has_op"]["n"] == m["unseen"]["n"] == 200
    assert sum(v["n"] for v in m["by_occurrences"].values()) == 200
    assert sum(n for _, n in m["per_rule"]["unseen"].values()) == 200
    assert set(m["per_rule"]["unseen"]) == {"4", "5", "6", "7"}  # test rules come after the 4 training rules


def test_teacher_forced_equals_greedy_generate(tmp_path):
    # variable pattern/replacement lengths: prompts and targets of many lengths
    data = write_dataset(build_dataset(tiny_rules_config(
        pattern_length="1-3", replacement_length="0-3", input_length=8, alphabet="abcde",
        n_instructions=6, test_instructions=6)), tmp_path / "d")
    splits = read_data_dir(data)
    tok = CharTokenizer("abcde")
    enc = {k: tok.encode_examples(v["pattern"], v["replacement"], v["input"], v["output"])
           for k, v in splits.items()}
    model = build_scratch("tiny", tok.vocab_size, 64, seed=0)
    train(model, enc["train"], TrainConfig(lr=2e-3, batch_size=32, max_steps=400), progress=False)
    fast = np.concatenate([exact_match(model, enc[n], batch_size=37) for n in ("seen", "unseen")])
    slow = np.concatenate([generate_match(model, enc[n], eos_id=tok.eos_id, pad_id=tok.pad_id)
                           for n in ("seen", "unseen")])
    assert 0.1 < slow.mean() < 0.9, "want a partly trained model: some right, some wrong"
    assert (fast == slow).all(), np.nonzero(fast != slow)
    # the text the notebooks show is the same greedy output
    cols = splits["unseen"]
    shown = greedy_outputs(model, tok, cols["pattern"], cols["replacement"], cols["input"])
    assert ([s == o for s, o in zip(shown, cols["output"])] == exact_match(model, enc["unseen"])).all()


def test_same_seed_same_metrics_on_cpu(tiny_data_dir, tmp_path):
    results = [run(RunConfig.from_args(data=str(tiny_data_dir), out=str(tmp_path / f"r{i}"),
                                       max_steps=60, seed=3), progress=False) for i in range(2)]
    assert results[0]["metrics"] == results[1]["metrics"]
    assert results[0]["train_info"]["loss_curve"] == results[1]["train_info"]["loss_curve"]


def test_train_config_rejects_bad_values():
    from rewritelib.config import ConfigError

    for bad in (dict(lr=0), dict(batch_size=0), dict(max_steps=-1), dict(warmup=1.5),
                dict(target_accuracy=2.0), dict(device="tpu")):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TrainConfig(**bad)


def test_grad_accum_matches_a_bigger_batch():
    # one step of 2 x 8 accumulated equals one step of 16, up to float rounding
    tok = CharTokenizer("ab")
    enc = tok.encode_examples(["a"] * 16, ["b"] * 16, ["aab"] * 16, ["bab"] * 16)
    models = [build_scratch("tiny", tok.vocab_size, 16, seed=0) for _ in range(2)]
    # same examples in both: every row is identical, so batch order does not matter
    train(models[0], enc, TrainConfig(batch_size=16, max_steps=1, warmup=0), progress=False)
    train(models[1], enc, TrainConfig(batch_size=8, grad_accum=2, max_steps=1, warmup=0), progress=False)
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_the_cuda_loss_equals_the_cpu_loss():
    """train.py's CUDA path (_TargetLoss on evaluate.target_windows, fixed shapes) computes
    the same loss as the CPU path (target_logits on batch_tensors' mask): checked here on the
    CPU, where CI runs, in float32."""
    from rewritelib.evaluate import batch_tensors, target_logits, target_windows
    from rewritelib.train import _TargetLoss, decoder_blocks

    ds = build_dataset(tiny_rules_config(occurrences="1-3", input_length=9, noop_fraction=0.3))
    tok = CharTokenizer("abcd")
    s = ds.splits["train"]
    enc = tok.encode_examples(s.pattern, s.replacement, s.input, s.output)
    model = build_scratch("tiny", tok.vocab_size, 64, seed=0)
    idx = np.arange(0, 200, 3)
    ids, mask = batch_tensors(enc, idx, "cpu")
    logits, labels = target_logits(model, ids, mask)
    cpu = torch.nn.functional.cross_entropy(logits.float(), labels)
    width = int(enc.length.max())
    pos, lab = target_windows(enc)
    cuda_path = _TargetLoss(model)(torch.from_numpy(enc.ids[idx, :width]), torch.from_numpy(pos[idx]),
                                   torch.from_numpy(lab[idx]))
    assert torch.allclose(cpu, cuda_path, rtol=1e-6, atol=1e-6)
    assert (lab[idx] != -100).sum() == mask.sum()  # the same target tokens, none more
    assert decoder_blocks(model.transformer) is model.transformer.h


def test_decoder_blocks_of_a_lora_llama():
    """The per-layer compile of LoRA runs finds Llama's blocks under PEFT (was: `.layers`
    hard-coded, which a PEFT-wrapped GPT-2 lacks)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from rewritelib.model import add_lora, split_head
    from rewritelib.train import decoder_blocks

    llama = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=2, num_attention_heads=2))
    backbone = split_head(add_lora(llama, 4, 8, 0.0, None))[0]
    blocks = decoder_blocks(backbone)
    assert len(blocks) == 2 and type(blocks[0]).__name__ == "LlamaDecoderLayer"
