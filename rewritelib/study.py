"""Sweeps through Papermill: one executed training notebook per grid point and seed.

    papermill_runs/<study>/<run_id>/run.ipynb     the executed 02_training notebook
    papermill_runs/<study>/<run_id>/result.json   its record (see records.py)
    papermill_runs/<study>/<run_id>/failed.json   instead, when the run failed
    papermill_runs/<study>/summary.csv            one row per run and split

A run whose ``result.json`` exists is skipped, so a killed sweep resumes where it stopped.
A damaged ``result.json`` (cut short, empty, without its fields) does not count: the sweep
moves it aside as ``<study>/<run id>.result.damaged-<UTC time>.json``, says so in one line
and reruns the point (records.finished); ``collect`` and the tables built on it raise one
line naming a damaged record rather than skip it (records.read_record).
A failed run is recorded with papermill's error and the sweep goes on; it does not count as
done, so the next sweep tries it again.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import fields
from pathlib import Path

import pandas as pd
from .budget import effective_rules
from .config import ConfigError, DataConfig
from .dataset import build_dataset, rules_of, train_counts, write_dataset
from .folders import check_out_dir
from .presets import run_settings, training_overrides
from .records import atomic_write_json, atomic_write_text, finished, read_record

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SPLITS = ("seen", "unseen", "noop", "has_op")


def study_name(base: str, preset: str) -> str:
    """'diversity' at the cpu preset (the committed records), 'diversity-tiny' etc. else."""
    return base if preset == "cpu" else f"{base}-{preset}"


def runs_root() -> Path:
    """Where sweeps write: papermill_runs/ of the checkout, or $REWRITELIB_RUNS (tests)."""
    return Path(os.environ.get("REWRITELIB_RUNS", ROOT / "papermill_runs")).absolute()


RECORDS_ONLY = "REWRITELIB_RECORDS_ONLY"


def need_training(study: str, run_ids: list[str]) -> None:
    """Refuse to train when $REWRITELIB_RECORDS_ONLY is set (nbval checking the stored
    notebooks against the committed records): a missing record is one line, not an hour
    of training that would then be compared with nothing."""
    if run_ids and os.environ.get(RECORDS_ONLY, "") not in ("", "0"):
        more = f" and {len(run_ids) - 3} more" if len(run_ids) > 3 else ""
        raise ConfigError(f"{RECORDS_ONLY}: {study} has no record of {len(run_ids)} run(s) "
                          f"({', '.join(run_ids[:3])}{more}) under {runs_root()}; unset it to train them")


# Short names of the grid axes in run ids; any other axis appears under its own name.
AXIS_NAMES = {"n_instructions": "I", "noop_fraction": "noop", "skew": "skew", "family": "family",
              "family_k": "k", "test_family_k": "testk", "occurrences": "occ",
              "test_occurrences": "testocc", "model": "model", "budget": "budget",
              "encrypt": "encrypt", "program_length": "m", "test_program_length": "testm",
              "conflict_fraction": "conflict"}


def run_id(point: dict, seed: int) -> str:
    """A readable, stable folder name built from every axis of the grid point, sorted:
    I0064-noop0.2-skewuniform-s0, I0064-familyperiodic-k3-4-skewuniform-s0. Every id names
    its skew (uniform when the point does not say), as the first studies' ids did."""
    point = {"skew": "uniform", **{k: v for k, v in point.items() if v is not None}}
    parts = [f"I{point.pop('n_instructions'):04d}"]
    for axis in sorted(point, key=lambda a: AXIS_NAMES.get(a, a)):
        value = point[axis]
        if isinstance(value, (list, tuple)):
            value = "-".join(str(v) for v in value)
        elif isinstance(value, bool):  # encrypt1, not encryptTrue
            value = int(value)
        parts.append(f"{AXIS_NAMES.get(axis, axis.replace('_', ''))}{value}")
    return "-".join(parts + [f"s{seed}"])


def train_one(preset: str, n_instructions: int, seed: int = 0, noop_fraction=None,
              skew="uniform", run_dir: str | Path | None = None, data_overrides=None,
              train_overrides=None, progress: bool = True, reuse: bool = False,
              weights: bool = False) -> dict:
    """Build the data of one grid point (in a temporary folder: data is cheap to rebuild
    and large), train and evaluate; returns the result record written to run_dir (a
    relative run_dir lies under the runs folder). With ``reuse``, a run_dir that already
    holds a finished run of this very point (the same data and recipe in its record) is not
    trained again: its record is returned; with ``weights`` too, only if they were kept
    (git keeps the records, not the weights)."""
    from .run import RunConfig, run

    cfg, train_kw = check_point(preset, n_instructions, seed, noop_fraction, skew,
                                data_overrides, train_overrides)
    point = {"n_instructions": n_instructions, "noop_fraction": noop_fraction, "skew": skew,
             **(data_overrides or {})}
    run_dir = runs_root() / (run_dir or Path("single") / run_id(point, seed))  # an absolute one stays
    if reuse and (done := _same_run(run_dir, cfg, train_kw, weights)):
        return done
    need_training(run_dir.parent.name, [run_dir.name])
    command = (f"train_one(preset={preset!r}, n_instructions={n_instructions}, seed={seed}, "
               f"noop_fraction={noop_fraction!r}, skew={skew!r}, data_overrides={data_overrides!r}, "
               f"train_overrides={train_overrides!r})")
    check_out_dir(run_dir, True, "run")  # a foreign folder is refused before any work
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = write_dataset(build_dataset(cfg), Path(tmp) / "data")
        rc = RunConfig.from_args(data=str(data_dir), out=str(run_dir), overwrite=True, **train_kw)
        result = run(rc, command=command, progress=progress)
    result["run_info"]["data"] = "(temporary; rebuilt from data_spec)"
    result["run_info"]["preset"] = preset
    atomic_write_json(run_dir / "result.json", result)
    return result


def _same_run(run_dir: Path, cfg: DataConfig, train_kw: dict, weights: bool) -> dict | None:
    """The record of run_dir if it finished this data and recipe (and kept its weights, when
    asked), else None. Compared setting by setting, not by the command that made it: a
    sweep's run and a notebook's are the same run."""
    from .run import RunConfig

    if not finished(run_dir) or (weights and not any(run_dir.glob("*/*.safetensors"))):
        return None
    result = read_record(run_dir / "result.json")
    recipe = RunConfig.from_args(data=".", out=".", **train_kw).to_dict()
    for path in ("data", "out", "overwrite"):  # where, not what
        recipe.pop(path)
    info = result["run_info"]
    return result if _agrees(info["data_spec"], cfg.to_dict()) and _agrees(info["params"], recipe) else None


def _agrees(recorded, wanted) -> bool:
    """Every setting both name is equal. A setting the record lacks (added since, its
    default the old behaviour) agrees, as does one the recipe leaves None (decided at run
    time, e.g. compile on CUDA only)."""
    if isinstance(recorded, dict) and isinstance(wanted, dict):
        return all(_agrees(recorded[k], wanted[k]) for k in recorded.keys() & wanted.keys())
    return wanted is None or json.loads(json.dumps(recorded)) == json.loads(json.dumps(wanted))


def check_point(preset: str, n_instructions: int, seed: int = 0, noop_fraction=None,
                skew="uniform", data_overrides=None, train_overrides=None):
    """(DataConfig, RunConfig kwargs) of one grid point, every value validated (one-line
    ConfigError naming the parameter) without building or writing anything."""
    from .run import RunConfig

    data_kw, train_kw = run_settings(preset, n_instructions, seed, noop_fraction, skew,
                                     data_overrides, train_overrides)
    cfg = DataConfig(**data_kw)
    RunConfig.from_args(data=".", out=".", **train_kw)
    return cfg, train_kw


def run_sweep(study: str, points: list[dict], seeds, preset: str, notebook: str | Path | None = None,
              extra: dict | None = None, fixed_data: dict | None = None, progress: bool = True,
              scheduler: str | None = None, workers: int | None = None,
              threads: int | None = None) -> list[dict]:
    """Execute the training notebook for every point x seed not yet done, on ``scheduler``
    (executor.py: a local Dask cluster by default, "serial", or a cluster's address).

    A point's axes name its run (run_id) and reach the run: the training axes (``model``) as
    training overrides, every other axis as a data override on top of ``fixed_data``
    (settings the whole experiment fixes, not part of the ids). Every point is validated
    before the first run starts."""
    from .executor import execute_all, resolve_scheduler

    notebook = Path(notebook or NOTEBOOKS / "02_training.ipynb").absolute()
    resolve_scheduler(scheduler)  # a bad address is refused before anything is checked or run
    extra = extra or {}
    base = training_overrides(extra.get("max_steps"), extra.get("model"), extra.get("train_overrides"))
    jobs = [(point, seed, *point_overrides(point, fixed_data, base)) for point in points for seed in seeds]
    for point, seed, data, train in jobs:
        check_point(preset, point["n_instructions"], seed, data_overrides=data, train_overrides=train)
    dirs = [runs_root() / study / run_id(point, seed) for point, seed, _, _ in jobs]
    statuses, todo = {}, {}  # by run folder: a point listed twice runs once
    for run_dir, (point, seed, data, train) in zip(dirs, jobs):
        if finished(run_dir):  # a damaged result.json is moved aside and its point rerun
            statuses[run_dir] = {"run_id": run_dir.name, "status": "skipped"}
        else:  # JSON types only: papermill would inject a tuple as the string "(1, 5)"
            todo[run_dir] = json.loads(json.dumps({
                **extra, "n_instructions": point["n_instructions"], "seed": seed,
                "data_overrides": data, "train_overrides": train, "preset": preset, "progress": False}))
    need_training(study, [run_dir.name for run_dir in todo])
    if todo:
        ran = execute_all(notebook, list(todo.items()), scheduler, workers, threads, progress,
                          desc=study, done=len(statuses))
        statuses.update(zip(todo, ran))
    return [statuses[run_dir] for run_dir in dirs]


TRAIN_AXES = ("model",)  # grid axes that choose the training, not the data


def point_overrides(point: dict, fixed_data: dict | None = None,
                    train: dict | None = None) -> tuple[dict, dict]:
    """(data overrides, training overrides) of one grid point.

    With a ``model`` axis, a setting of the other model kind is left out of the point's
    training (a LoRA rank reaches the pretrained runs, not the scratch ones of the same
    sweep); without one, such a setting still gets RunConfig's one-line refusal."""
    from .run import PRETRAINED_ONLY

    data = {**(fixed_data or {}), **{k: v for k, v in point.items()
                                      if k != "n_instructions" and k not in TRAIN_AXES}}
    train = {k: v for k, v in {**(train or {}), **{k: point[k] for k in TRAIN_AXES if k in point}}.items()
             if v is not None}
    if "model" in point:
        other = PRETRAINED_ONLY if point["model"] == "scratch" else ("arch",)
        train = {k: v for k, v in train.items() if k not in other}
    return data, train


DATA_DEFAULTS = {f.name: f.default for f in fields(DataConfig)}
FIRST_AXES = ["n_instructions", "budget", "noop_fraction", "skew"]  # the E1-E3 columns, first


def results(study: str, root: str | Path | None = None):
    """(run id, result.json) of every finished run in a study (under ``root``, default the
    runs folder), in run-id order. A damaged record is not skipped: records.DamagedRecord,
    one line naming it (a sweep moves such records aside before it summarizes)."""
    for path in sorted((Path(root or runs_root()) / study).glob("*/result.json")):
        yield path.parent.name, read_record(path)


def collect(study: str, root: str | Path | None = None) -> pd.DataFrame:
    """Every finished run of a study as tidy rows: one per run and split. Every data
    parameter of the run becomes a column (flattened with pandas.json_normalize), so a new
    grid axis shows up here without code changes."""
    rows = []
    for run, r in results(study, root):
        spec, info = r["run_info"]["data_spec"] or {}, r["train_info"]
        spec = {**DATA_DEFAULTS, **spec} if spec else {}  # a field newer than the record: its default
        axes = pd.json_normalize(spec).iloc[0].to_dict() if spec else {}
        axes["skew"] = "uniform" if axes.get("skew") is None else axes["skew"]
        axes = {k: _cell(k, axes.get(k)) for k in FIRST_AXES + sorted(set(axes) - set(FIRST_AXES))}
        for split in SPLITS:
            m = r["metrics"].get(split) or {}
            if m.get("n"):
                rows.append({
                    "study": study, "run_id": run, "seed": r["run_info"]["seed"],
                    "model": r["run_info"]["params"].get("model"), **axes,
                    "split": split, "exact_match": m["exact_match"], "n": m["n"],
                    "steps": info["steps"], "train_seconds": round(info["seconds"], 2),
                    "rules_with_examples": (r["run_info"].get("data_summary") or {}).get("rules_with_examples"),
                    "effective_rules": _effective_rules(spec),
                })
    return pd.DataFrame(rows)


RANGES = ("pattern_length", "replacement_length", "family_k", "test_family_k")  # (lo, hi)


def _cell(key: str, value):
    """A CSV cell: a range as "3-4", a set (occurrences) as "1,5,10", not a Python list."""
    if isinstance(value, (list, tuple)):
        return "-".join(map(str, value)) if key in RANGES else ",".join(map(str, value))
    return value


def _effective_rules(spec: dict) -> float | None:
    """exp(entropy) of the run's training budget over its rules, recomputed from the data
    parameters (records written before it was stored have it too)."""
    if not spec.get("n_instructions"):
        return None
    return round(effective_rules(train_counts(DataConfig(**spec))), 1)


def by_program_breakdown(study: str, key: str) -> pd.DataFrame:
    """E7: unseen exact match by ``key`` of the records' metrics ("by_fired": the position
    of the rule that fires, -1 none; "by_conflict"), one row per m x I, mean over seeds."""
    rows = []
    for run, r in results(study):
        spec = r["run_info"]["data_spec"] or {}
        for group, m in (r["metrics"].get(key) or {}).items():
            if m.get("n"):
                rows.append({"m": _cell("program_length", spec.get("program_length")),
                             "n_instructions": spec.get("n_instructions"), key[3:]: group,
                             "exact_match": m["exact_match"]})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).pivot_table(index=["m", "n_instructions"], columns=key[3:],
                                          values="exact_match").round(3)


def by_occurrence(study: str) -> pd.DataFrame:
    """Unseen exact match by the test input's occurrence count (columns), one row per
    training occurrences x I, averaged over seeds: E5's second table."""
    rows = []
    for run, r in results(study):
        spec = r["run_info"]["data_spec"] or {}
        for count, m in (r["metrics"].get("by_occurrences") or {}).items():
            if m.get("n") and count != "0":
                rows.append({"occurrences": _cell("occurrences", spec.get("occurrences")),
                             "n_instructions": spec.get("n_instructions"),
                             "test_occurrences": int(count), "exact_match": m["exact_match"]})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).pivot_table(index=["occurrences", "n_instructions"],
                                          columns="test_occurrences", values="exact_match").round(3)


def rule_scores(study: str, split: str = "unseen") -> pd.DataFrame:
    """One row per family run and test rule: its shape, k, distinct letters in its pattern,
    and the run's right answers out of n on it. The records keep a score per rule id; the
    rules themselves are redrawn from each run's data_spec by today's sampler
    (tests/test_data.py pins that it redraws a data set's rules)."""
    rows = []
    for run, r in results(study):
        spec = r["run_info"]["data_spec"] or {}
        if spec.get("family", "none") == "none":
            continue
        train, test = rules_of(DataConfig(**spec))
        rules = train if split == "seen" else test
        first = 0 if split == "seen" else len(train)  # test ids follow the training ids
        for rid, (right, n) in r["metrics"].get("per_rule", {}).get(split, {}).items():
            i = int(rid) - first
            rows.append({"family": spec["family"], "family_k": _cell("family_k", spec.get("family_k")),
                         "n_instructions": spec["n_instructions"], "seed": spec["seed"],
                         "shape": rules.family[i], "k": rules.k[i],
                         "letters": len(set(rules.patterns[i])), "right": right, "n": n})
    return pd.DataFrame(rows)


def _per_rule_table(df: pd.DataFrame, rows: list[str], columns: list[str]) -> pd.DataFrame:
    """"mean over seeds (test rules, summed over seeds)" per cell: a run's score on the rules
    of a cell first, then the mean of the runs."""
    if df.empty:
        return pd.DataFrame()
    per_run = df.assign(rules=1).groupby(rows + ["seed"] + columns)[["right", "n", "rules"]].sum()
    per_run["exact_match"] = per_run["right"] / per_run["n"]
    g = per_run.groupby(rows + columns).agg(mean=("exact_match", "mean"), rules=("rules", "sum"))
    # how many test rules stand behind a cell (summed over seeds): some shapes are rare
    cells = g.apply(lambda r: f"{r['mean']:.3f} ({int(r['rules'])} rules)", axis=1)
    return cells.unstack(columns).fillna("")


def by_test_rule(scores: pd.DataFrame) -> pd.DataFrame:
    """Exact match by the test rule's shape and k (columns), one row per family x I, from
    ``rule_scores``: which small-k patterns a family transfers to (E4)."""
    return _per_rule_table(scores, ["family", "n_instructions"], ["shape", "k"])


def by_distinct_letters(scores: pd.DataFrame) -> pd.DataFrame:
    """Exact match by how many distinct letters the test rule's pattern holds (columns), one
    row per family, training k and I, from ``rule_scores`` of one or more studies (E4 and
    E4-narrow): does a family transfer to patterns with more distinct letters than its
    training patterns hold?"""
    return _per_rule_table(scores, ["family", "family_k", "n_instructions"], ["letters"])


def failures(study: str) -> list[dict]:
    """Runs that failed and have not succeeded since."""
    out = []
    for path in sorted((runs_root() / study).glob("*/failed.json")):
        if not (path.parent / "result.json").exists():
            out.append(json.loads(path.read_text()))
    return out


def write_summary(study: str) -> tuple[pd.DataFrame, Path]:
    df = collect(study)
    path = runs_root() / study / "summary.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, df.to_csv(index=False))
    return df, path


def thresholds(df: pd.DataFrame, levels=(0.5, 0.9), split: str = "unseen",
               by: str | None = None) -> pd.DataFrame:
    """First I at which unseen exact match reaches each level: for the mean over seeds, and
    for each seed alone (their min and max give the spread). ``by`` (e.g. "noop_fraction",
    or ["model", "encrypt"]) gives one set of rows per value of those columns."""
    if by is not None:
        keys = [by] if isinstance(by, str) else list(by)
        parts = []
        for values, g in df.groupby(keys):
            t = thresholds(g, levels, split)
            for i, (key, v) in enumerate(zip(keys, values)):
                t.insert(i, key, v)
            parts.append(t)
        return pd.concat(parts, ignore_index=True)
    d = df[df["split"] == split]
    rows = []
    for level in levels:
        mean = d.groupby("n_instructions")["exact_match"].mean()
        first = mean[mean >= level].index.min()
        per_seed = [g.loc[g["exact_match"] >= level, "n_instructions"].min()
                    for _, g in d.groupby("seed")]
        per_seed = [x for x in per_seed if pd.notna(x)]
        # NaN where no seed reaches the level, as first_I_mean: one kind of "never" per table
        rows.append({"level": level, "first_I_mean": first,
                     "first_I_min_over_seeds": min(per_seed) if per_seed else float("nan"),
                     "first_I_max_over_seeds": max(per_seed) if per_seed else float("nan"),
                     "seeds_reaching": len(per_seed), "seeds": d["seed"].nunique()})
    return pd.DataFrame(rows)


def seeds_passing(df: pd.DataFrame, level: float = 0.5, split: str = "unseen",
                  index: str = "n_instructions") -> pd.DataFrame:
    """How often a seed generalizes: per grid point, the seeds whose exact match reaches
    ``level``, their share and its 95% Wilson interval (scipy). Near the threshold single seeds
    split (E1-long at I = 256: 0.09 to 0.93), so the share, not the mean, is the reading."""
    from scipy.stats import binomtest

    if not 0 < level <= 1:
        raise ConfigError(f"level: must be in (0, 1] (got {level!r})")
    rows = []
    for value, g in df[df["split"] == split].groupby(index):
        seeds, passing = len(g), int((g["exact_match"] >= level).sum())
        ci = binomtest(passing, seeds).proportion_ci(confidence_level=0.95, method="wilson")
        rows.append({index: value, "seeds": seeds, "passing": passing, "share": passing / seeds,
                     "ci_low": ci.low, "ci_high": ci.high})
    return pd.DataFrame(rows).set_index(index)


def accuracy_table(df: pd.DataFrame, split: str = "unseen", index: str | list = "n_instructions",
                   columns: str | None = None) -> pd.DataFrame:
    """Exact match as "mean ± sd (seeds)" strings, one cell per grid point: the README's tables.
    ``index`` is a column or a list of them (rows), ``columns`` one column."""
    d = df[df["split"] == split].copy()
    keys = ([index] if isinstance(index, str) else list(index)) + ([columns] if columns else [])
    if columns and d[columns].dtype == object:  # numbers stay numbers: I sorts as 4 < 16
        d[columns] = d[columns].astype(str)
    d["skew"] = d["skew"].astype(str)  # "uniform" or a number: one type, as in summary.csv
    g = d.groupby(keys)["exact_match"].agg(["mean", "std", "count"]).fillna(0.0)
    cells = g.apply(lambda r: f"{r['mean']:.3f} ± {r['std']:.3f} ({int(r['count'])})", axis=1)
    table = cells.unstack(columns) if columns else cells.to_frame(split)
    return table.loc[skew_order(table.index)] if index == "skew" else table


def by_skew(df: pd.DataFrame, values: str, split: str = "unseen") -> pd.DataFrame:
    """Mean of a column per skew shape (rows, uniform first) and I (columns)."""
    d = df[df["split"] == split].assign(skew=lambda x: x["skew"].astype(str))
    table = d.pivot_table(index="skew", columns="n_instructions", values=values)
    return table.loc[skew_order(table.index)]


def skew_order(values) -> list:
    """Uniform first, then from the mildest power law (largest a) to the most skewed."""
    return sorted(values, key=lambda a: (str(a) != "uniform", -float(a) if str(a) != "uniform" else 0))


def markdown(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (no tabulate dependency)."""
    head = [table.index.name or ""] + [str(c) for c in table.columns]
    rows = [[str(i)] + ["" if pd.isna(v) else str(v) for v in r] for i, r in zip(table.index, table.values)]
    lines = [head, ["---"] * len(head)] + rows
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
