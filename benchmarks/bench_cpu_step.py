"""How close the CPU training step comes to this machine's matmul peak, and what helps.

The `cpu` preset's E1 run (GPT-2 3 x 128 x 4, batches of 64, I = 64, 26 letters, input 8)
trained for --steps steps in several ways, each from the same fresh model and batches:

    today       rewritelib.train.train on CPU (what every run does now)
    fixed       the GPU path's loss on CPU: every batch padded to one width, target positions
                gathered (no boolean indexing), the same math
    fixed+fused fixed, with AdamW's fused CPU kernel
    compiled    fixed+fused, loss module through torch.compile (inductor's C++ kernels); the
                compile time is printed apart and not in the tokens/s
    bf16        fixed+fused under bf16 autocast (CPUs with avx512_bf16 or AMX); not what
                the study's records use: it changes the arithmetic

The peak is measured in the same run: a 2,048 x 2,048 fp32 matmul at the same thread count.
Model FLOPs per token: 6 x (matmul parameters of the blocks) + 6 x layers x width x (mean
tokens attended, causal), the usual count (Kaplan et al.); padding is not counted as useful.
Prints one line per variant with tokens/s, GFLOP/s, the fraction of peak and the ratio to
`today`.

    OMP_NUM_THREADS=1 python benchmarks/bench_cpu_step.py [--steps 150] [--variants today,compiled]
"""

import argparse
import time

import numpy as np
import torch

from common import encoded_splits
from rewritelib.model import ARCHS, build_scratch
from rewritelib.presets import run_settings
from rewritelib.train import TrainConfig, _gpu_step, train


def matmul_peak(seconds: float = 3.0, n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    reps, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        a @ b
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def flops_per_token(model, mean_tokens: float) -> float:
    layers, width, _ = ARCHS["cpu"]
    blocks = sum(p.numel() for n, p in model.named_parameters() if ".h." in n and p.dim() == 2)
    return 6 * blocks + 6 * layers * width * mean_tokens / 2


def fixed_shape_run(model, enc, steps, batch_size, lr, fused, compiled, bf16=False):
    """The loop of train() with the GPU path's loss: returns (tokens/s, compile seconds)."""
    loss_fn, batch_of = _gpu_step(model, enc, "cpu", compiled=False)  # the GPU path's loss and batches
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, fused=fused or None)
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(enc), batch_size, replace=False) for _ in range(steps + 1)]
    compile_s = 0.0
    if compiled:
        loss_fn = torch.compile(loss_fn)
        t = time.perf_counter()
        loss_fn(*batch_of(batches[-1])).backward()  # compiles forward and backward
        opt.zero_grad(set_to_none=True)
        compile_s = time.perf_counter() - t
    tokens, t = 0, time.perf_counter()
    for idx in batches[:steps]:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(*batch_of(idx))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(enc.length[idx].sum())
    return tokens / (time.perf_counter() - t), compile_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--variants", default="today,fixed,fixed+fused,compiled,bf16")
    args = ap.parse_args()
    data_kw, _ = run_settings("cpu", 64, 0)
    tok, enc = encoded_splits(**data_kw)
    enc = enc["train"]
    width, lr, batch = int(enc.length.max()), 1e-3, 64

    peak = matmul_peak()
    per_token = flops_per_token(build_scratch("cpu", tok.vocab_size, width, seed=0), float(enc.length.mean()))
    print(f"{torch.get_num_threads()} torch thread(s); fp32 matmul peak {peak:.1f} GFLOP/s; "
          f"{per_token / 1e6:.2f} MFLOP a token (mean {enc.length.mean():.1f} tokens an example)")
    base = None
    for variant in args.variants.split(","):
        model = build_scratch("cpu", tok.vocab_size, width, seed=0)
        compile_s = 0.0
        if variant == "today":
            info = train(model, enc, TrainConfig(lr=lr, batch_size=batch, max_steps=args.steps,
                                                 device="cpu", log_every=10**6), progress=False)
            tps = info["tokens_per_s"]
        else:
            tps, compile_s = fixed_shape_run(model, enc, args.steps, batch, lr,
                                             fused=variant != "fixed", compiled=variant == "compiled",
                                             bf16=variant == "bf16")
        gflops = tps * per_token / 1e9
        base = base or tps
        extra = f", compile {compile_s:.0f} s" if compile_s else ""
        print(f"{variant:12s} {tps:10,.0f} tokens/s  {gflops:6.1f} GFLOP/s  {gflops / peak:6.1%} of peak  "
              f"x{tps / base:.2f}{extra}", flush=True)


if __name__ == "__main__":
    main()
