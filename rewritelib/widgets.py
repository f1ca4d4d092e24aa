"""ipywidgets for JupyterLab: explore the data, train a small model live, browse results.

Each builder returns a widget (display it, or let it be a cell's last expression). The
notebooks build them only when their ``interactive`` parameter is true, so batch runs
through papermill never wait on a widget.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from .config import ConfigError, DataConfig
from .dataset import build_dataset
from .plots import accuracy_vs_instructions


def data_explorer(**defaults) -> W.Widget:
    """Sliders for the data parameters; a live table of examples and the budget spread."""
    c = {
        "n_instructions": W.IntSlider(value=defaults.get("n_instructions", 20), min=1, max=500, description="I"),
        "budget": W.IntSlider(value=defaults.get("budget", 2000), min=10, max=20000, step=10, description="budget"),
        "noop_fraction": W.FloatSlider(value=defaults.get("noop_fraction", 0.2), min=0, max=1, step=0.05, description="no-ops"),
        "skew": W.Dropdown(options=["uniform", "2", "1", "0.5", "0.2", "0.1", "0.03"], value="uniform", description="skew"),
        "input_length": W.IntSlider(value=defaults.get("input_length", 16), min=2, max=60, description="|z|"),
        "pattern_length": W.IntSlider(value=defaults.get("pattern_length", 3), min=1, max=20, description="|x|"),
        "alphabet": W.Text(value=defaults.get("alphabet", "abcdefgh"), description="alphabet"),
        "occurrences": W.Text(value="1", description="occurrences"),
        "family": W.Dropdown(options=["none", "repeated", "periodic", "mirrored", "mixed"], value="none", description="family"),
        "seed": W.IntText(value=0, description="seed"),
    }
    out = W.Output()

    def refresh(_=None):
        out.clear_output(wait=True)
        with out:
            try:
                kw = {k: w.value for k, w in c.items()}
                if kw["family"] != "none":
                    kw["family_k"] = "1-2"
                cfg = DataConfig(**kw, test_instructions=5, test_examples=20, seen_examples=0)
            except ConfigError as e:
                print("invalid:", e)
                return
            ds = build_dataset(cfg)
            tr = ds.splits["train"]
            display(pd.DataFrame({k: getattr(tr, k)[:8] for k in ("pattern", "replacement", "input", "output")}
                                 | {"occurrences": tr.occurrences[:8]}))
            fig, ax = plt.subplots(figsize=(6, 2.5))
            ax.bar(np.arange(len(ds.train_counts)), np.sort(ds.train_counts)[::-1], width=1.0)
            ax.set(xlabel="rule (by rank)", ylabel="examples", title=f"{tr.is_noop.mean():.0%} no-ops; "
                   f"{(ds.train_counts > 0).sum()} of {cfg.n_instructions} rules have examples")
            plt.show()

    for w in c.values():
        w.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([W.VBox(list(c.values())[:5]), W.VBox(list(c.values())[5:])]), out])


def live_training(preset: str = "tiny") -> W.Widget:
    """A small scratch run with a live loss plot."""
    from .study import train_one

    n = W.IntSlider(value=8, min=1, max=64, description="I")
    steps = W.IntSlider(value=200, min=10, max=2000, step=10, description="steps")
    go = W.Button(description="train", button_style="primary")
    out = W.Output()

    def train_now(_=None):
        out.clear_output()
        with out, tempfile.TemporaryDirectory() as tmp:
            r = train_one(preset, n.value, run_dir=Path(tmp) / "run",
                          train_overrides={"max_steps": steps.value, "log_every": 5})
            curve = np.array(r["train_info"]["loss_curve"])
            fig, ax = plt.subplots(figsize=(6, 2.5))
            ax.plot(curve[:, 0], curve[:, 1])
            ax.set(yscale="log", xlabel="step", ylabel="loss")
            plt.show()
            m = r["metrics"]
            print(f"exact match: seen {m['seen']['exact_match']:.2f}, unseen {m['unseen']['exact_match']:.2f}")

    go.on_click(train_now)
    return W.VBox([W.HBox([n, steps, go]), out])


def results_browser(root: str | Path | None = None) -> W.Widget:
    """Pick a study under papermill_runs: its table, its curve, and any run's record."""
    from .study import collect, runs_root

    root = Path(root or runs_root())
    studies = sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*/result.json"))) if root.exists() else []
    pick = W.Dropdown(options=studies, description="study")
    runs = W.Dropdown(options=[], description="run")
    out, rec = W.Output(), W.Output()

    def show_study(_=None):
        out.clear_output(wait=True)
        if not pick.value:
            return
        df = collect(pick.value)
        runs.options = sorted(df["run_id"].unique())
        with out:
            display(df.pivot_table(index="n_instructions", columns="split", values="exact_match"))
            accuracy_vs_instructions(df, title=pick.value)
            plt.show()

    def show_run(_=None):
        rec.clear_output(wait=True)
        if runs.value:
            with rec:
                r = json.loads((root / pick.value / runs.value / "result.json").read_text())
                print(json.dumps({k: r["metrics"][k] for k in ("seen", "unseen", "noop", "has_op")}, indent=1))

    pick.observe(show_study, names="value")
    runs.observe(show_run, names="value")
    show_study()
    return W.VBox([pick, out, runs, rec])
