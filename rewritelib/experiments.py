"""The experiments of the study as data: one entry each, one function runs any of them.

An :class:`Experiment` names its study folder, its grid axes and their values per scale,
the data and training settings it fixes (per scale), its figure and its tables. An axis is
a data setting (``n_instructions``, ``noop_fraction``, ``encrypt``, ...) or the model kind
(``model``: scratch or pretrained, each with its own recipe). ``run(name, scale)`` runs
every grid point x seed not yet done through papermill (``study.run_sweep``), writes
``summary.csv`` and the figure next to the records, and returns the tables; the notebooks
call it in one cell and so does ``python -m rewritelib sweep NAME --preset SCALE``.

Adding an experiment = one entry in ``EXPERIMENTS`` (plus, if it needs them, a figure in
plots.py and a table here), its notebook cell, its records and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Callable

import pandas as pd

from . import plots
from .config import ConfigError
from .scales import DEFAULT_PRETRAINED, SCALES, SEEDS, check_scale, recipe
from .study import (accuracy_table, by_distinct_letters, by_occurrence, by_program_breakdown, by_test_rule,
                    collect, failures, rule_scores, run_sweep, runs_root, seeds_passing, study_name,
                    write_summary)

MIXED_OCCURRENCES = (1, 5, 10, 15, 20)
LETTERS_AND_DIGITS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Experiment:
    name: str  # E1 ... E5, as in the paper
    study: str  # the study folder under papermill_runs/ (+ "-<scale>" off the cpu scale)
    title: str
    grids: dict[str, dict[str, list]]  # scale -> axis -> values (the grid is their product)
    data: dict[str, dict] = field(default_factory=dict)  # scale -> fixed data settings
    train: dict[str, dict] = field(default_factory=dict)  # scale -> fixed training settings
    figure: Callable | None = None  # (summary DataFrame, path) -> Figure
    tables: Callable | None = None  # (summary DataFrame, study) -> {title: DataFrame}
    # the fitted transition (transition.py): (split, arm columns or None[, axis: default I]),
    # written to thresholds.csv (E2-reads and E6-budget run one I: their rows say so)
    transition: tuple | None = None

    def grid(self, scale: str, **overrides) -> dict[str, list]:
        """The axes and values at ``scale``; an override (not None) replaces an axis's values."""
        if check_scale(scale) not in self.grids:
            raise ConfigError(f"preset: {self.name} has no grid at {scale} (has {', '.join(self.grids)})")
        grid = dict(self.grids[scale])
        for axis, values in overrides.items():
            if values is None:
                continue
            if axis not in grid:
                raise ConfigError(f"grid: {self.name} has no axis {axis!r} (axes: {', '.join(grid)})")
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"{axis}: must be a non-empty list of values (got {values!r})")
            grid[axis] = list(values)
        return grid

    def points(self, scale: str, **overrides) -> list[dict]:
        grid = self.grid(scale, **overrides)
        return [dict(zip(grid, values)) for values in product(*grid.values())]


def _e1_tables(df, study):
    return {"exact match (mean ± sd (seeds))":
            pd.concat([accuracy_table(df, s) for s in ("seen", "unseen")], axis=1),
            "seeds past 50% unseen (share, 95% Wilson interval)": seeds_passing(df).round(3)}


def _e2_tables(df, study):
    return {f"{split}, by no-op share": accuracy_table(df, split, columns="noop_fraction")
            for split in ("unseen", "has_op")}


def _at_scale_of(study: str, own: str, other: str) -> str:
    """The study ``other`` at the scale of ``study``, a study of ``own``: "families-tiny"
    beside "families-narrow-tiny", "families" beside "families-narrow" (cpu has no suffix)."""
    return other + study.removeprefix(own)


def _beside_e2(df: pd.DataFrame, own: str, others: list[str], steps: bool = False) -> pd.DataFrame:
    """A control's runs (study ``own`` at cpu) and the runs of ``others`` (E2's studies) at the
    same scale, with an ``arm`` column: the no-op share, whether the no-ops are in the budget
    (E2) or on top of it (the controls) and, with ``steps``, the training steps."""
    study = df["study"].iloc[0]
    both = pd.concat([collect(_at_scale_of(study, own, o)) for o in others] + [df], ignore_index=True)
    both["noops_on_top"] = both["noops_on_top"].fillna(False).astype(bool)
    both["arm"] = [f"{p:.0%} " + ("on top" if top else "in budget")
                   for p, top in zip(both["noop_fraction"], both["noops_on_top"])]
    if steps:
        both["arm"] += ", " + both["steps"].astype(str) + " steps"
    return both


def _e2_control_tables(df, study):
    both = _beside_e2(df, "noop-control", ["noop"])
    return {"unseen has-op inputs: E2 (no-ops in the budget) beside the control (on top)":
            accuracy_table(both, "has_op", columns="arm")}


def _e2_control_figure(df, path=None):
    return plots.e2_control_figure(_beside_e2(df, "noop-control", ["noop"]), path)


def _e2_reads_tables(df, study):
    """The second control beside E2 and the first at the I it ran; the arms differ in the
    share, where the no-ops sit, or the steps (the has-op reads differ by all three)."""
    both = _beside_e2(df, "noop-reads", ["noop", "noop-control"], steps=True)
    both = both[both["n_instructions"].isin(df["n_instructions"])]
    return {"unseen has-op inputs: E2, its control, and the control with the has-op reads of 10%":
            accuracy_table(both, "has_op", columns="arm")}


def _e3_tables(df, study):
    return {"unseen, skew x I": accuracy_table(df, index="skew", columns="n_instructions")}


def _e4_tables(df, study):
    return {"unseen (test k < the training k), family x I":
            accuracy_table(df, index="family", columns="n_instructions"),
            "seen, family x I": accuracy_table(df, "seen", index="family", columns="n_instructions"),
            # k = 1 collapses periodic and mirrored to one letter repeated ("aaaaaa")
            "unseen by the test rule's shape and k (mean over seeds)": by_test_rule(rule_scores(study))}


def _wide_beside(narrow: pd.DataFrame, wide: pd.DataFrame) -> pd.DataFrame:
    """E4's rows of the families E4-narrow ran, at a training range it did not run (at
    ``tiny`` both train k = 3-4, and E4's runs add nothing)."""
    if wide.empty or narrow.empty:
        return wide
    return wide[wide["family"].isin(narrow["family"]) & ~wide["family_k"].isin(narrow["family_k"])]


def _wide_study(study: str) -> str:
    return _at_scale_of(study, "families-narrow", "families")


def _beside_e4(df: pd.DataFrame) -> pd.DataFrame:
    """E4-narrow's runs and E4's runs of the same families at the same scale: one table with
    the training range ``family_k`` as the column that tells them apart."""
    return pd.concat([df, _wide_beside(df, collect(_wide_study(df["study"].iloc[0])))], ignore_index=True)


def _e4_narrow_tables(df, study):
    both, rows = _beside_e4(df), ["family", "family_k"]
    narrow = rule_scores(study)
    letters = pd.concat([narrow, _wide_beside(narrow, rule_scores(_wide_study(study)))], ignore_index=True)
    return {"unseen (test k = 1-2), family x training k by I": accuracy_table(both, index=rows, columns="n_instructions"),
            "seen, family x training k by I": accuracy_table(both, "seen", index=rows, columns="n_instructions"),
            "unseen by the test rule's shape and k, narrow training (mean over seeds)": by_test_rule(narrow),
            # a training pattern of k = 3-4 holds at most 4 distinct letters, one of 3-6 up to 6
            "unseen by the distinct letters of the test pattern, both training ranges": by_distinct_letters(letters)}


def _e4_narrow_figure(df, path=None):
    both = _beside_e4(df).assign(training=lambda d: "k = " + d["family_k"].astype(str))
    return plots.two_panels(both, "family", [(("unseen",), "E4: unseen rules of k = 1-2, by training k"),
                                             (("seen",), "E4: seen rules, by training k")],
                            path, style="training", style_order=sorted(both["training"].unique()))


def _e6_tables(df, study):
    rows = ["model", "encrypt"]
    return {"unseen has-op inputs (the rule must act), model x cipher by I":
            accuracy_table(df, "has_op", index=rows, columns="n_instructions"),
            "unseen no-op inputs (copying is right)": accuracy_table(df, "noop", index=rows, columns="n_instructions")}


def _beside_e6_encrypted(df: pd.DataFrame) -> pd.DataFrame:
    """E6-encrypted-long's runs and E6's encrypted ones at the same scale, with an ``arm``
    column: the model and its training steps (pretrained 100 or 400 LoRA steps, scratch).
    E6-budget's full uniform arm is E6-encrypted-long's run at its I (the same data spec and
    recipe, 400 steps): its runs fill that I where this study has none."""
    study = df["study"].iloc[0]
    e6, budget = (collect(_at_scale_of(study, "pretrained-encrypted-long", other))
                  for other in ("pretrained", "pretrained-budget"))
    parts = [e6[e6["encrypt"].astype(bool)] if not e6.empty else e6, df]
    if not budget.empty:
        same = (budget["skew"].astype(str) == "uniform") & budget["budget"].isin(df["budget"]) & \
            budget["steps"].isin(df["steps"]) & ~budget["n_instructions"].isin(df["n_instructions"])
        parts.append(budget[same])
    both = pd.concat(parts, ignore_index=True)
    return both.assign(arm=both["model"] + ", " + both["steps"].astype(str) + " steps")


def _e6_encrypted_long_tables(df, study):
    both = _beside_e6_encrypted(df)
    return {f"unseen {label}, encrypted: E6 beside 400 LoRA steps, arm x I":
            accuracy_table(both, split, index="arm", columns="n_instructions")
            for split, label in (("has_op", "has-op inputs"), ("noop", "no-op inputs"))}


def _e6_encrypted_long_figure(df, path=None):
    both = _beside_e6_encrypted(df)
    return plots.two_panels(both, "arm", [(("has_op",), "E6 encrypted: unseen has-op inputs"),
                                          (("noop",), "E6 encrypted: unseen no-op inputs")],
                            path, hue_order=sorted(both["arm"].unique()))


def _e6_budget_tables(df, study):
    rows = ["budget", "skew"]
    return {"exact match by budget and skew (mean ± sd (seeds))":
            pd.concat([accuracy_table(df, s, index=rows) for s in ("has_op", "noop", "seen")], axis=1),
            "training rules with >= 1 example": df[df["split"] == "has_op"].assign(
                skew=lambda d: d["skew"].astype(str)).pivot_table(
                index=rows, values=["rules_with_examples", "effective_rules"])}


def _e5_tables(df, study):
    return {"unseen, training occurrences x I (as the paper's table)":
            accuracy_table(df, index="occurrences", columns="n_instructions"),
            "unseen, by test occurrence count (mean over seeds)": by_occurrence(study)}


def _e7_tables(df, study):
    return {"unseen programs, m x I": accuracy_table(df, index="program_length", columns="n_instructions"),
            "unseen, by the position of the rule that fires (-1: none; mean over seeds)":
                by_program_breakdown(study, "by_fired"),
            "unseen has-op, inputs where only the order decides (conflict) or not (mean over seeds)":
                by_program_breakdown(study, "by_conflict")}


# E1-long's recipe, shared by E7-long and E7-m3: 3x the scratch steps (docs/scale_search.md)
LONG_RECIPE = {scale: {"max_steps": 3 * recipe(scale, "scratch")["max_steps"]} for scale in ("tiny", "cpu")}

# E7's data: E1's shape, programs of m rules, 30% of has-op inputs holding two rules' patterns;
# its three entries differ in grid and recipe only, and read their runs the same way
E7_DATA = {"tiny": dict(conflict_fraction=0.3), "cpu": dict(conflict_fraction=0.3)}
E7_READ = dict(figure=plots.e7_figure, tables=_e7_tables, transition=("unseen", "program_length"))

# E6's data: 40% no-ops in training and test, as the paper's Llama-2 runs
E6_DATA = {
    # few test and seen examples: scoring SmolLM2 is most of a tiny run
    "tiny": dict(noop_fraction=0.4, test_examples=48, seen_examples=24),
    # 200 seen examples, not 500: SmolLM2 scores ~500 examples a minute on 2 cores
    "cpu": dict(noop_fraction=0.4, seen_examples=200),
    "gpu": dict(noop_fraction=0.4),
    "paper": dict(noop_fraction=0.4, budget=40_000, test_examples=5000),  # the Llama-2 set-up
}

E1_GRIDS = {
    "tiny": {"n_instructions": [2, 8, 32]},
    "cpu": {"n_instructions": [8, 64, 256, 512, 1024, 2048]},
    "gpu": {"n_instructions": [10, 30, 100, 300, 1000, 3000, 10_000, 100_000]},
    "paper": {"n_instructions": [10, 100, 300, 400, 500, 1000, 10_000, 100_000, 1_000_000]},
}

# E2's controls hold the has-op examples of E2's 10% run, a 0.9 share of the budget, and add
# the no-ops on top; E2-reads also trains long enough to read as many of them as that run.
E2_HAS_OP_SHARE = 0.9
E2_CONTROL_DATA = {scale: {"budget": round(E2_HAS_OP_SHARE * s["data"]["budget"]), "noops_on_top": True}
                   for scale, s in SCALES.items()}
E2_READS_NOOP_SHARE = 0.5  # one share: the steps, fixed per scale, are scaled to it

EXPERIMENTS = {e.name: e for e in [
    Experiment("E1", "diversity", "number of instructions at a fixed budget", E1_GRIDS,
               figure=plots.e1_figure, tables=_e1_tables, transition=("unseen", None)),
    # E1's data and grid, trained 3x longer: the quick cpu recipe of `make study` stops at a
    # plateau of ~0.84 (seen accuracy too), short of training; 6,600 steps are the first of
    # docs/scale_search.md's third pass to pass 0.9 at I = 1,024 (~13 min a run at one thread)
    Experiment("E1-long", "diversity-long", "number of instructions, the longer training recipe",
               {scale: E1_GRIDS[scale] for scale in ("tiny", "cpu")},
               train=LONG_RECIPE,
               figure=plots.e1_figure, tables=_e1_tables, transition=("unseen", None)),
    Experiment("E2", "noop", "share of no-ops", {
        "tiny": {"noop_fraction": [0.1, 0.5], "n_instructions": [2, 32]},
        "cpu": {"noop_fraction": [0.1, 0.3, 0.5], "n_instructions": [64, 256, 384, 512, 768, 1024]},
        "gpu": {"noop_fraction": [0.1, 0.2, 0.3, 0.4, 0.5], "n_instructions": [100, 300, 1000, 3000]},
        "paper": {"noop_fraction": [0.1, 0.2, 0.3, 0.4, 0.5], "n_instructions": [300, 400, 500, 1000]},
    }, figure=plots.e2_figure, tables=_e2_tables, transition=("has_op", "noop_fraction")),
    # E2's control: every run has as many has-op examples as E2's 10% run (90% of the budget)
    # and adds its no-ops on top, so a larger share no longer takes has-op examples away.
    # At 10% the control's examples are E2's, byte for byte: the grid starts at 30%. The
    # paper scale trains for epochs, so there its steps grow with the set; elsewhere they
    # are fixed and the no-ops still take their share of every batch.
    Experiment("E2-control", "noop-control", "no-ops on top of the has-op examples (E2's control)", {
        "tiny": {"noop_fraction": [0.5], "n_instructions": [2, 32]},
        "cpu": {"noop_fraction": [0.3, 0.5], "n_instructions": [256, 512, 1024]},
        "gpu": {"noop_fraction": [0.3, 0.5], "n_instructions": [100, 300, 1000, 3000]},
        "paper": {"noop_fraction": [0.3, 0.5], "n_instructions": [300, 400, 500, 1000]},
    }, data=E2_CONTROL_DATA, figure=_e2_control_figure, tables=_e2_control_tables,
        transition=("has_op", "noop_fraction")),
    # E2's second control: the first one's data at 50% no-ops, trained 0.9 / 0.5 = 1.8x the
    # steps, so that it also reads as many has-op examples as the 10% run (a 50% batch holds
    # 0.5 of them, a 10% one 0.9). No figure: one I at cpu, its table says it all.
    Experiment("E2-reads", "noop-reads", "no-ops on top, steps scaled to the has-op reads of 10%", {
        "tiny": {"noop_fraction": [E2_READS_NOOP_SHARE], "n_instructions": [2, 32]},
        "cpu": {"noop_fraction": [E2_READS_NOOP_SHARE], "n_instructions": [1024]},
    }, data={scale: E2_CONTROL_DATA[scale] for scale in ("tiny", "cpu")},
        train={scale: {"max_steps": round(recipe(scale, "scratch")["max_steps"]
                                          * E2_HAS_OP_SHARE / (1 - E2_READS_NOOP_SHARE))}
               for scale in ("tiny", "cpu")},
        tables=_e2_reads_tables, transition=("has_op", "noop_fraction")),
    Experiment("E3", "skew", "power-law skew of the budget over the rules", {
        "tiny": {"n_instructions": [8, 32], "skew": ["uniform", 0.5]},
        "cpu": {"n_instructions": [512, 5120], "skew": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.03]},
        "gpu": {"n_instructions": [1000, 10_000], "skew": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.07, 0.03]},
        "paper": {"n_instructions": [1000, 10_000, 100_000],
                  "skew": ["uniform", 2, 1, 0.5, 0.2, 0.1, 0.07, 0.03]},
    # E3's grid has two values of I: its transition is the one in the skew, at each I (the
    # shape a at which accuracy collapses; uniform is no point on that axis)
    }, figure=plots.e3_figure, tables=_e3_tables, transition=("unseen", "n_instructions", "skew")),
    # E4: patterns from one semantic family (or all three mixed), trained on k in a range
    # and tested on smaller k, which none of the training patterns has
    Experiment("E4", "families", "semantic families: train on large k, test on k < 3", {
        "tiny": {"family": ["periodic", "mixed"], "n_instructions": [4, 16]},
        "cpu": {"family": ["repeated", "periodic", "mirrored", "mixed"],
                "n_instructions": [256, 1024, 1536]},
        "gpu": {"family": ["repeated", "periodic", "mirrored", "mixed"],
                "n_instructions": [500, 1000, 5000, 10_000]},
        "paper": {"family": ["repeated", "periodic", "mirrored", "mixed"],
                  "n_instructions": [500, 1000, 5000, 10_000]},
    }, data={
        "tiny": dict(pattern_length=4, family_k="3-4", test_family_k="1-2"),
        "cpu": dict(input_length=16, pattern_length=6, family_k="3-6", test_family_k="1-2"),
        # 500 test rules: periodic and mirrored patterns with k = 1-2 number only 676 and 702
        "gpu": dict(input_length=100, pattern_length=20, family_k="3-20", test_family_k="1-2",
                    test_instructions=500),
        "paper": dict(input_length=500, pattern_length=60, family_k="3-60", test_family_k="1-2",
                      test_instructions=500),
    }, figure=plots.e4_figure, tables=_e4_tables, transition=("unseen", "family")),
    # E4 with narrow families (issue #30's first open question): training k = 3-4, where a
    # single family is truly restricted (with patterns of 6, k = 6 makes a periodic or mirrored
    # pattern any 6-letter string). `repeated` is left out: at k = 3-6 it already never transfers.
    Experiment("E4-narrow", "families-narrow", "semantic families, narrow training k = 3-4", {
        "tiny": {"family": ["periodic", "mixed"], "n_instructions": [4, 16]},
        "cpu": {"family": ["periodic", "mirrored", "mixed"], "n_instructions": [256, 1024, 1536]},
    }, data={"tiny": dict(pattern_length=4, family_k="3-4", test_family_k="1-2"),
             "cpu": dict(input_length=16, pattern_length=6, family_k="3-4", test_family_k="1-2")},
        figure=_e4_narrow_figure, tables=_e4_narrow_tables, transition=("unseen", "family")),
    # E5: the pattern planted 1, 10 or 20 times (or a mix) in every training input; the test
    # inputs hold it 1 to 20 times
    Experiment("E5", "occurrences", "occurrences of the pattern in the inputs", {
        "tiny": {"occurrences": [1, (1, 2, 3)], "n_instructions": [4, 16]},
        "cpu": {"occurrences": [1, 10, 20, MIXED_OCCURRENCES], "n_instructions": [128, 256, 512, 1024]},
        "gpu": {"occurrences": [1, 10, 20, MIXED_OCCURRENCES], "n_instructions": [200, 500, 1000, 2000]},
        "paper": {"occurrences": [1, 10, 20, MIXED_OCCURRENCES], "n_instructions": [200, 500, 1000, 2000]},
    }, data={
        "tiny": dict(input_length=12, test_occurrences="1-3"),
        # 62 letters and digits: 3,844 patterns of 2, enough distinct rules; 20 copies of 2 with a letter between them fit in 60
        "cpu": dict(alphabet=LETTERS_AND_DIGITS, input_length=60, pattern_length=2,
                    test_occurrences="1-20"),
        # 1,000 test rules too: replacements of 2-3 letters keep every string distinct
        "gpu": dict(alphabet=LETTERS_AND_DIGITS, input_length=60, pattern_length=2,
                    replacement_length="2-3", test_occurrences="1-20"),
        "paper": dict(alphabet=LETTERS_AND_DIGITS, input_length=60, pattern_length=2,
                      replacement_length="2-3", test_occurrences="1-20"),
    }, figure=plots.e5_figure, tables=_e5_tables, transition=("unseen", "occurrences")),
    # E6: the pretrained LLM + LoRA beside the scratch GPT-2 on the same data sets, with 40%
    # no-ops in training and test; "encrypt" enciphers every output with a seeded
    # substitution of the alphabet, so copying the input is right only on a no-op
    Experiment("E6", "pretrained", "pretrained + LoRA vs scratch, plain and encrypted, 40% no-ops", {
        "tiny": {"model": ["scratch", "pretrained"], "encrypt": [False, True], "n_instructions": [8]},
        "cpu": {"model": ["scratch", "pretrained"], "encrypt": [False, True],
                "n_instructions": [8, 32, 128, 512, 2048]},
        "gpu": {"model": ["scratch", "pretrained"], "encrypt": [False, True],
                "n_instructions": [10, 100, 1000, 3000, 10_000]},
        "paper": {"model": ["scratch", "pretrained"], "encrypt": [False, True],
                  "n_instructions": [10, 100, 1000, 3000, 9000]},
    }, data=E6_DATA, figure=plots.e6_figure, tables=_e6_tables,
        transition=("has_op", ["model", "encrypt"])),
    # E6's second claim: past the threshold, half the budget drawn uniformly over the rules
    # does not hurt; half drawn with a power-law skew does (the full, skewed budget too is the
    # product's fourth point)
    Experiment("E6-budget", "pretrained-budget", "pretrained, encrypted: full vs half budget, uniform vs skewed", {
        "tiny": {"n_instructions": [8], "budget": [600], "skew": ["uniform", 0.5]},
        # a = 0.1 leaves ~460 effective rules of 2,048, far past the pretrained threshold (32-128
        # on plain data); a = 0.01 leaves ~53, near it, where E3 says a skew should hurt
        "cpu": {"n_instructions": [2048], "budget": [20_000, 10_000], "skew": ["uniform", 0.1, 0.01]},
        # the paper's budgets: the gpu recipe's 2,000 x 64 reads make them 3.2 and 6.4 epochs,
        # as the paper's; the cpu recipe below reads 3,200 examples, fewer than either cpu
        # budget, so there full and half differ only in what can be drawn, and the skew is
        # what it tests
        "gpu": {"n_instructions": [9000], "budget": [40_000, 20_000], "skew": ["uniform", 0.1]},
        "paper": {"n_instructions": [9000], "budget": [40_000, 20_000], "skew": ["uniform", 0.1]},
    }, data={scale: {**fixed, "encrypt": True} for scale, fixed in E6_DATA.items()},
        # at cpu, 400 steps, 4x E6's: E6's 100 steps learn no encrypted rewriting at any I (has-op
        # 0), 400 learn it at I = 2,048 (has-op 0.94, docs/lora_search.md candidate L), which
        # gives the budget and the skew a skill to take away
        train={**{scale: {"model": "pretrained"} for scale in SCALES},
               "cpu": {"model": "pretrained", "max_steps": 400}},
        figure=plots.e6_budget_figure, tables=_e6_budget_tables,
        transition=("has_op", ["budget", "skew"])),
    # E6's encrypted curve with E6-budget's 400 LoRA steps (issue #30's third open question):
    # E6's 100 steps never learn encrypted rewriting; 400 reach 0.98 at I = 2,048. Where is the
    # pretrained encrypted threshold, beside the scratch one (I ~ 510)?
    Experiment("E6-encrypted-long", "pretrained-encrypted-long", "pretrained, encrypted, 400 LoRA steps", {
        "tiny": {"n_instructions": [8]},
        # 2,048 is E6-budget's full uniform arm (the same data and recipe: its tables and
        # figure read those runs there); --grid n_instructions=2048 would rerun it here
        "cpu": {"n_instructions": [8, 32, 128, 512]},
    }, data={scale: {**fixed, "encrypt": True} for scale, fixed in E6_DATA.items()},
        train={"tiny": {"model": "pretrained"}, "cpu": {"model": "pretrained", "max_steps": 400}},
        figure=_e6_encrypted_long_figure, tables=_e6_encrypted_long_tables, transition=("has_op", None)),
    # E7, beyond the paper: an instruction is a Markov program of m ordered rules, the target
    # one step of it (programs.py); I counts programs. The cpu grid comes from the pilot
    # (docs/e7_programs.md): m = 2's transition lies between 1,024 and 4,096 programs, and
    # E1's shape (patterns of 3 over 26 letters, 17,576 strings) holds at most ~4,290
    # programs of 2 rules (every string of every rule distinct). m = 3 is not on the grid:
    # at 2,048 programs the quick recipe learns nothing, not even the programs trained on,
    # and the shape holds at most ~2,830 of them (--grid program_length=3 runs it).
    Experiment("E7", "programs", "Markov programs of m ordered rules: number of programs I", {
        "tiny": {"program_length": [2], "n_instructions": [4, 16]},
        "cpu": {"program_length": [2], "n_instructions": [256, 512, 1024, 2048, 4096]},
    }, data=E7_DATA, **E7_READ),
    # E7's data trained 3x longer (E1-long's recipe): the quick recipe leaves even seen
    # programs at 0.4-0.6. The grid is E7's around its transition, less 256 (0 there with
    # the quick recipe and m = 3's long one); it sets m = 2 beside E7-m3 at one recipe.
    Experiment("E7-long", "programs-long", "Markov programs, the longer training recipe", {
        "tiny": {"program_length": [2], "n_instructions": [4, 16]},
        "cpu": {"program_length": [2], "n_instructions": [512, 1024, 2048, 4096]},
    }, data=E7_DATA, train=LONG_RECIPE, **E7_READ),
    # E7 with programs of 3 rules: the quick recipe learns none of them at 2,048 (not even the
    # programs trained on; its loss still falls at the end), so this trains 3x longer, as
    # E7-long. E1's shape holds at most 2,829 programs of 3 rules (6 distinct strings each,
    # 17,576 in all, 100 test programs), hence the last point; the pilot there reached 0.38
    # unseen, so the curve rises within the shape (docs/e7_programs.md)
    Experiment("E7-m3", "programs-m3", "Markov programs of 3 rules, the longer training recipe", {
        "tiny": {"program_length": [3], "n_instructions": [4, 16]},
        "cpu": {"program_length": [3], "n_instructions": [256, 512, 1024, 2048, 2800]},
    }, data=E7_DATA, train=LONG_RECIPE, **E7_READ),
    # E7's composition question: scored on unseen 2-rule programs, trained on single rules
    # only (m = 1) or on a mix, half single rules and half 2-rule programs (m = 1,2), at the
    # same budget; E7's m = 2 is the pure arm, at the I values of E7's grid below and above its
    # transition (docs/e7_programs.md).
    Experiment("E7-compose", "programs-compose", "composition: single rules or a mix, scored on 2-rule programs", {
        "tiny": {"program_length": [1, (1, 2)], "n_instructions": [16]},
        "cpu": {"program_length": [1, (1, 2)], "n_instructions": [256, 1024, 4096]},
    }, data={scale: {**d, "test_program_length": 2} for scale, d in E7_DATA.items()}, **E7_READ),
]}


def get(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment: must be one of {', '.join(EXPERIMENTS)} (got {name!r})")
    return EXPERIMENTS[name]


def run(name: str, scale: str, seeds=None, grid: dict | None = None, train: dict | None = None,
        progress: bool = True, scheduler: str | None = None, workers: int | None = None,
        threads: int | None = None) -> dict:
    """Run every grid point x seed of an experiment not yet done, then summarize.

    Returns {"study", "summary" (DataFrame), "csv", "figure" (path, None if none was drawn),
    "tables" ({title: DataFrame}), "thresholds" (thresholds.csv, None without a transition),
    "statuses", "failed"}. With a transition, the fitted thresholds (transition.py) are
    written beside summary.csv and drawn as transition.png. ``grid`` replaces some axes' values
    ({"n_instructions": [8, 64]}); ``train`` overrides the training recipe of every run
    ({"max_steps": 100}).
    ``scheduler``, ``workers``, ``threads``: where the runs execute (executor.py).
    """
    exp = get(name)
    seeds = list(SEEDS[check_scale(scale)] if seeds is None else seeds)
    if not seeds:
        raise ConfigError("seeds: must be a non-empty list of seeds")
    points = exp.points(scale, **(grid or {}))
    train = {**exp.train.get(scale, {}), **(train or {})}
    study = study_name(exp.study, scale) + _model_suffix(train)
    statuses = run_sweep(study, points, seeds, scale, fixed_data=exp.data.get(scale),
                         extra={"train_overrides": train}, progress=progress,
                         scheduler=scheduler, workers=workers, threads=threads)
    df, csv = write_summary(study)
    figure = None  # an experiment without a figure (E2-reads: one point) names none
    if exp.figure is not None and len(df):
        figure = runs_root() / study / f"{name.lower()}.png"
        exp.figure(df, path=figure)
    tables = exp.tables(df, study) if exp.tables is not None and len(df) else {}
    thresholds = None
    if exp.transition is not None and len(df):
        split, by, axis = transition_args(exp)
        table = write_thresholds(exp, study, df)
        thresholds = runs_root() / study / "thresholds.csv"
        what = {"unseen": "unseen rules", "has_op": "unseen has-op inputs"}.get(split, split)
        tables[f"threshold on {what} (fitted: I at 50% and at 90% of the plateau, 95% bootstrap "
               "interval over seeds; thresholds.csv)"] = table
        if not table["status"].str.startswith("fewer than").all():  # a figure of points alone: none
            plots.transition_figure(df, split, by, table, path=runs_root() / study / "transition.png",
                                    axis=axis)
    return {"study": study, "summary": df, "csv": csv, "figure": figure, "tables": tables,
            "thresholds": thresholds, "statuses": statuses, "failed": failures(study)}


def transition_args(exp: Experiment) -> tuple:
    """(split, arm columns, axis) of an experiment's fitted transition."""
    split, by, *axis = exp.transition
    return split, by, axis[0] if axis else "n_instructions"


def write_thresholds(exp: Experiment, study: str, df: pd.DataFrame) -> pd.DataFrame:
    """The study's fitted thresholds (transition.py), written as thresholds.csv beside its
    summary.csv; an arm of a sub-grid with fewer than 3 values on the axis says so."""
    from .records import atomic_write_text
    from .transition import thresholds_table

    split, by, axis = transition_args(exp)
    table = thresholds_table(df, split, by, strict=False, axis=axis)
    atomic_write_text(runs_root() / study / "thresholds.csv", table.to_csv(index=False))
    return table


def _model_suffix(train: dict) -> str:
    """Another pretrained model than the default gets its own study folder: its runs have the
    same ids as SmolLM2's, and a sweep would skip them as done."""
    name = train.get("model_name")
    if name in (None, DEFAULT_PRETRAINED):
        return ""
    return "-" + "".join(c if c.isalnum() else "_" for c in str(name).rstrip("/").split("/")[-1])


def report(result: dict) -> None:
    """What a notebook shows after ``run``: where the records are, the tables, failures."""
    from IPython.display import display

    # paths under the runs folder, not this machine's: a stored notebook shows them too
    where = {k: _shown(result[k]) for k in ("csv", "figure", "thresholds") if result.get(k)}
    print(" | ".join(f"{label}: {where[k]}" for k, label in
                     (("csv", "table"), ("figure", "figure"), ("thresholds", "thresholds")) if k in where))
    for title, table in result["tables"].items():
        print(title)
        display(table)
    for f in result["failed"]:
        print("failed:", f["run_id"], f["error"])
    if result["failed"]:  # after the tables of the runs that did finish
        raise SweepFailed(result)


def _shown(path) -> Path:
    """A path under the runs folder relative to it (what holds on any machine), else as given."""
    path = Path(path)
    return path.relative_to(runs_root()) if path.is_relative_to(runs_root()) else path


class SweepFailed(RuntimeError):
    """Some runs of a sweep failed: the notebook cell (and papermill, and make) fails too."""

    def __init__(self, result: dict):
        ids = ", ".join(f["run_id"] for f in result["failed"])
        super().__init__(f"{len(result['failed'])} failed run(s) in {result['study']}: {ids} "
                         "(their failed.json says why; a rerun retries them)")
