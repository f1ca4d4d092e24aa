"""The study's comparisons of thresholds, answered with intervals.

Each comparison is the ratio of two arms' fitted thresholds (transition.ratio): 1 means the
same threshold; an interval that excludes 1 resolves the question, one that holds it does
not. ``python -m rewritelib.comparisons`` prints the README's table from the committed
records (a few seconds per row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import ConfigError
from .study import collect, study_name
from .transition import ratio

# (experiment, question, (study, split, {column: value}) of arm a, the same of arm b); the
# studies as named at the cpu scale (study.study_name gives another scale's)
COMPARISONS = [
    ("E1", "E1: long training / quick", ("diversity-long", "unseen", {}), ("diversity", "unseen", {})),
    ("E2", "E2: 30% no-ops / 10%", ("noop", "has_op", {"noop_fraction": 0.3}),
     ("noop", "has_op", {"noop_fraction": 0.1})),
    ("E2", "E2: 50% no-ops / 10%", ("noop", "has_op", {"noop_fraction": 0.5}),
     ("noop", "has_op", {"noop_fraction": 0.1})),
    ("E2", "E2 control: 50% on top / E2's 10%", ("noop-control", "has_op", {"noop_fraction": 0.5}),
     ("noop", "has_op", {"noop_fraction": 0.1})),
    ("E2", "E2 control: 50% on top / 50% in the budget", ("noop-control", "has_op", {"noop_fraction": 0.5}),
     ("noop", "has_op", {"noop_fraction": 0.5})),
    ("E6", "E6: scratch / pretrained, plain", ("pretrained", "has_op", {"model": "scratch", "encrypt": False}),
     ("pretrained", "has_op", {"model": "pretrained", "encrypt": False})),
    ("E6", "E6: scratch, encrypted / plain", ("pretrained", "has_op", {"model": "scratch", "encrypt": True}),
     ("pretrained", "has_op", {"model": "scratch", "encrypt": False})),
    # the pretrained encrypted curve exists only with E6-budget's 400 LoRA steps (E6's 100 learn
    # no encrypted rewriting); the scratch arm is E6's, at its own recipe, on the same data
    ("E6", "E6 encrypted: scratch / pretrained (400 LoRA steps)",
     ("pretrained", "has_op", {"model": "scratch", "encrypt": True}), ("pretrained-encrypted-long", "has_op", {})),
    ("E5", "E5: ten occurrences / mixed", ("occurrences", "unseen", {"occurrences": "10"}),
     ("occurrences", "unseen", {"occurrences": "1,5,10,15,20"})),
    # I counts programs in E7 and rules in E1: a ratio of 2 is as many distinct rules
    ("E7", "E7: 2-rule programs / single rules (E1)", ("programs", "unseen", {"program_length": 2}),
     ("diversity", "unseen", {})),
    # m = 3 trains with E1-long's recipe (3x the steps), so its single-rule arm is E1-long's
    ("E7", "E7-m3: 3-rule programs / single rules, both trained 3x longer (E1-long)",
     ("programs-m3", "unseen", {"program_length": 3}), ("diversity-long", "unseen", {})),
]


def arm(study: str, split: str, where: dict, scale: str = "cpu", summaries=None) -> pd.DataFrame:
    """One arm's runs: a study's rows of one split where the columns hold these values
    (``summaries``: the studies already collected, by name, so each is read once)."""
    name = study_name(study, scale)
    summaries = {} if summaries is None else summaries
    if name not in summaries:
        summaries[name] = collect(name)
    d = summaries[name]
    if d.empty:
        raise ConfigError(f"study: no finished runs in {name}")
    d = d[d["split"] == split]
    for column, value in where.items():
        d = d[d[column].astype(str) == str(value)]
    return d


def comparisons_table(experiments=None, scale: str = "cpu", levels=(0.5,), replicates: int = 1000,
                      seed: int = 0) -> pd.DataFrame:
    """The comparisons of these experiments (None: all) at a scale, one row per level; a
    comparison whose arms are not run, or cannot be fitted, says why in ``note``."""
    rows, summaries = [], {}
    for experiment, question, a, b in COMPARISONS:
        if experiments is not None and experiment not in experiments:
            continue
        for level in levels:
            row = {"comparison": question, "level": level}
            try:
                r = ratio(arm(*a, scale, summaries), arm(*b, scale, summaries), level, replicates, seed)
                never = np.isnan(r["ratio"]) and r["ci_low"] == np.inf  # a's curve stays under the level
                row.update(r, resolved=not r["ci_low"] <= 1 <= r["ci_high"],
                           note="the first arm never reaches this level" if never else "")
            except ConfigError as e:  # not run at this scale, or fewer than 3 values of I
                row.update(ratio=np.nan, ci_low=np.nan, ci_high=np.nan, resolved=None, note=str(e))
            rows.append(row)
    return pd.DataFrame(rows, columns=["comparison", "level", "ratio", "ci_low", "ci_high", "resolved", "note"])


if __name__ == "__main__":
    print(comparisons_table(levels=(0.5, 0.9)).to_string(index=False))
