"""Data generation speed at paper scale: rewritelib vs a plain-Python loop, same spec.

10^6 training examples, inputs of 50 letters, patterns and replacements of 20, 1,000
instructions (plus 1,000 unseen test rules with 1,000 test examples), 30% no-ops so both
kinds of input are exercised. Both sides build the examples in memory (no file writing)
and verify occurrence counts. rewritelib keeps inputs as letter-index arrays (what the
character-level trainer reads) and makes Python strings only on demand; the time to also
build every input/output string is printed on its own line, with its ratio. The last line,
`ratio: X`, is loop time / rewritelib time for the in-memory data set.

    python benchmarks/bench_data.py [--examples 1000000] [--repeats 3]
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the goal is stated for one core

import argparse
import random
import time

from rewritelib.config import DataConfig
from rewritelib.dataset import build_dataset
from rewritelib.rules import count_occurrences, rewrite


def plain_loop(cfg: DataConfig) -> list[tuple]:
    """The obvious implementation: one example at a time with the `random` module."""
    rnd = random.Random(cfg.seed)
    letters, n, lp = cfg.alphabet, cfg.input_length, cfg.pattern_length[0]

    def word(k):
        return "".join(rnd.choices(letters, k=k))

    taken, rules = set(), []
    while len(rules) < cfg.n_instructions + cfg.test_instructions:
        x, y = word(lp), word(lp)
        if x not in taken and y not in taken and x != y:
            taken |= {x, y}
            rules.append((x, y))
    train, test = rules[:cfg.n_instructions], rules[cfg.n_instructions:]

    def example(x, y, noop):
        while True:
            if noop:
                z = word(n)
            else:
                i = rnd.randrange(n - lp + 1)
                z = word(i) + x + word(n - lp - i)
            if count_occurrences(z, x) == (0 if noop else 1):
                return x, y, z, rewrite(z, x, y)

    out = []
    for part, total in ((train, cfg.budget), (test, cfg.test_examples)):
        per_rule = total // len(part)
        for x, y in part:
            for _ in range(per_rule):
                out.append(example(x, y, rnd.random() < cfg.noop_fraction))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg = DataConfig(n_instructions=1000, budget=args.examples, noop_fraction=0.3,
                     input_length=50, pattern_length=20, test_instructions=1000,
                     test_examples=1000, seen_examples=0, seed=0)

    ours, strings = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        ds = build_dataset(cfg)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        for split in ds.splits.values():
            split.pattern, split.replacement, split.input, split.output
        strings.append(time.perf_counter() - t)
    n = sum(len(s) for s in ds.splits.values())
    t = time.perf_counter()
    loop_examples = plain_loop(cfg)
    loop = time.perf_counter() - t
    assert len(loop_examples) == n

    best, with_strings = min(ours), min(o + s for o, s in zip(ours, strings))
    print(f"examples: {n:,} (input {cfg.input_length}, pattern {cfg.pattern_length[0]}, "
          f"{cfg.n_instructions} instructions, {cfg.noop_fraction:.0%} no-ops)")
    print(f"rewritelib: {best:.2f} s best of {args.repeats} ({n / best / 1e6:.2f} M examples/s)")
    print(f"rewritelib + all strings: {with_strings:.2f} s (ratio {loop / with_strings:.1f})")
    print(f"plain loop: {loop:.2f} s ({n / loop / 1e6:.2f} M examples/s)")
    print(f"ratio: {loop / best:.1f}")


if __name__ == "__main__":
    main()
