"""The study's comparisons of thresholds, answered with intervals.

Each comparison is the ratio of two arms' fitted thresholds (transition.ratio): 1 means the
same threshold; an interval that excludes 1 resolves the question, one that holds it does
not. ``python -m rewritelib.comparisons`` prints the README's table from the committed
records (a few seconds per row).
"""

from __future__ import annotations

import pandas as pd

from .study import collect
from .transition import ratio

# (question, (study, split, {column: value}) of arm a, the same of arm b)
COMPARISONS = [
    ("E1: long training / quick", ("diversity-long", "unseen", {}), ("diversity", "unseen", {})),
    ("E2: 30% no-ops / 10%", ("noop", "has_op", {"noop_fraction": 0.3}), ("noop", "has_op", {"noop_fraction": 0.1})),
    ("E2: 50% no-ops / 10%", ("noop", "has_op", {"noop_fraction": 0.5}), ("noop", "has_op", {"noop_fraction": 0.1})),
    ("E2 control: 50% on top / E2's 10%", ("noop-control", "has_op", {"noop_fraction": 0.5}),
     ("noop", "has_op", {"noop_fraction": 0.1})),
    ("E2 control: 50% on top / 50% in the budget", ("noop-control", "has_op", {"noop_fraction": 0.5}),
     ("noop", "has_op", {"noop_fraction": 0.5})),
    ("E6: scratch / pretrained, plain", ("pretrained", "has_op", {"model": "scratch", "encrypt": False}),
     ("pretrained", "has_op", {"model": "pretrained", "encrypt": False})),
    ("E6: scratch, encrypted / plain", ("pretrained", "has_op", {"model": "scratch", "encrypt": True}),
     ("pretrained", "has_op", {"model": "scratch", "encrypt": False})),
    ("E5: ten occurrences / mixed", ("occurrences", "unseen", {"occurrences": "10"}),
     ("occurrences", "unseen", {"occurrences": "1,5,10,15,20"})),
]


def arm(study: str, split: str, where: dict) -> pd.DataFrame:
    d = collect(study)
    d = d[d["split"] == split]
    for column, value in where.items():
        d = d[d[column].astype(str) == str(value)]
    return d


def comparisons_table(levels=(0.5,), replicates: int = 1000, seed: int = 0) -> pd.DataFrame:
    rows = []
    for question, a, b in COMPARISONS:
        for level in levels:
            r = ratio(arm(*a), arm(*b), level, replicates, seed)
            resolved = not r["ci_low"] <= 1 <= r["ci_high"]
            rows.append({"comparison": question, **r, "resolved": resolved})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    print(comparisons_table(levels=(0.5, 0.9)).to_string(index=False))
