"""How should letters reach a BPE tokenizer: plain ("abc>d") or spaced ("a b c > d")?

Measured on SmolLM2-135M-Instruct's tokenizer and model:
1. tokens per example (cost) for paper-shaped examples (input 50, pattern 20);
2. visibility of the rule: how often the pattern's own tokens appear, as a run, among the
   input's tokens (a model can only "see" the match at token level when they do);
3. stability: how often the untouched end of the input keeps its tokens in the output;
4. learning (``--train-steps N``): the same LoRA run on short examples with each
   presentation, loss and exact match on seen / unseen rules after N steps.

    python benchmarks/bpe_presentation.py [--train-steps 150]
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from rewritelib.config import DataConfig  # noqa: E402
from rewritelib.dataset import build_dataset, write_dataset  # noqa: E402
from rewritelib.encoding import HFEncoder  # noqa: E402
from rewritelib.model import load_pretrained  # noqa: E402


def contains_run(seq, sub):
    n = len(sub)
    return any(seq[i:i + n] == sub for i in range(len(seq) - n + 1))


def token_stats(tokenizer, n=2000):
    ds = build_dataset(DataConfig(n_instructions=100, budget=n, test_instructions=1,
                                  test_examples=1, seen_examples=0, seed=0))
    s = ds.splits["train"]
    rows = []
    for presentation in ("plain", "spaced"):
        enc = HFEncoder(tokenizer, ds.config.alphabet, presentation)
        e = enc.encode_examples(s.pattern, s.replacement, s.input, s.output)
        spaced = presentation == "spaced"
        tok = (lambda t: tokenizer(" " + " ".join(t), add_special_tokens=False)["input_ids"]) if spaced \
            else (lambda t: tokenizer(t, add_special_tokens=False)["input_ids"])
        visible = np.mean([contains_run(tok(z), tok(x)) for x, z in zip(s.pattern[:500], s.input[:500])])
        # where the rewrite ends 10+ letters before the end, the last 5 letters of input and
        # output are the same text: do they keep the same tokens?
        ends = s.first + np.array([len(x) for x in s.pattern])
        far = [i for i in range(500) if s.is_noop[i] or ends[i] <= len(s.input[i]) - 10]
        stable = np.mean([tok(s.input[i])[-5:] == tok(s.output[i])[-5:] for i in far])
        rows.append((presentation, float(e.length.mean()), float((e.length - e.target_start).mean()),
                     visible, stable))
    return rows


def learning(train_steps):
    from rewritelib.run import RunConfig, run

    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(build_dataset(DataConfig(
            n_instructions=50, budget=4000, test_instructions=20, test_examples=200,
            seen_examples=200, input_length=12, pattern_length=3, noop_fraction=0.25,
            alphabet="abcdefghijklmnopqrstuvwxyz", seed=0)), os.path.join(tmp, "d"))
        out = []
        for presentation in ("plain", "spaced"):
            r = run(RunConfig.from_args(data=str(data), out=os.path.join(tmp, presentation),
                                        model="pretrained", preset="cpu", presentation=presentation,
                                        max_steps=train_steps, batch_size=8, lr=1e-3, log_every=10),
                    progress=False)
            m, t = r["metrics"], r["train_info"]
            out.append((presentation, t["loss_curve"][-1][1], m["seen"]["exact_match"],
                        m["unseen"]["exact_match"], t["tokens_per_s"], t["seconds"]))
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-steps", type=int, default=0)
    args = ap.parse_args()
    _, tokenizer = load_pretrained("smollm2")
    print("presentation | tokens/example | target tokens | pattern visible in input | untouched tail keeps its tokens")
    for p, n, t, v, s in token_stats(tokenizer):
        print(f"{p:12} | {n:14.1f} | {t:13.1f} | {v:24.1%} | {s:.1%}")
    if args.train_steps:
        print(f"\nLoRA (rank 16), {args.train_steps} steps of 8 examples, input 12, pattern 3:")
        print("presentation | final loss | seen EM | unseen EM | tokens/s | seconds")
        for p, loss, seen, unseen, tps, sec in learning(args.train_steps):
            print(f"{p:12} | {loss:10.3f} | {seen:7.3f} | {unseen:9.3f} | {tps:8.0f} | {sec:.0f}")


if __name__ == "__main__":
    main()
