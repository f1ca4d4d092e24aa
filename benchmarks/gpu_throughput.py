"""Training-step throughput on one GPU (issue 14): the paper GPT-2 and LoRA on a SmolLM2-sized
Llama, bf16, at the paper's sequence shape (input 50, pattern 20: 144 tokens an example).

Every variant trains the same data (the `gpu` preset's training split at I = 1,000) and is
timed after warm-up steps, with a synchronisation before each clock read. Rows:

- ``today``: ``rewritelib.train.train`` as it is (bf16 autocast, fused AdamW on CUDA, SDPA
  attention as transformers picks it, ``compile=True`` wraps the backbone);
- ``fast``: the loop below. The same loss (mean cross-entropy over the output + EOS
  positions) and the same optimizer and schedule, but: the whole data set on the GPU and
  batches drawn there (no host copies), the target positions gathered with a fixed-size
  index (no boolean indexing, so no device->host sync and one shape), the loss read once at
  the end instead of ``loss.item()`` every step, ``use_cache=False``; optionally
  ``torch.compile`` of model + loss (``mode="reduce-overhead"``: CUDA graphs), with the batch
  dimension marked dynamic so one compilation serves every batch size.

Model FLOPs per token (PaLM's convention): 6 N for trained weights, 4 N for frozen ones (no
weight gradient), 6 N x K/T for the head applied at the K target positions of T, plus
12 L d T for attention (full T x T; a causal kernel does about half of that).
"Fraction of peak" divides that by the bf16 matmul rate measured in the same run
(8192^3, random data). "eff. tok/s (run)" amortizes the compile time over a realistic
run: the `gpu` preset's 7,000 steps x 256 (GPT-2) or the pretrained `gpu` preset's
2,000 x 64 (LoRA) examples, at the row's batch size.

    python3 benchmarks/gpu_throughput.py           # on a CUDA machine; JSON to $OUT if set
    SMOKE=1 python benchmarks/gpu_throughput.py    # tiny and on the CPU, to check the script

TP_BUDGET_S (default 240): no new variant starts once the script has run this long.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from rewritelib.config import DataConfig  # noqa: E402
from rewritelib.dataset import build_dataset  # noqa: E402
from rewritelib.encoding import CharTokenizer, Encoded  # noqa: E402
from rewritelib.evaluate import batch_tensors, target_logits  # noqa: E402
from rewritelib.model import add_lora, build_scratch  # noqa: E402
from rewritelib.presets import run_settings  # noqa: E402
from rewritelib.scales import recipe  # noqa: E402
from rewritelib.train import TrainConfig, _TargetLoss, train  # noqa: E402

SMOKE = os.environ.get("SMOKE") == "1"
DEVICE = "cpu" if SMOKE else "cuda"
CUDA = DEVICE == "cuda"
COMPILE_OK = CUDA or os.environ.get("SMOKE_COMPILE") == "1"  # SMOKE_COMPILE=1: compile on the CPU too
BUDGET_S = float(os.environ.get("TP_BUDGET_S", "240"))
T_START = time.perf_counter()
RESULTS = {"meta": {}, "peak": {}, "checks": {}, "rows": [], "skipped": [], "errors": []}
# a realistic run, to amortize compile time over: the gpu scale's max_steps x batch_size
GPT_RUN_EXAMPLES = recipe("gpu", "scratch")["max_steps"] * recipe("gpu", "scratch")["batch_size"]
LORA_RUN_EXAMPLES = recipe("gpu", "pretrained")["max_steps"] * recipe("gpu", "pretrained")["batch_size"]


def elapsed() -> float:
    return time.perf_counter() - T_START


def sync():
    if CUDA:
        torch.cuda.synchronize()


def reset_peak():
    if CUDA:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gb():
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if CUDA else None


def save():
    out = os.environ.get("OUT")
    if out:
        tmp = os.path.join(out, ".throughput.json.tmp")
        with open(tmp, "w") as f:
            json.dump(RESULTS, f, indent=1)
        os.replace(tmp, os.path.join(out, "throughput.json"))


# ---------------------------------------------------------------- ceilings

def median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        if CUDA:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b) / 1e3)
        else:
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return float(np.median(times))


def measure_ceilings():
    n = 512 if SMOKE else 8192
    g = torch.Generator(DEVICE).manual_seed(0)
    mats = [torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16, generator=g) for _ in range(4)]
    c = torch.empty(n, n, device=DEVICE, dtype=torch.bfloat16)
    for i in range(3):
        torch.matmul(mats[i % 4], mats[(i + 1) % 4], out=c)
    sync()
    k = iter(range(10**9))

    def mm():
        i = next(k)
        torch.matmul(mats[i % 4], mats[(i + 1) % 4], out=c)  # rotate: no cache effects

    s = median_time(mm, 3 if SMOKE else 20)
    ref = mats[0].double() @ mats[1].double()
    torch.matmul(mats[0], mats[1], out=c)
    rel = float((c.double() - ref).norm() / ref.norm())
    RESULTS["peak"] = {"matmul_n": n, "bf16_matmul_tflops": round(2 * n**3 / s / 1e12, 1),
                       "matmul_rel_err_vs_fp64": rel}
    del mats, c, ref
    nbytes = (2**24 if SMOKE else 2**31)
    x = torch.empty(nbytes, dtype=torch.uint8, device=DEVICE).fill_(7)
    y = torch.empty_like(x)
    y.copy_(x)
    s = median_time(lambda: y.copy_(x), 3 if SMOKE else 10)
    RESULTS["peak"]["copy_tb_s_read_plus_write"] = round(2 * nbytes / s / 1e12, 2)
    del x, y
    print("ceilings", json.dumps(RESULTS["peak"]), flush=True)


# ---------------------------------------------------------------- data and FLOPs

def paper_data():
    """Encoded training split of the gpu preset at I = 1,000 (input 50, pattern 20)."""
    over = dict(budget=2000, test_examples=100, seen_examples=100, test_instructions=50) if SMOKE else None
    data_kw, _ = run_settings("gpu", 1000, 0, data_overrides=over)
    ds = build_dataset(DataConfig(**data_kw))
    tok = CharTokenizer(data_kw["alphabet"])
    s = ds.splits["train"]
    return tok, tok.encode_examples(s.pattern, s.replacement, s.input, s.output)


class GPUData:
    """The whole training set on the device, with fixed-size target windows.

    pos[n, j] = position whose logits predict target token j (clipped), labels[n, j] the
    token or -100 past the row's end: the same positions and labels as the boolean mask of
    ``evaluate.batch_tensors``, in a (B, K) shape that does not depend on the batch.
    """

    def __init__(self, enc: Encoded, device, offset: int = 0):
        width = int(enc.length.max())
        ids = enc.ids[:, :width].astype(np.int64) + offset
        start, end = enc.target_start - 1, enc.length - 2  # predicting positions, inclusive
        k = int((end - start).max()) + 1
        pos = start[:, None] + np.arange(k)[None, :]
        valid = pos <= end[:, None]
        pos = np.minimum(pos, width - 2)
        labels = np.where(valid, np.take_along_axis(ids, pos + 1, axis=1), -100)
        self.ids = torch.from_numpy(ids).to(device)
        self.pos = torch.from_numpy(pos).to(device)
        self.labels = torch.from_numpy(labels).to(device)
        self.n, self.width, self.k = len(ids), width, k
        self.mean_length = float(enc.length.mean())
        self.gen = torch.Generator(device).manual_seed(0)
        self.perm, self.cursor = torch.randperm(self.n, device=device, generator=self.gen), 0

    def next(self, batch: int):
        if self.cursor + batch > self.n:
            self.perm = torch.randperm(self.n, device=self.ids.device, generator=self.gen)
            self.cursor = 0
        idx = self.perm[self.cursor:self.cursor + batch]
        self.cursor += batch
        return self.ids[idx], self.pos[idx], self.labels[idx]


def block_matmul_params(blocks) -> int:
    """Matrix weights in the blocks (each parameter once: a PEFT LoRA layer exposes its base
    layer's weight as its own ``.weight`` too, so walking modules would count it twice)."""
    return sum(p.numel() for p in blocks.parameters() if p.dim() == 2)


def flops_per_token(trained: int, frozen: int, layers: int, attn_width: int, width: int,
                    head_params: int, k: int, head_trained: bool = True) -> float:
    head = (6 if head_trained else 4) * head_params * k / width
    return 6 * trained + 4 * frozen + head + 12 * layers * attn_width * width


# ---------------------------------------------------------------- the two loops

def today(model, enc, batch, warm, steps, lr, compile_=False):
    """rewritelib.train.train as it is; a warm-up call (which compiles), then a timed one."""
    reset_peak()
    t = time.perf_counter()
    train(model, enc, TrainConfig(lr=lr, batch_size=batch, max_steps=warm, device=DEVICE,
                                  compile=compile_, log_every=warm), progress=False)
    sync()
    warm_s = time.perf_counter() - t
    # the backbone stays compiled in place: compile=False does not undo it
    info = train(model, enc, TrainConfig(lr=lr, batch_size=batch, max_steps=steps, device=DEVICE,
                                         log_every=steps), progress=False)
    step_s = info["seconds"] / steps
    return {"step_s": step_s, "tokens_per_s": info["tokens_per_s"], "warm_s": warm_s,
            "compile_s": warm_s - warm * step_s if compile_ else None,
            "loss": info["loss_curve"][-1][1], "peak_gb": peak_gb()}


# Backbone + head at the target positions + mean cross-entropy: one compilable graph. The
# class this benchmark measured is the one rewritelib.train now uses on CUDA.
LossModule = _TargetLoss


def fast(model, data: GPUData, batches, warm, steps, lr, mode=None, fused=True, regional=False):
    """The fast loop. Returns one result per batch size (one compilation for all).

    mode: None (eager), "default" or "reduce-overhead" (CUDA graphs) for torch.compile of
    model + loss; regional=True compiles each decoder layer instead (big models: the layers
    share one compiled graph, so compile time does not grow with depth).
    """
    model.to(DEVICE).train()
    loss_mod = LossModule(model)
    fn = loss_mod
    if mode is not None and COMPILE_OK:
        if regional:
            # layer 0 stays eager: its input (frozen embeddings) needs no grad, the others'
            # does, which would be a second graph; dynamic=True: one graph for every batch
            for layer in loss_mod.backbone.layers[1:]:
                layer.compile(mode=None if mode == "default" else mode, dynamic=True)
        else:
            fn = torch.compile(loss_mod, mode=None if mode == "default" else mode)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, fused=bool(fused and CUDA),
                            foreach=None if fused and CUDA else True)
    total = (warm + steps) * len(batches)
    w = max(1, int(0.05 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / w if s < w else max(0.0, (total - s) / max(1, total - w)))
    acc = torch.zeros((), device=DEVICE)
    cudagraphs = mode == "reduce-overhead" and CUDA

    def step(batch):
        nonlocal acc
        ids, pos, labels = data.next(batch)
        if mode is not None and not regional:
            for t in (ids, pos, labels):
                torch._dynamo.mark_dynamic(t, 0)
        if cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=CUDA):
            loss = fn(ids, pos, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        acc = acc + loss.detach()

    out = []
    for batch in batches:
        reset_peak()
        sync()
        t = time.perf_counter()
        step(batch)
        sync()
        first_s = time.perf_counter() - t
        for _ in range(warm - 1):
            step(batch)
        sync()
        warm_s = time.perf_counter() - t
        acc = torch.zeros((), device=DEVICE)
        t = time.perf_counter()
        for _ in range(steps):
            step(batch)
        sync()
        seconds = time.perf_counter() - t
        step_s = seconds / steps
        out.append({"batch": batch, "step_s": step_s,
                    "tokens_per_s": batch * data.mean_length / step_s, "warm_s": warm_s,
                    "first_step_s": first_s,
                    "compile_s": warm_s - warm * step_s if mode is not None else None,
                    "loss": float(acc) / steps, "peak_gb": peak_gb()})
    if mode is not None:
        # one compilation served every batch size; a run at any one of them compiles once,
        # so its amortized rate must carry the first batch's compile time too
        for r in out[1:]:
            r["extra_warm_s"] = r["compile_s"]
            r["compile_s"] = out[0]["compile_s"] + max(0.0, r["compile_s"])
    return out


# ---------------------------------------------------------------- bookkeeping

def add_row(model_name, variant, batch, r, fpt, run_examples, tokens_per_example, **extra):
    peak = RESULTS["peak"].get("bf16_matmul_tflops")
    tflops = fpt * r["tokens_per_s"] / 1e12
    row = {"model": model_name, "variant": variant, "batch": batch,
           "tokens_per_s": round(r["tokens_per_s"]), "step_ms": round(r["step_s"] * 1e3, 2),
           "model_tflops": round(tflops, 1),
           "frac_of_peak": round(tflops / peak, 4) if peak else None,
           "compile_s": None if r.get("compile_s") is None else round(r["compile_s"], 1),
           "warm_s": round(r["warm_s"], 2), "loss": round(r["loss"], 4), "peak_gb": r["peak_gb"],
           **extra}
    run_steps = math.ceil(run_examples / batch)
    run_s = run_steps * r["step_s"] + (r.get("compile_s") or 0.0)
    row["run_steps"] = run_steps
    row["eff_tokens_per_s_run"] = round(run_examples * tokens_per_example / run_s)
    base = next((x for x in RESULTS["rows"] if x["model"] == model_name and x.get("baseline")), None)
    row["ratio_vs_today"] = round(row["tokens_per_s"] / base["tokens_per_s"], 2) if base else 1.0
    row["eff_ratio_vs_today"] = round(row["eff_tokens_per_s_run"] / base["eff_tokens_per_s_run"], 2) if base else 1.0
    RESULTS["rows"].append(row)
    print("row", json.dumps(row), flush=True)
    save()


def variant(name, est_s):
    """Run the decorated job now unless the time budget is spent; record any error."""
    def wrap(job):
        if elapsed() + est_s > BUDGET_S:
            RESULTS["skipped"].append({"variant": name, "at_s": round(elapsed(), 1), "est_s": est_s})
            print("skip", name, flush=True)
            save()
            return None
        print(f"[{elapsed():6.1f}s] {name}", flush=True)
        try:
            job()
        except Exception as e:  # keep measuring the rest
            RESULTS["errors"].append({"variant": name, "error": f"{type(e).__name__}: {e}",
                                      "trace": traceback.format_exc()[-3000:]})
            print("ERROR", name, type(e).__name__, str(e)[:500], flush=True)
            save()
        finally:
            if CUDA:
                torch.cuda.empty_cache()
        return None
    return wrap


def table():
    peak = RESULTS["peak"].get("bf16_matmul_tflops")
    dev = RESULTS["meta"].get("device")
    lines = [f"device: {dev}; bf16 matmul peak measured: {peak} TFLOP/s; "
             f"copy {RESULTS['peak'].get('copy_tb_s_read_plus_write')} TB/s",
             f"{'model':7} {'variant':44} {'batch':>5} {'tok/s':>11} {'TFLOP/s':>8} {'of peak':>8} "
             f"{'x today':>7} {'compile s':>9} {'eff.tok/s run':>13} {'x today':>7} {'GB':>6}"]
    for r in RESULTS["rows"]:
        lines.append(f"{r['model']:7} {r['variant']:44} {r['batch']:>5} {r['tokens_per_s']:>11,} "
                     f"{r['model_tflops']:>8} {r['frac_of_peak'] if r['frac_of_peak'] is not None else '-':>8} "
                     f"{r['ratio_vs_today']:>7} {r['compile_s'] if r['compile_s'] is not None else '-':>9} "
                     f"{r['eff_tokens_per_s_run']:>13,} {r['eff_ratio_vs_today']:>7} "
                     f"{r['peak_gb'] if r['peak_gb'] is not None else '-':>6}")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    import transformers

    RESULTS["meta"] = {"device": torch.cuda.get_device_name(0) if CUDA else "cpu",
                       "torch": torch.__version__, "transformers": transformers.__version__,
                       "smoke": SMOKE, "budget_s": BUDGET_S}
    if CUDA:
        p = torch.cuda.get_device_properties(0)
        RESULTS["meta"].update(sms=p.multi_processor_count, memory_gb=round(p.total_memory / 2**30, 1))
        torch.backends.cuda.matmul.allow_tf32 = True
    print("meta", json.dumps(RESULTS["meta"]), flush=True)
    measure_ceilings()
    save()

    tok, enc = paper_data()
    T = float(enc.length.mean())
    gdata = GPUData(enc, DEVICE)
    V = tok.vocab_size
    width = int(enc.length.max())

    def gpt():
        return build_scratch("paper", V, width, seed=0)

    probe = gpt()
    L, d = probe.config.n_layer, probe.config.n_embd
    n_blocks = block_matmul_params(probe.transformer.h)
    fpt_gpt = flops_per_token(n_blocks, 0, L, d, width, V * d, gdata.k)
    RESULTS["meta"]["gpt2"] = {"params": sum(p.numel() for p in probe.parameters()),
                               "block_matmul_params": n_blocks, "tokens_per_example": T,
                               "target_window": gdata.k, "flops_per_token": fpt_gpt,
                               "attn_implementation": probe.config._attn_implementation}

    # same loss from both loops (one batch, fp32, the same weights)
    idx = np.arange(8)
    ids, mask = batch_tensors(enc, idx, DEVICE)
    probe.to(DEVICE).eval()
    with torch.no_grad():
        logits, labels = target_logits(probe, ids, mask)
        ref = F.cross_entropy(logits.float(), labels)
        g_ids, g_pos, g_lab = (t[:8] for t in (gdata.ids, gdata.pos, gdata.labels))
        new = LossModule(probe)(g_ids, g_pos, g_lab)
    RESULTS["checks"]["gpt2_loss_today_vs_fast"] = [float(ref), float(new)]
    print("loss today vs fast (fp32, same batch):", float(ref), float(new), flush=True)
    del probe

    S = 3 if SMOKE else None  # steps

    def steps(n):
        return S or n

    smallb = [8] if SMOKE else None

    def bs(*b):
        return smallb or list(b)

    # ---- GPT-2: today's loop, eager (the baseline first)
    @variant("gpt2 today eager", 20)
    def _():
        for i, b in enumerate(bs(256, 512, 1024)):
            r = today(gpt(), enc, b, steps(10 if b <= 256 else 5), steps({256: 150, 512: 80}.get(b, 40)), 1e-3)
            add_row("gpt2", "today (eager, sdpa, fused AdamW)", b, r, fpt_gpt, GPT_RUN_EXAMPLES, T,
                    baseline=(i == 0))

    # ---- GPT-2: fast loop, eager
    @variant("gpt2 fast eager", 15)
    def _():
        for r in fast(gpt(), gdata, bs(256, 1024), steps(10), steps(100), 1e-3):
            add_row("gpt2", "fast loop, eager", r["batch"], r, fpt_gpt, GPT_RUN_EXAMPLES, T)

    @variant("gpt2 fast eager foreach AdamW", 6)
    def _():
        for r in fast(gpt(), gdata, bs(256), steps(10), steps(100), 1e-3, fused=False):
            add_row("gpt2", "fast loop, eager, foreach (not fused) AdamW", r["batch"], r, fpt_gpt,
                    GPT_RUN_EXAMPLES, T)

    @variant("gpt2 fast eager attn=eager", 8)
    def _():
        m = gpt()
        m.set_attn_implementation("eager")
        for r in fast(m, gdata, bs(256), steps(10), steps(100), 1e-3):
            add_row("gpt2", "fast loop, eager, attention 'eager' (no SDPA)", r["batch"], r, fpt_gpt,
                    GPT_RUN_EXAMPLES, T)

    # ---- LoRA on a SmolLM2-135M-sized Llama, random weights
    from transformers import LlamaConfig, LlamaForCausalLM

    lcfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                       num_hidden_layers=2 if SMOKE else 30, num_attention_heads=9,
                       num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0,
                       tie_word_embeddings=True, eos_token_id=2, pad_token_id=2)
    shifted = Encoded(enc.ids + 1000, enc.target_start, enc.length)  # letters as ids 1000+
    ldata = GPUData(enc, DEVICE, offset=1000)

    def llama(dtype=torch.float32, dropout=0.05):
        torch.manual_seed(0)
        with torch.device(DEVICE):
            m = LlamaForCausalLM(lcfg)
        m.to(dtype)
        return add_lora(m, rank=64, alpha=128, dropout=dropout, seed=0)

    m = llama()
    base = m.get_base_model()
    n_frozen = block_matmul_params(base.model.layers) - sum(
        p.numel() for n, p in m.named_parameters() if p.requires_grad)
    n_lora = sum(p.numel() for p in m.parameters() if p.requires_grad)
    attn_width = lcfg.num_attention_heads * (lcfg.hidden_size // lcfg.num_attention_heads)
    fpt_lora = flops_per_token(n_lora, n_frozen, lcfg.num_hidden_layers, attn_width, width,
                               lcfg.vocab_size * lcfg.hidden_size, ldata.k, head_trained=False)
    RESULTS["meta"]["lora"] = {"frozen_block_matmul_params": n_frozen, "lora_params": n_lora,
                               "flops_per_token": fpt_lora, "rank": 64,
                               "adapter_dtype": str(next(p for p in m.parameters() if p.requires_grad).dtype),
                               "attn_implementation": base.config._attn_implementation}
    del m, base
    lsteps = (2, 3) if SMOKE else (3, 10)

    @variant("lora today fp32 base", 20)
    def _():
        r = today(llama(), shifted, bs(256)[0], *lsteps, 5e-4)
        add_row("lora", "today (fp32 base, dropout 0.05, eager)", bs(256)[0], r, fpt_lora,
                LORA_RUN_EXAMPLES, T, baseline=True)

    @variant("lora today bf16 base", 15)
    def _():
        r = today(llama(torch.bfloat16), shifted, bs(256)[0], *lsteps, 5e-4)
        add_row("lora", "today, bf16 frozen base", bs(256)[0], r, fpt_lora, LORA_RUN_EXAMPLES, T)

    @variant("lora fast bf16 dropout 0.05", 12)
    def _():
        for r in fast(llama(torch.bfloat16), ldata, bs(256), *lsteps, 5e-4):
            add_row("lora", "fast loop, bf16 base, dropout 0.05", r["batch"], r, fpt_lora,
                    LORA_RUN_EXAMPLES, T)

    @variant("lora fast bf16 dropout 0", 20)
    def _():
        for r in fast(llama(torch.bfloat16, 0.0), ldata, bs(256, 512), *lsteps, 5e-4):
            add_row("lora", "fast loop, bf16 base, dropout 0", r["batch"], r, fpt_lora,
                    LORA_RUN_EXAMPLES, T)

    # ---- compiled variants: the costly ones, last
    @variant("gpt2 fast compile reduce-overhead", 70)
    def _():
        torch._dynamo.reset()
        for r in fast(gpt(), gdata, bs(256, 512, 1024, 2048), steps(8), steps(100), 1e-3,
                      mode="reduce-overhead"):
            add_row("gpt2", "fast loop, compile reduce-overhead (CUDA graphs)", r["batch"], r,
                    fpt_gpt, GPT_RUN_EXAMPLES, T)

    @variant("gpt2 today compile", 45)
    def _():
        torch._dynamo.reset()
        r = today(gpt(), enc, bs(256)[0], steps(20), steps(150), 1e-3, compile_=CUDA)
        add_row("gpt2", "today, compile=True (backbone)", bs(256)[0], r, fpt_gpt, GPT_RUN_EXAMPLES, T)

    @variant("lora fast compile regional", 60)
    def _():
        torch._dynamo.reset()
        for r in fast(llama(torch.bfloat16, 0.0), ldata, bs(256, 512), 4 if not SMOKE else 2,
                      lsteps[1], 5e-4, mode="default", regional=True):
            add_row("lora", "fast loop, bf16 base, dropout 0, compile per layer", r["batch"], r,
                    fpt_lora, LORA_RUN_EXAMPLES, T)

    @variant("gpt2 fast compile default", 40)
    def _():
        torch._dynamo.reset()
        for r in fast(gpt(), gdata, bs(256, 1024), steps(8), steps(100), 1e-3, mode="default"):
            add_row("gpt2", "fast loop, compile default (no CUDA graphs)", r["batch"], r, fpt_gpt,
                    GPT_RUN_EXAMPLES, T)

    RESULTS["meta"]["total_s"] = round(elapsed(), 1)
    save()
    print(table(), flush=True)
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "throughput_table.txt"), "w") as f:
            f.write(table() + "\n")


if __name__ == "__main__":
    main()
