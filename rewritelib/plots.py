"""The study's figures, drawn with seaborn from the tidy tables of ``study.collect``.

Accuracy against the number of instructions on a log axis, error bands over seeds (one
standard deviation), one figure per question: seen vs unseen rules (E1), no-op share (E2),
skew shape (E3), families (E4), occurrences (E5), scratch vs pretrained (E6). ``skew_shares`` draws how a power law spreads the budget (notebook 01).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .study import skew_order

SPLIT_LABELS = {"seen": "seen rules", "unseen": "unseen rules", "noop": "unseen, no-op",
                "has_op": "unseen, has-op"}


def _axes(ax, title):
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("number of instructions I (fixed budget)")
    ax.set_ylabel("exact match")
    ax.set_title(title)
    ax.grid(alpha=0.3)


def _save(fig, path):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def accuracy_vs_instructions(df: pd.DataFrame, hue: str = "split", splits=("seen", "unseen"),
                             title: str = "", path=None, ax=None, **line_kw):
    """Mean exact match over seeds against I, one curve per ``hue`` value; ``line_kw`` goes to
    seaborn's lineplot (a ``style`` column, orders)."""
    data = df[df["split"].isin(splits)].copy()
    data["split"] = data["split"].map(SPLIT_LABELS)
    if hue != "split":
        data[hue] = data[hue].astype(str)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    style = "split" if hue != "split" and len(splits) > 1 else None
    sns.lineplot(data=data, x="n_instructions", y="exact_match", hue=hue, marker="o", errorbar="sd",
                 ax=ax, **{"style": style, **line_kw})
    _axes(ax, title)
    return _save(fig, path)


def two_panels(df, hue, panels, path=None, **line_kw):
    """Two accuracy-vs-I panels side by side; ``panels`` = [(splits, title), (splits, title)]."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (splits, title) in zip(axes, panels):
        accuracy_vs_instructions(df, hue=hue, splits=splits, ax=ax, title=title, **line_kw)
    fig.tight_layout()
    return _save(fig, path)


def e1_figure(df, path=None):
    return two_panels(df, "split", [(("seen", "unseen"), "E1: seen vs unseen rules"),
                                    (("noop", "has_op"), "E1: unseen rules, no-op vs has-op")], path)


def e2_figure(df, path=None):
    return two_panels(df, "noop_fraction", [(("unseen",), "E2: unseen rules, by no-op share"),
                                            (("has_op",), "E2: unseen has-op inputs, by no-op share")], path)


def e4_figure(df, path=None):
    """Unseen (test k smaller than any training k) and seen accuracy against I, by family."""
    return two_panels(df, "family", [(("unseen",), "E4: unseen rules of smaller k, by family"),
                                     (("seen",), "E4: seen rules, by family")], path)


def e5_figure(df, path=None):
    """Unseen and seen accuracy against I, one curve per training occurrence count."""
    return two_panels(df, "occurrences", [(("unseen",), "E5: unseen rules (test: 1-20 occurrences)"),
                                          (("seen",), "E5: seen rules, by training occurrences")], path)


def e7_figure(df, path=None):
    """Unseen and seen programs against I (programs, not rules), one curve per m."""
    return two_panels(df, "program_length", [(("unseen",), "E7: unseen programs of m rules"),
                                             (("seen",), "E7: seen programs, fresh inputs")], path)


def e6_figure(df, path=None):
    """Scratch GPT-2 (blue) and pretrained + LoRA (orange), plain (solid) and encrypted
    (dashed) data, against I: unseen has-op inputs (the rule must act) and unseen no-ops."""
    data = df.assign(encrypt=df["encrypt"].map({True: "encrypted", False: "plain"}))
    fig = two_panels(data, "model", [(("has_op",), "E6: unseen rules, has-op inputs"),
                                     (("noop",), "E6: unseen rules, no-op inputs")],
                     hue_order=["scratch", "pretrained"], style="encrypt", style_order=["plain", "encrypted"])
    for ax in fig.axes:
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")  # the threshold's level
    return _save(fig, path)


def e6_budget_figure(df, path=None):
    """Unseen has-op and no-op accuracy for each (budget, skew), with the seeds as points."""
    data = df[df["split"].isin(["has_op", "noop"])].copy()
    data["budget, skew"] = data["budget"].map("{:,}".format) + ", " + data["skew"].astype(str)
    data["split"] = data["split"].map(SPLIT_LABELS)
    # full budget first; within a budget, uniform and then the skews from mild to strong
    skews = [str(a) for a in skew_order(data["skew"].astype(str).unique())]
    present = set(data["budget, skew"])
    order = [f"{b:,}, {a}" for b in sorted(data["budget"].unique(), reverse=True) for a in skews
             if f"{b:,}, {a}" in present]
    fig, ax = plt.subplots(figsize=(1.3 * len(order) + 2, 4))
    sns.barplot(data=data, x="budget, skew", y="exact_match", hue="split", order=order,
                errorbar="sd", alpha=0.7, ax=ax)
    # seaborn jitters with numpy's global generator: seeded here, so a redraw is the same file
    state = np.random.get_state()
    np.random.seed(0)
    try:
        sns.stripplot(data=data, x="budget, skew", y="exact_match", hue="split", order=order, dodge=True,
                      palette="dark:k", size=4, legend=False, ax=ax)
    finally:
        np.random.set_state(state)
    ax.set(ylim=(-0.03, 1.03), ylabel="exact match",
           title=f"E6: I = {int(data['n_instructions'].iloc[0]):,}, full vs half budget, uniform vs skewed")
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def e2_control_figure(df, path=None):
    """Unseen has-op accuracy against I by no-op share: E2's no-ops in the budget (solid)
    beside the control's on top of it (dashed), which has as many has-op examples as E2's
    10% run (its own draw of them at shares other than 10%)."""
    data = df.assign(**{"no-ops": df["noops_on_top"].map({False: "in the budget", True: "on top"})})
    fig = accuracy_vs_instructions(data, hue="noop_fraction", splits=("has_op",),
                                   title="E2 and its control: unseen has-op inputs",
                                   style="no-ops", style_order=["in the budget", "on top"])
    fig.axes[0].set_xlabel("number of instructions I (on top: the budget grows with the share)")
    return _save(fig, path)


def e3_figure(df, path=None):
    """Unseen accuracy against the skew shape a (uniform first), one curve per I."""
    data = df[df["split"] == "unseen"].copy()
    order = skew_order(data["skew"].astype(str).unique())
    data["skew"] = pd.Categorical(data["skew"].astype(str), categories=order, ordered=True)
    data["I"] = data["n_instructions"].astype(str)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.pointplot(data=data, x="skew", y="exact_match", hue="I", errorbar="sd", ax=axes[0])
    axes[0].set(ylim=(-0.03, 1.03), xlabel="power-law shape a (uniform: S = budget / I each)",
                ylabel="exact match, unseen rules", title="E3: skew")
    sns.pointplot(data=data, x="skew", y="rules_with_examples", hue="I", errorbar="sd", ax=axes[1])
    axes[1].set(yscale="log", xlabel="power-law shape a", ylabel="training rules with >= 1 example",
                title="E3: how many rules the model actually sees")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def effective_rules_figure(e3: pd.DataFrame, e1: pd.DataFrame | None = None, path=None):
    """Does a skewed set of I rules train like a uniform set of fewer rules, and how many?

    Unseen accuracy of the E3 runs on top of the E1 curve (uniform budgets), against two
    counts of the rules a skewed run trains on: exp(entropy) of its budget over rules (left)
    and the rules with at least one example (right); both are I for a uniform budget.
    Skewed points on the E1 curve mean that count, not I, sets what the model learns.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    d3 = e3[e3["split"] == "unseen"].copy()
    d3["skew"], d3["I"] = d3["skew"].astype(str), d3["n_instructions"].astype(str)
    for ax, x, label in ((axes[0], "effective_rules", "effective rules, exp(entropy of the budget)"),
                         (axes[1], "rules_with_examples", "rules with >= 1 training example")):
        if e1 is not None and len(e1):
            sns.lineplot(data=e1[e1["split"] == "unseen"], x="n_instructions", y="exact_match",
                         color="k", marker="o", errorbar="sd", label="E1: uniform, x = I", ax=ax)
        sns.scatterplot(data=d3, x=x, y="exact_match", hue="skew", style="I", s=60, ax=ax,
                        hue_order=skew_order(d3["skew"].unique()), legend=ax is axes[1])
        _axes(ax, f"E3 on the E1 curve, by {label.split(',')[0]}")
        ax.set_xlabel(label)
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def skew_shares(n_rules: int, shapes=(2, 1, 0.5, 0.2, 0.1, 0.03), seed: int = 0, path=None, ax=None):
    """Share of the budget of each rule, by rank, for several power-law shapes."""
    rng = np.random.default_rng(seed)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    for a in shapes:
        w = np.sort(rng.power(a, n_rules))[::-1]
        ax.plot(np.arange(1, n_rules + 1), w / w.sum(), label=f"a = {a}")
    ax.axhline(1 / n_rules, color="k", ls="--", lw=1, label="uniform")
    ax.set(xscale="log", yscale="log", xlabel="rule rank", ylabel="share of the budget",
           title=f"How a power law spreads the budget over {n_rules} rules")
    ax.legend(fontsize=8)
    return _save(fig, path)


def transition_figure(df, split: str, by=None, thresholds=None, title: str = "", path=None,
                      axis: str = "n_instructions"):
    """The fitted transition of each arm (transition.py) over its runs, one point per seed:
    the curve, its 95% bootstrap band, and the threshold at 50% with its interval."""
    from .transition import arms, band, fit_arm

    d = df[df["split"] == split]
    d = d.assign(**{axis: pd.to_numeric(d[axis], errors="coerce")}).dropna(subset=[axis])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = np.linspace(np.log10(d[axis].min()), np.log10(d[axis].max()), 200)
    for color, (label, runs) in zip(sns.color_palette(), arms(d, by)):
        ax.scatter(runs[axis], runs["exact_match"], color=color, alpha=0.5, s=14)
        if runs[axis].nunique() < 3:  # nothing to fit: the points alone
            ax.plot([], [], color=color, label=f"{label} (fewer than 3 values)")
            continue
        x, k, n, theta, boot = fit_arm(runs, axis=axis)
        p, low, high = band(boot, theta, xs)
        ax.plot(10 ** xs, p, color=color, label=label)
        ax.fill_between(10 ** xs, low, high, color=color, alpha=0.2, lw=0)
        row = _threshold_row(thresholds, label)
        if row is not None:
            # an interval open at the top (inf: some replicates never cross) stops at the grid
            err = [[row["I_estimate"] - row["I_ci_low"]], [min(row["I_ci_high"], 10 ** xs[-1]) - row["I_estimate"]]]
            ax.errorbar(row["I_estimate"], 0.5, xerr=err, fmt="D", color=color, ms=5, capsize=3)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    _axes(ax, title or f"fitted transition, {SPLIT_LABELS.get(split, split)}: curve, 95% band, "
                       "threshold at 50%")
    if axis == "skew":
        ax.set_xlabel("skew: power-law shape a (smaller is more skewed; uniform not drawn)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _threshold_row(thresholds, label):
    """The fitted 50% threshold of an arm, or None (no table, or not fitted)."""
    if thresholds is None:
        return None
    rows = thresholds[(thresholds["arm"] == label) & (thresholds["level"] == 0.5)
                      & (thresholds["status"] == "fitted")]
    return None if rows.empty else rows.iloc[0]
