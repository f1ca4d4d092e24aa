"""The real SmolLM2-135M-Instruct: offline load, LoRA steps, adapter round trip."""

import os

import pytest
import torch

from rewritelib.config import ConfigError
from rewritelib.encoding import HFEncoder
from rewritelib.evaluate import target_logits, batch_tensors
from rewritelib.examples import read_data_dir
from rewritelib.model import add_lora, load_pretrained
from rewritelib.train import TrainConfig, train


@pytest.fixture(scope="module")
def smollm2():
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    return load_pretrained("smollm2")


def test_loads_offline_as_float32_llama(smollm2):
    model, tokenizer = smollm2
    assert model.config.model_type == "llama" and model.dtype == torch.float32
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    assert tokenizer.eos_token_id is not None


def test_spaced_letters_are_one_token_each(smollm2):
    enc = HFEncoder(smollm2[1], "abcdefghijklmnopqrstuvwxyz", "spaced")
    e = enc.encode_examples(["iss"], ["art"], ["mississippi"], ["martissippi"])
    assert e.target_start[0] == len("iss>art|mississippi=")
    assert e.length[0] == e.target_start[0] + len("martissippi") + 1
    assert enc.decode(e.ids[0, e.target_start[0]:e.length[0] - 1]) == "martissippi"


def test_lora_steps_lower_the_loss_and_adapter_round_trips(smollm2, tiny_data_dir, tmp_path):
    from peft import PeftModel

    base, tokenizer = load_pretrained("smollm2")  # a private copy: LoRA modifies it in place
    model = add_lora(base, rank=8, alpha=16, dropout=0.0, seed=0)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 0 < trainable < 0.05 * sum(p.numel() for p in model.parameters())
    train_cols = read_data_dir(tiny_data_dir)["train"]
    encoder = HFEncoder(tokenizer, "abcd", "spaced")
    enc = encoder.encode_examples(*(train_cols[k][:64] for k in ("pattern", "replacement", "input", "output")))
    info = train(model, enc, TrainConfig(lr=2e-3, batch_size=8, max_steps=8, warmup=0, log_every=1,
                                         seed=0), progress=False)
    losses = [loss for _, loss in info["loss_curve"]]
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses

    model.save_pretrained(tmp_path / "adapter")
    fresh, _ = load_pretrained("smollm2")
    reloaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    model.eval()
    ids, mask = batch_tensors(enc, torch.arange(8).numpy(), "cpu")
    with torch.no_grad():
        a, _ = target_logits(model, ids, mask)
        b, _ = target_logits(reloaded, ids, mask)
    assert torch.equal(a, b)


def test_anatomy_counts_what_lora_trains(smollm2):
    from rewritelib.lora import anatomy
    from rewritelib.model import count_parameters

    model = add_lora(load_pretrained("smollm2")[0], rank=4, alpha=8, dropout=0.0, seed=0)
    parts = anatomy(model).set_index("parameters")
    trainable, total = count_parameters(model)
    assert parts.loc["total", "count"] == total
    assert parts.loc[parts["trainable"] == True, "count"].sum() == trainable  # noqa: E712
    # rank 4 on q_proj (576 -> 576) in each of 30 layers: A (4 x 576) + B (576 x 4)
    assert parts.loc["LoRA on q_proj", "count"] == 30 * 2 * 4 * 576


@pytest.mark.parametrize("content", [b"not a gguf at all", b"GGUF\x03\x00\x00\x00truncated"])
def test_a_gguf_that_fails_to_load_is_one_line_naming_model_name(content, tmp_path, monkeypatch):
    import rewritelib.model as model
    from rewritelib.config import ModelError

    (tmp_path / "smollm2.gguf").write_bytes(content)
    monkeypatch.setattr(model, "smollm2_location", lambda: (str(tmp_path), "smollm2.gguf"))
    monkeypatch.setenv("REWRITELIB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match=r"^model_name: .*smollm2.gguf fails to load .*reinstall"):
        load_pretrained("smollm2")
    # no cache half-written (the lock file of the cache folder may stay)
    assert [p.name for p in (tmp_path / "cache").glob("*") if p.suffix != ".lock"] == []


def test_processes_that_start_together_make_a_cache_once(tmp_path, monkeypatch):
    """Two readers at once (a sweep's runs, the test workers): the second waits on the lock
    for the first's folder instead of de-quantizing the GGUF a second time."""
    import threading
    import time

    import rewritelib.model as model

    monkeypatch.setenv("REWRITELIB_CACHE", str(tmp_path))
    made = []

    def build():
        made.append(threading.get_ident())
        time.sleep(0.3)
        return "42"

    def save(value, folder):
        folder.mkdir()
        (folder / "value").write_text(value)

    got = []
    readers = [threading.Thread(target=lambda: got.append(
        model._cached("thing", read=lambda d: (d / "value").read_text(), build=build, save=save)))
        for _ in range(2)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    assert got == ["42", "42"] and len(made) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thing", "thing.lock"]


def test_a_damaged_cache_is_dropped_and_rebuilt_from_the_gguf(tmp_path, monkeypatch):
    import rewritelib.model as model
    from rewritelib.config import ModelError

    gguf = tmp_path / "smollm2.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00truncated")
    monkeypatch.setattr(model, "smollm2_location", lambda: (str(tmp_path), "smollm2.gguf"))
    monkeypatch.setenv("REWRITELIB_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / f"smollm2-{gguf.stat().st_size}-f32"  # the GGUF's stem and size
    cached.mkdir(parents=True)
    (cached / "model.safetensors").write_bytes(b"half a file")
    # the cache fails, so the GGUF is read again: here it is broken too, and says so
    with pytest.raises(ModelError, match=r"^model_name: .*smollm2.gguf fails to load"):
        load_pretrained("smollm2")
    assert not cached.exists()


def test_a_run_adapter_loads_with_plain_peft_and_reproduces_the_run(tmp_path):
    """What docs/records.md shows: the base from the GGUF with plain transformers, the run's
    adapter with plain PEFT; the adapter names the hub id, the record the GGUF and its sha256."""
    import json

    from conftest import tiny_rules_config
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewritelib.dataset import build_dataset, write_dataset
    from rewritelib.evaluate import exact_match
    from rewritelib.model import SMOLLM2_HUB_ID, smollm2_location
    from rewritelib.records import file_sha256
    from rewritelib.run import RunConfig, load_run, run

    # few test examples: scoring them with SmolLM2 is most of the run
    data = write_dataset(build_dataset(tiny_rules_config(budget=200, test_examples=40, seen_examples=8)),
                         tmp_path / "data")
    out = tmp_path / "run"
    result = run(RunConfig.from_args(data=str(data), out=str(out), model="pretrained",
                                     preset="tiny", max_steps=4), progress=False)
    adapter_config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == SMOLLM2_HUB_ID
    folder, gguf = smollm2_location()
    assert result["run_info"]["base_model"] == {
        "model_name": "smollm2", "hub_id": SMOLLM2_HUB_ID, "gguf": gguf,
        "gguf_sha256": file_sha256(f"{folder}/{gguf}")}

    base = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = PeftModel.from_pretrained(base, out / "adapter").eval()
    encoder = HFEncoder(tokenizer, result["run_info"]["alphabet"], "spaced")
    unseen = read_data_dir(data)["unseen"]
    enc = encoder.encode_examples(*(unseen[k] for k in ("pattern", "replacement", "input", "output")))
    right = exact_match(model, enc, result["run_info"]["params"]["eval_batch_size"], "cpu")
    assert right.mean() == result["metrics"]["unseen"]["exact_match"] and right.any()

    ours, _, _ = load_run(out)  # the same weights as rewritelib's own loader
    ids, mask = batch_tensors(enc, torch.arange(8).numpy(), "cpu")
    with torch.no_grad():
        assert torch.equal(target_logits(model, ids, mask)[0], target_logits(ours, ids, mask)[0])


def test_anatomy_of_the_skeleton_is_that_of_the_model(smollm2):
    """Notebook 06 counts LoRA's parameters on the meta-device skeleton (no weight read):
    the same table as on the loaded model."""
    from rewritelib.lora import anatomy
    from rewritelib.model import skeleton

    on_meta = anatomy(add_lora(skeleton("smollm2"), rank=4, alpha=8, dropout=0.0, seed=0))
    loaded = anatomy(add_lora(load_pretrained("smollm2")[0], rank=4, alpha=8, dropout=0.0, seed=0))
    assert on_meta.equals(loaded)


def test_before_after_is_recorded_then_read_without_training(tmp_path, monkeypatch):
    """The demo's run writes what it showed beside its record; run again with records only
    (nbval; a fresh clone has no weights) it reads that and trains nothing. A before_after.json
    of an earlier run of that folder is not this run's: the table is computed anew."""
    import json

    from rewritelib.lora import before_after

    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))
    table, result = before_after("tiny", 4, n_examples=3, train_overrides={"max_steps": 2}, progress=False)
    assert len(table) == 3 and set(table["expected"]) != set(table["input"])  # has-op: the rule acts
    (shown,) = tmp_path.glob("lora-demo-tiny/*/before_after.json")
    for weights in shown.parent.glob("adapter/*.safetensors"):
        weights.unlink()  # as in git
    monkeypatch.setenv("REWRITELIB_RECORDS_ONLY", "1")
    again, record = before_after("tiny", 4, n_examples=3, train_overrides={"max_steps": 2}, progress=False)
    assert again.equals(table) and record == result
    stale = json.loads(shown.read_text())
    shown.write_text(json.dumps({**stale, "run_start": "another run"}))
    with pytest.raises(ConfigError, match="REWRITELIB_RECORDS_ONLY"):  # would need the weights
        before_after("tiny", 4, n_examples=3, train_overrides={"max_steps": 2}, progress=False)
