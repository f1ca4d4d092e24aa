"""GPU check (run by gpu_check.sh on a CUDA machine, a few minutes in all).

1. the `paper` scratch GPT-2 (6 layers, width 256, 4 heads) on paper-shaped examples
   (input 50, pattern 20), bf16 autocast, eager and with torch.compile: tokens/s, peak memory;
2. teacher-forced exact match vs generate() on that model: agreement and speed ratio;
3. LoRA (rank 64) on a SmolLM2-135M-sized Llama with random weights (the real weights are
   not needed for speed): tokens/s, peak memory.
Prints one line per measurement and writes them to $OUT/gpu_check.json when OUT is set.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rewritelib.config import DataConfig  # noqa: E402
from rewritelib.dataset import build_dataset  # noqa: E402
from rewritelib.encoding import CharTokenizer, Encoded  # noqa: E402
from rewritelib.evaluate import exact_match, generate_match  # noqa: E402
from rewritelib.model import add_lora, build_scratch  # noqa: E402
from rewritelib.train import TrainConfig, train  # noqa: E402

# SMOKE=1 runs the same script tiny and on the CPU, to check it before spending GPU time
SMOKE = os.environ.get("SMOKE") == "1"
DEVICE = "cpu" if SMOKE else "cuda"
CUDA = DEVICE == "cuda"
results = {"device": torch.cuda.get_device_name(0) if CUDA else "cpu", "torch": torch.__version__}


def sync():
    if CUDA:
        torch.cuda.synchronize()


def reset_peak():
    if CUDA:
        torch.cuda.reset_peak_memory_stats()


def report(name, **kw):
    results[name] = kw
    print(name, json.dumps(kw), flush=True)


def scratch(enc, tok, steps, batch, compile_):
    reset_peak()
    model = build_scratch("paper", tok.vocab_size, int(enc["train"].length.max()), seed=0)
    info = train(model, enc["train"], TrainConfig(lr=1e-3, batch_size=batch, max_steps=steps,
                                                  device=DEVICE, compile=compile_, log_every=50),
                 progress=False)
    report(f"scratch_paper_bs{batch}{'_compiled' if compile_ else ''}",
           steps=steps, seconds=round(info["seconds"], 1), tokens_per_s=round(info["tokens_per_s"]),
           peak_memory_mb=round(info["peak_memory_mb"]), final_loss=round(info["loss_curve"][-1][1], 4))
    return model


def main():
    t0 = time.time()
    cfg = DataConfig(n_instructions=1000, budget=2000 if SMOKE else 200_000, noop_fraction=0.5, test_instructions=200,
                     test_examples=4000, seen_examples=4000, seed=0)
    ds = build_dataset(cfg)
    tok = CharTokenizer(cfg.alphabet)
    enc = {k: tok.encode_examples(s.pattern, s.replacement, s.input, s.output) for k, s in ds.splits.items()}

    steps = 3 if SMOKE else 600
    model = scratch(enc, tok, steps, 256, False)
    scratch(enc, tok, steps, 256, CUDA)

    # eval: the eager model after 600 steps (copies no-ops, fails most rewrites)
    n_eval = 20 if SMOKE else 2000
    sub = {k: e.take(slice(n_eval)) for k, e in enc.items() if k != "train"}
    warm = next(iter(sub.values()))
    warm = warm.take(slice(64))
    exact_match(model, warm, 512, DEVICE)  # warm-up: first calls pick kernels
    generate_match(model, warm, tok.eos_id, tok.pad_id, 512, DEVICE)
    sync()
    t = time.perf_counter()
    fast = np.concatenate([exact_match(model, e, 512, DEVICE) for e in sub.values()])
    sync()
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    slow = np.concatenate([generate_match(model, e, tok.eos_id, tok.pad_id, 512, DEVICE) for e in sub.values()])
    sync()
    t_slow = time.perf_counter() - t
    report("eval_teacher_forced_vs_generate", examples=len(fast), exact_match=float(fast.mean()),
           agree=float((fast == slow).mean()), teacher_forced_s=round(t_fast, 3),
           generate_s=round(t_slow, 3), ratio=round(t_slow / t_fast, 1))

    # LoRA on a SmolLM2-135M-sized Llama, random weights; letters as token ids 1000+
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=2 if SMOKE else 30, num_attention_heads=9, num_key_value_heads=3,
                         max_position_embeddings=8192, rope_theta=100000.0, tie_word_embeddings=True,
                         eos_token_id=2, pad_token_id=2)
    for batch in (4,) if SMOKE else (64, 256):
        torch.manual_seed(0)
        llm = add_lora(LlamaForCausalLM(config), rank=64, alpha=128, dropout=0.05, seed=0)
        e = enc["train"]
        shifted = Encoded(e.ids + 1000, e.target_start, e.length)
        reset_peak()
        info = train(llm, shifted, TrainConfig(lr=5e-4, batch_size=batch, max_steps=2 if SMOKE else 150, device=DEVICE,
                                               log_every=25), progress=False)
        report(f"lora_smollm2_size_r64_bs{batch}", steps=150, seconds=round(info["seconds"], 1),
               tokens_per_s=round(info["tokens_per_s"]), peak_memory_mb=round(info["peak_memory_mb"]),
               trainable=sum(p.numel() for p in llm.parameters() if p.requires_grad))
    report("total", seconds=round(time.time() - t0, 1))
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "gpu_check.json"), "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
