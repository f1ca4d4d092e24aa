"""Teacher-forced exact match vs greedy generate(): same model, same examples.

Examples with inputs of 32 letters and patterns of 6 over 10 letters, half no-ops. A
`cpu`-preset GPT-2 is trained briefly, so it gets some answers right (mostly copies of
no-op inputs) and many wrong; then both methods score the same examples (seen and
unseen rules) with the same batch size. Their verdicts must agree on 100% of them. Prints
the timings and `ratio: X` (generate time / teacher-forced time) last.

    python benchmarks/bench_eval.py [--examples 2000] [--train-steps 300]
"""

import argparse
import time

import numpy as np
import torch

from common import encoded_splits
from rewritelib.evaluate import exact_match, generate_match
from rewritelib.model import build_scratch
from rewritelib.train import TrainConfig, train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--train-steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    tok, enc = encoded_splits(n_instructions=100, budget=50_000, noop_fraction=0.5,
                              input_length=32, pattern_length=6, test_instructions=100,
                              test_examples=args.examples, seen_examples=args.examples)
    model = build_scratch("cpu", tok.vocab_size, int(enc["train"].length.max()))
    train(model, enc["train"], TrainConfig(lr=2e-3, batch_size=64, max_steps=args.train_steps,
                                           device=args.device), progress=False)
    # half seen, half unseen rules: a mix of right and wrong answers
    sub = {k: e.take(slice(args.examples // 2)) for k, e in enc.items() if k != "train"}

    warm = next(iter(sub.values()))
    warm = warm.take(slice(64))
    exact_match(model, warm, device=args.device)  # warm-up: the first calls pick kernels
    generate_match(model, warm, tok.eos_id, tok.pad_id, device=args.device)
    t = time.perf_counter()
    fast = np.concatenate([exact_match(model, e, batch_size=args.batch_size, device=args.device) for e in sub.values()])
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    slow = np.concatenate([generate_match(model, e, tok.eos_id, tok.pad_id, batch_size=args.batch_size,
                                          device=args.device) for e in sub.values()])
    t_slow = time.perf_counter() - t

    agree = (fast == slow).mean()
    print(f"examples: {len(fast)} (seen + unseen rules), exact match {fast.mean():.3f}")
    print(f"verdicts agree: {agree:.1%}")
    print(f"teacher-forced: {t_fast:.2f} s; generate(): {t_slow:.2f} s")
    assert agree == 1.0, "teacher-forced and generate() verdicts differ"
    print(f"ratio: {t_slow / t_fast:.1f}")


if __name__ == "__main__":
    main()
