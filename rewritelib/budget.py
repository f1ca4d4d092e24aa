"""How a fixed budget of examples is spread over I instructions.

- uniform: S = budget / I examples per rule (the remainder goes, one each, to random rules);
- skewed: rule weights are drawn from the power law with density a * x^(a-1) on [0, 1]
  (``numpy.random.Generator.power(a)``), normalized, and the budget is split by a
  multinomial draw. a = 1 is uniform weights; small a makes most weights tiny, so a
  few rules take most of the budget and many are barely seen (possibly never).
"""

from __future__ import annotations

import numpy as np


def examples_per_rule(rng: np.random.Generator, n_rules: int, budget: int,
                      skew: float | None) -> np.ndarray:
    """Realized example count of each rule (int64, sums to ``budget``)."""
    if skew is None:
        counts = np.full(n_rules, budget // n_rules, dtype=np.int64)
        counts[rng.permutation(n_rules)[: budget % n_rules]] += 1
        return counts
    weights = rng.power(skew, size=n_rules)
    if weights.sum() == 0:  # only reachable for absurdly small a: every weight underflowed
        weights[:] = 1.0
    return rng.multinomial(budget, weights / weights.sum()).astype(np.int64)


def effective_rules(counts: np.ndarray) -> float:
    """How many rules the budget is really spread over: exp(entropy) of the shares.

    I for a uniform split, fewer the more skewed (a rule drawn 1,000 times and a rule drawn
    once do not count alike). The paper's reading of E3 is that a skewed set of I rules
    trains like a uniform set of fewer rules; this puts a number on "fewer".
    """
    p = counts[counts > 0] / max(int(counts.sum()), 1)
    return float(np.exp(-(p * np.log(p)).sum())) if len(p) else 0.0


def skew_summary(counts: np.ndarray) -> dict:
    """What a skewed split looks like: how many rules are seen at all, and how unevenly."""
    ranked = np.sort(counts)[::-1]
    total = max(int(counts.sum()), 1)
    top = max(1, len(counts) // 10)
    return {
        "rules_with_examples": int((counts > 0).sum()),
        "effective_rules": round(effective_rules(counts), 1),
        "min": int(ranked[-1]),
        "median": float(np.median(counts)),
        "max": int(ranked[0]),
        "top10pct_share": float(ranked[:top].sum() / total),
    }
