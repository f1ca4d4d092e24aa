"""The paper's numbers as data, and the table "paper | ours" built from the committed records.

``CLAIMS`` holds what Zhang, Wang & Charton (arXiv 2402.10891) and its follow-up Only-IF
(arXiv 2410.04717) report per experiment, each with where it comes from (as quoted in
``../shared/STUDY.md``), and a function that reads our side from the records: the committed
``summary.csv`` (mean ± sd over seeds) and ``thresholds.csv`` (fitted, with 95% bootstrap
intervals) of each study. Nothing in the "ours" column is typed by hand:

    python -m rewritelib.paper            # the table as markdown (the README's copy of it)
    python -m rewritelib.paper --check README.md   # exit 1 when the README's copy is stale

A claim whose study has no records (a fresh folder, a tiny sweep) says "not run".
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .study import runs_root, seeds_passing

BEGIN, END = "<!-- paper-vs-ours:begin -->", "<!-- paper-vs-ours:end -->"
MAIN = "Zhang, Wang & Charton 2024 (arXiv 2402.10891)"
ONLY_IF = "Only-IF (arXiv 2410.04717)"


class Records:
    """The committed tables of every study under a runs folder, read once each."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or runs_root())
        self._cache: dict = {}

    def _read(self, study: str, name: str) -> pd.DataFrame | None:
        if (study, name) not in self._cache:
            path = self.root / study / name
            self._cache[study, name] = pd.read_csv(path) if path.exists() else None
        return self._cache[study, name]

    def accuracy(self, study: str, split: str = "unseen", **where) -> pd.Series | None:
        """Exact match of the runs on one split, one value per seed, where columns equal
        the values given (n_instructions=512, skew="0.1", ...); None if no such run."""
        df = self._read(study, "summary.csv")
        if df is None:
            return None
        d = df[df["split"] == split]
        for column, value in where.items():
            d = d[d[column].astype(str) == str(value)]
        return d["exact_match"] if len(d) else None

    def threshold(self, study: str, arm: str = "all", level: float = 0.5, axis: str = "n_instructions"):
        """The row of thresholds.csv for one arm and level, or None."""
        df = self._read(study, "thresholds.csv")
        if df is None:
            return None
        row = df[(df["arm"] == arm) & (df["level"] == level) & (df["axis"] == axis)]
        return row.iloc[0] if len(row) else None


def seeds_past(values: pd.Series | None, level: float = 0.5) -> str:
    """How often a seed generalizes: "4 of 10 seeds past 50% (0.17-0.69, 95% Wilson)"."""
    if values is None:
        return "not run"
    row = seeds_passing(pd.DataFrame({"split": "unseen", "at": 0, "exact_match": values}), level, index="at").iloc[0]
    return (f"{int(row['passing'])} of {int(row['seeds'])} seeds past {level:.0%} "
            f"({row['ci_low']:.2f}-{row['ci_high']:.2f}, 95% Wilson)")


def mean_sd(values: pd.Series | None) -> str:
    """0.84 ± 0.03 (3 seeds); one seed has no sd."""
    if values is None:
        return "not run"
    if len(values) == 1:
        return f"{values.iloc[0]:.2f} (1 seed)"
    return f"{values.mean():.2f} ± {values.std():.2f} ({len(values)} seeds)"


def fitted(row, name: str = "I") -> str:
    """I = 413 (390-435), or the status when the fit gives no number."""
    if row is None:
        return "not run"
    if row["status"] != "fitted":
        return row["status"]
    return f"{name} = {_g(row['I_estimate'])} ({_g(row['I_ci_low'])}-{_g(row['I_ci_high'])})"


def _plateau(row) -> str:
    """ (plateau 0.36), for thresholds taken at a share of the fitted plateau; empty when none was fitted."""
    if row is None or not np.isfinite(row["plateau"]):
        return ""
    return f" (plateau {row['plateau']:.2f})"


def _g(x: float) -> str:
    if not np.isfinite(x):
        return "inf"
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _range(values: list[pd.Series | None]) -> str:
    means = [v.mean() for v in values if v is not None]
    return "not run" if not means else f"{min(means):.2f}-{max(means):.2f}"


@dataclass(frozen=True)
class Claim:
    experiment: str
    what: str
    paper: str  # what the paper reports
    source: str  # where it says so
    ours: Callable[[Records], str]  # our side, read from the records


def _e1_few(r: Records) -> str:
    low = [(i, r.accuracy("diversity", n_instructions=i)) for i in (8, 64, 256)]
    return ", ".join(f"I = {i}: {mean_sd(v)}" for i, v in low)


def _e1_threshold(r: Records) -> str:
    return (f"{fitted(r.threshold('diversity'))}, fitted, 95% interval; "
            f"trained 3x longer (E1-long): {fitted(r.threshold('diversity-long'))}, where at I = 256 "
            f"{seeds_past(r.accuracy('diversity-long', n_instructions=256))}")


def _e1_plateau(r: Records) -> str:
    return (f"I = 1,024: {mean_sd(r.accuracy('diversity', n_instructions=1024))}, "
            f"2,048: {mean_sd(r.accuracy('diversity', n_instructions=2048))}; "
            f"E1-long: {mean_sd(r.accuracy('diversity-long', n_instructions=1024))} and "
            f"{mean_sd(r.accuracy('diversity-long', n_instructions=2048))}")


def _e2_threshold(r: Records) -> str:
    arms = [(f"{share:.0%}", r.threshold("noop", f"noop_fraction={share}")) for share in (0.1, 0.3, 0.5)]
    return "has-op inputs, " + "; ".join(f"{name} no-ops: {fitted(row)}" for name, row in arms)


def _e2_reads(r: Records) -> str:
    at = dict(n_instructions=1024, split="has_op")
    return (f"I = 1,024, has-op: 10% no-ops {mean_sd(r.accuracy('noop', noop_fraction=0.1, **at))}, "
            f"50% {mean_sd(r.accuracy('noop', noop_fraction=0.5, **at))}, 50% on top of 10%'s has-op "
            f"examples {mean_sd(r.accuracy('noop-control', noop_fraction=0.5, **at))}, the same with 1.8x "
            f"the steps {mean_sd(r.accuracy('noop-reads', **at))}")


def _e3_near(r: Records) -> str:
    skews = ("uniform", 0.5, 0.2, 0.03)
    cells = ", ".join(f"a = {a}: {mean_sd(r.accuracy('skew', n_instructions=512, skew=a))}" for a in skews)
    return (f"I = 512: {cells}; under 50% once "
            f"{fitted(r.threshold('skew', 'n_instructions=512', axis='skew'), 'a')}")


def _e3_far(r: Records) -> str:
    skews = ("uniform", 0.1, 0.03)
    cells = ", ".join(f"a = {a}: {mean_sd(r.accuracy('skew', n_instructions=5120, skew=a))}" for a in skews)
    return f"I = 5,120: {cells}"


def _e4_few(r: Records) -> str:
    at = [r.accuracy("families", n_instructions=256, family=f) for f in ("repeated", "periodic", "mirrored", "mixed")]
    return f"I = 256, any family: mean {_range(at)}"


def _e4_alone(r: Records) -> str:
    def at(study, families):
        return ", ".join(f"{f} {mean_sd(r.accuracy(study, n_instructions=1536, family=f))}" for f in families)
    # k = 6 makes a periodic or mirrored pattern any 6-letter string: E4-narrow trains on 3-4
    return (f"I = 1,536, training k = 3-6: {at('families', ('repeated', 'periodic', 'mirrored'))}; "
            f"training k = 3-4 (E4-narrow): {at('families-narrow', ('periodic', 'mirrored'))}")


def _e4_mixed(r: Records) -> str:
    at = {study: mean_sd(r.accuracy(study, n_instructions=1536, family="mixed"))
          for study in ("families", "families-narrow")}
    return f"I = 1,536: mixed {at['families']}; trained on k = 3-4 (E4-narrow) {at['families-narrow']}"


def _e5(r: Records) -> str:
    counts = (("one", 1), ("ten", 10), ("twenty", 20), ("mixed", "1,5,10,15,20"))
    return "I = 1,024: " + ", ".join(
        f"{name} {mean_sd(r.accuracy('occurrences', n_instructions=1024, occurrences=c))}" for name, c in counts)


def _e6_few(r: Records) -> str:
    at = dict(model="pretrained", encrypt=True)
    grid = (8, 32, 128, 512, 2048)
    noop = [r.accuracy("pretrained", "noop", n_instructions=i, **at) for i in grid]
    has_op = [r.accuracy("pretrained", "has_op", n_instructions=i, **at) for i in grid]
    return (f"pretrained + LoRA, encrypted, I = 8-2,048: no-ops {_range(noop)}, has-op {_range(has_op)} "
            f"(100 LoRA steps; 400 steps learn it at I = 2,048: "
            f"{mean_sd(r.accuracy('pretrained-budget', 'has_op', budget=20000, skew='uniform'))})")


def _e6_budget(r: Records) -> str:
    arms = (("full", 20000, "uniform"), ("half uniform", 10000, "uniform"),
            ("half, a = 0.1", 10000, 0.1), ("half, a = 0.01", 10000, 0.01))
    return "I = 2,048, encrypted, has-op: " + ", ".join(
        f"{name} {mean_sd(r.accuracy('pretrained-budget', 'has_op', budget=b, skew=a))}" for name, b, a in arms)


def _e6_threshold(r: Records) -> str:
    plain = [(m, r.threshold("pretrained", f"model={m}, encrypt=False")) for m in ("pretrained", "scratch")]
    return "has-op, plain: " + ", ".join(f"{m} {fitted(row)}" for m, row in plain) + \
        f"; encrypted: pretrained {fitted(r.threshold('pretrained', 'model=pretrained, encrypt=True'))}, " \
        f"scratch {fitted(r.threshold('pretrained', 'model=scratch, encrypt=True'))}, pretrained with 400 LoRA " \
        f"steps (E6-encrypted-long) {fitted(r.threshold('pretrained-encrypted-long'))}"


def _e7_programs(r: Records) -> str:
    m2 = dict(program_length=2)
    cells = ", ".join(f"{i:,}: {mean_sd(r.accuracy('programs', n_instructions=i, **m2))}" for i in (1024, 4096))
    row = r.threshold("programs", "program_length=2", level=0.9)
    return (f"2-rule programs, unseen, I = {cells}; at 90% of the plateau{_plateau(row)}: {fitted(row)}; "
            f"single rules (E1), at 90% of theirs: {fitted(r.threshold('diversity', level=0.9))}")


def _e7_m3(r: Records) -> str:
    cells = ", ".join(f"{i:,}: {mean_sd(r.accuracy('programs-m3', n_instructions=i))}" for i in (1024, 2048, 2800))
    row = r.threshold("programs-m3", "program_length=3", level=0.9)
    return (f"3-rule programs, trained 3x longer, unseen, I = {cells}; at 90% of the plateau{_plateau(row)}: "
            f"{fitted(row)}; single rules trained as long (E1-long), at 90% of theirs: "
            f"{fitted(r.threshold('diversity-long', level=0.9))}")


def _e7_compose(r: Records) -> str:
    def at(study, m):
        return " / ".join(mean_sd(r.accuracy(study, program_length=m, n_instructions=i)) for i in (1024, 4096))

    return ("unseen 2-rule programs, I = 1,024 / 4,096 instructions, trained on single rules: "
            f"{at('programs-compose', 1)}; on a mix, half single rules and half programs: "
            f"{at('programs-compose', '1,2')}; on programs alone: {at('programs', 2)}")


CLAIMS = [
    Claim("E1", "few instructions", "unseen accuracy ~0 below ~300 instructions",
          f"{MAIN}, E1: \"below ~300 instructions the model never generalizes to unseen rules\"", _e1_few),
    Claim("E1", "threshold (unseen passes 50%)", "a sharp transition near 400-500 instructions",
          f"{MAIN}, E1: \"a sharp transition near 400-500\"", _e1_threshold),
    Claim("E1", "plateau", "~1.0 from ~1,000 instructions on",
          f"{MAIN}, E1: \"from ~1,000 on it always does, even with a handful of examples per rule\"",
          _e1_plateau),
    Claim("E2", "threshold with 10-50% no-ops", "stays near 400-500; the no-op share barely moves it",
          f"{MAIN}, E2: \"the transition stays near 400-500 instructions\"", _e2_threshold),
    Claim("E2", "controls (ours): has-op examples held vs read", "-",
          "not in the paper: our controls for E2's fixed budget and fixed steps", _e2_reads),
    Claim("E3", "skew near the threshold", "I = 10^3 collapses once a < 0.2",
          f"{MAIN}, E3: \"I = 10^3 collapses once a < 0.2: rare rules are barely seen\"", _e3_near),
    Claim("E3", "skew far past the threshold", "I >= 10^4 robust to skew",
          f"{MAIN}, E3: \"I >= 10^4 is robust to skew\"", _e3_far),
    Claim("E4", "few instructions", "500 instructions or fewer never transfer to small k",
          f"{ONLY_IF}: \"models trained on <= 500 instructions never generalize\"", _e4_few),
    Claim("E4", "one family alone", "does not transfer to small k",
          f"{ONLY_IF}: \"a single family does not transfer to small k\"", _e4_alone),
    Claim("E4", "the three families mixed", "transfer to small k",
          f"{ONLY_IF}: \"all three mixed with large k does\"", _e4_mixed),
    Claim("E5", "occurrences of x in training inputs", "at I = 1,000: one .41, ten .71, twenty .28, mixed .94",
          f"{MAIN}, E5 table: accuracy at I = 2000 / 1000 / 500 / 200", _e5),
    Claim("E6", "encrypted rewriting, few instructions", "only the no-ops solved (about 40% accuracy)",
          f"{MAIN}, E6: \"with few instructions the model only solves the no-ops\"", _e6_few),
    Claim("E6", "many instructions, half the budget", "halving uniformly does not hurt, halving with a skew does",
          f"{MAIN}, E6: \"with 9,000 instructions, halving the data uniformly does not hurt, "
          "halving it with a skew does\"", _e6_budget),
    Claim("E6", "threshold, pretrained vs scratch (ours)", "-",
          "not in the paper: the same data, GPT-2 from scratch beside SmolLM2-135M + LoRA", _e6_threshold),
    Claim("E7", "instructions that are programs of 2 rules (ours)", "-",
          f"not in the paper, which calls rewriting \"the building block of Markov algorithms\" ({MAIN}, "
          "introduction); notebooks/07_markov_programs.ipynb", _e7_programs),
    Claim("E7", "instructions that are programs of 3 rules (ours)", "-",
          "not in the paper: E7 with m = 3, trained 3x longer (the quick recipe learns no 3-rule program)",
          _e7_m3),
    Claim("E7", "composing single rules into programs (ours)", "-",
          "not in the paper: trained on single rules, or a mix, scored on unseen 2-rule programs", _e7_compose),
]


def paper_vs_ours(root: str | Path | None = None) -> pd.DataFrame:
    """One row per claim: experiment, what, paper, ours (from the records), source."""
    records = Records(root)
    return pd.DataFrame([{"experiment": c.experiment, "what": c.what, "paper": c.paper,
                          "ours": c.ours(records), "source": c.source} for c in CLAIMS])


def markdown(table: pd.DataFrame | None = None) -> str:
    """The table as the README holds it, between its markers."""
    table = paper_vs_ours() if table is None else table
    lines = ["| | paper | ours (`cpu` preset, committed records) |", "| --- | --- | --- |"]
    lines += [f"| {r.experiment}: {r.what} | {r.paper} | {r.ours} |" for r in table.itertuples()]
    return "\n".join(lines)


def readme_table(text: str) -> str | None:
    """What a README holds between the markers, or None without them."""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rewritelib.paper", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", metavar="README", help="exit 1 when README's table is not this one")
    p.add_argument("--write", metavar="README", help="replace README's table with this one")
    args = p.parse_args(argv)
    table = markdown()
    path = args.check or args.write
    if path is None:
        print(table)
        return 0
    text = Path(path).read_text()
    held = readme_table(text)
    if held is None:
        print(f"{path}: has no {BEGIN} ... {END} markers", file=sys.stderr)
        return 2
    if args.write:
        Path(path).write_text(text.replace(held, table, 1) if held else text.replace(BEGIN, f"{BEGIN}\n{table}", 1))
        return 0
    if held != table:
        print(f"{path}: its paper-vs-ours table differs from the records' (python -m rewritelib.paper "
              f"--write {path})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
