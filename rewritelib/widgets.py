"""ipywidgets for JupyterLab: explore the data, train a small model live, browse results.

Each builder returns a widget (display it, or let it be a cell's last expression). The
notebooks build them only when their ``interactive`` parameter is true, so batch runs
through papermill never wait on a widget.

Why no pyplot and no ``Output`` here: JupyterLab 4 may run widget callbacks on kernel
subshells, so two callbacks can overlap, and pyplot's global "current figure" (and an
``Output`` widget's capture of the current message) then sends a figure under another
message: the widget shows a blank image and the figure lands in the Log Console. So every
callback draws into its own ``matplotlib.figure.Figure``, renders it to PNG bytes and sets
them on an ``Image`` widget; tables and text go into ``HTML`` widgets. Setting a widget's
value is a state update that the browser applies to that widget, whichever message carried
it. A callback whose result has been overtaken by a newer change drops it (``Latest``).
"""

from __future__ import annotations

import html
import io
import json
import tempfile
import threading
from pathlib import Path

import ipywidgets as W
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .config import ConfigError, DataConfig
from .dataset import build_dataset
from .plots import accuracy_vs_instructions

SKEWS = ["uniform", "2", "1", "0.5", "0.2", "0.1", "0.03"]
FAMILIES = ["none", "repeated", "periodic", "mirrored", "mixed"]


def png(fig: Figure) -> bytes:
    """The figure as the inline backend would show it: PNG, white, trimmed to its content."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def table_html(df: pd.DataFrame) -> str:
    return df.to_html(float_format=lambda v: f"{v:.3f}", border=0, classes="rendered_html")


def text_html(text: str) -> str:
    return f"<pre>{html.escape(text, quote=False)}</pre>"


class Latest:
    """Tickets for overlapping callbacks: only the newest change may show its result."""

    def __init__(self):
        self._lock, self._n = threading.Lock(), 0

    def take(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def show(self, ticket: int, **updates) -> bool:
        """Set ``widget=value`` pairs if ``ticket`` is still the newest; else drop them."""
        with self._lock:
            if ticket != self._n:
                return False
            for widget, value in updates.values():
                widget.value = value
            return True


def _text(value, sep: str) -> str:
    """A setting as typed in a Text control: 3, a range 3-5 (sep "-"), a set 1,5,10 (",")."""
    return sep.join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def _slider(cls, value, lo, hi, **kw):
    """A slider that can hold the notebook's value, however large."""
    return cls(value=value, min=lo, max=max(hi, value), **kw)


def explorer_controls(n_instructions=20, budget=2000, noop_fraction=0.2, skew="uniform",
                      input_length=16, pattern_length=3, alphabet="abcdefgh", occurrences=1,
                      family="none", seed=0, **_) -> dict[str, W.Widget]:
    """The explorer's controls, set to these data settings (other settings are ignored)."""
    return {
        "n_instructions": _slider(W.IntSlider, n_instructions, 1, 500, description="I"),
        "budget": _slider(W.IntSlider, budget, 10, 20000, step=10, description="budget"),
        "noop_fraction": W.FloatSlider(value=noop_fraction, min=0, max=1, step=0.05, description="no-ops"),
        "skew": W.Dropdown(options=SKEWS, value=str(skew) if str(skew) in SKEWS else "uniform", description="skew"),
        "input_length": _slider(W.IntSlider, input_length, 2, 60, description="|z|"),
        "pattern_length": W.Text(value=_text(pattern_length, "-"), description="|x|"),  # 3 or a range 3-5
        "alphabet": W.Text(value=alphabet, description="alphabet"),
        "occurrences": W.Text(value=_text(occurrences, ","), description="occurrences"),
        "family": W.Dropdown(options=FAMILIES, value=family, description="family"),
        "seed": W.IntText(value=seed, description="seed"),
    }


def explorer_view(kw: dict) -> tuple[str, bytes | None]:
    """The HTML (examples table, or the error) and the PNG (budget spread) for these settings."""
    kw = dict(kw)
    if kw["family"] != "none":
        kw["family_k"] = "1-2"  # short enough for any |z|
    try:
        cfg = DataConfig(**kw, test_instructions=5, test_examples=20, seen_examples=0)
    except ConfigError as e:
        return text_html(f"invalid: {e}"), None
    ds = build_dataset(cfg)
    tr = ds.splits["train"]
    examples = pd.DataFrame({k: getattr(tr, k)[:8] for k in ("pattern", "replacement", "input", "output")}
                            | {"occurrences": tr.occurrences[:8]})
    fig = Figure(figsize=(6, 2.5))
    ax = fig.subplots()
    ax.bar(np.arange(len(ds.train_counts)), np.sort(ds.train_counts)[::-1], width=1.0)
    ax.set(xlabel="rule (by rank)", ylabel="examples", title=f"{tr.is_noop.mean():.0%} no-ops; "
           f"{(ds.train_counts > 0).sum()} of {cfg.n_instructions} rules have examples")
    return table_html(examples), png(fig)


def data_explorer(**data_settings) -> W.Widget:
    """Controls for the data parameters, starting at ``data_settings`` (a notebook's
    DataConfig keywords); a live table of examples and the spread of the budget."""
    c = explorer_controls(**data_settings)
    table, image, latest = W.HTML(), W.Image(format="png"), Latest()

    def refresh(_=None):
        ticket = latest.take()
        view, picture = explorer_view({k: w.value for k, w in c.items()})
        latest.show(ticket, table=(table, view), **({"image": (image, picture)} if picture else {}))

    for w in c.values():
        w.observe(refresh, names="value")
    refresh()
    return W.VBox([W.HBox([W.VBox(list(c.values())[:5]), W.VBox(list(c.values())[5:])]), table, image])


def loss_png(curve) -> bytes:
    curve = np.asarray(curve)
    fig = Figure(figsize=(6, 2.5))
    ax = fig.subplots()
    ax.plot(curve[:, 0], curve[:, 1])
    ax.set(yscale="log", xlabel="step", ylabel="loss")
    return png(fig)


def live_training(preset: str = "tiny", n_instructions: int = 8, max_steps: int = 200) -> W.Widget:
    """A small scratch run at ``preset`` with its loss curve and exact match."""
    from .study import train_one

    n = _slider(W.IntSlider, n_instructions, 1, 64, description="I")
    steps = _slider(W.IntSlider, max_steps, 10, 2000, step=10, description="steps")
    go = W.Button(description="train", button_style="primary")
    status, image, latest = W.HTML(), W.Image(format="png"), Latest()

    def train_now(_=None):
        ticket = latest.take()
        status.value = text_html(f"training I = {n.value} for {steps.value} steps ...")
        with tempfile.TemporaryDirectory() as tmp:
            r = train_one(preset, n.value, run_dir=Path(tmp) / "run", progress=False,
                          train_overrides={"max_steps": steps.value, "log_every": 5})
        m = r["metrics"]
        latest.show(ticket, image=(image, loss_png(r["train_info"]["loss_curve"])),
                    status=(status, text_html(f"I = {n.value}, {steps.value} steps: exact match seen "
                                              f"{m['seen']['exact_match']:.2f}, unseen {m['unseen']['exact_match']:.2f}")))

    go.on_click(train_now)
    return W.VBox([W.HBox([n, steps, go]), status, image])


def study_view(root: Path, study: str) -> tuple[str, bytes, list[str]]:
    """A study's table (exact match by I and split), its curve, and its run ids."""
    from .study import collect

    df = collect(study, root=root)
    fig = Figure(figsize=(6, 4))
    accuracy_vs_instructions(df, title=study, ax=fig.subplots())
    table = df.pivot_table(index="n_instructions", columns="split", values="exact_match")
    return table_html(table), png(fig), sorted(df["run_id"].unique())


def run_view(root: Path, study: str, run_id: str) -> str:
    """A run's id (its grid point and seed), its training, and exact match per split."""
    r = json.loads((root / study / run_id / "result.json").read_text())
    info = r["train_info"]
    head = (f"{run_id}: {r['run_info']['params'].get('model')} model, {info['steps']} steps, "
            f"{info['seconds']:.1f} s of training, final loss {info['loss_curve'][-1][1]:.4f}\n")
    return text_html(head + json.dumps({k: r["metrics"][k] for k in ("seen", "unseen", "noop", "has_op")}, indent=1))


def results_browser(root: str | Path | None = None, study: str | None = None) -> W.Widget:
    """Pick a study under the runs folder: its table, its curve, and any run's record.
    Opens on ``study`` (the notebook's own) with its first run shown."""
    from .study import runs_root

    root = Path(root or runs_root())
    studies = sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*/result.json"))) if root.exists() else []
    if study is not None and study not in studies:
        raise ConfigError(f"study: no finished runs in {root / study} (studies with runs: {', '.join(studies) or 'none'})")
    pick = W.Dropdown(options=studies, value=study or (studies[0] if studies else None), description="study")
    runs = W.Dropdown(options=[], description="run")
    table, image, record = W.HTML(), W.Image(format="png"), W.HTML()
    latest_study, latest_run = Latest(), Latest()

    def show_study(_=None):
        if not pick.value:
            return
        ticket = latest_study.take()
        view, picture, run_ids = study_view(root, pick.value)
        if latest_study.show(ticket, table=(table, view), image=(image, picture)):
            runs.options = run_ids  # its observer shows the first run's record
            runs.value = run_ids[0] if run_ids else None

    def show_run(_=None):
        ticket = latest_run.take()
        view = run_view(root, pick.value, runs.value) if runs.value else ""
        latest_run.show(ticket, record=(record, view))

    pick.observe(show_study, names="value")
    runs.observe(show_run, names="value")
    show_study()
    return W.VBox([pick, table, image, runs, record])
