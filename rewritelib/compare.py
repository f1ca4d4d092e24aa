"""Reproduction check: the same runs' records in two runs folders, side by side.

    python -m rewritelib compare runs/fresh papermill_runs [--tolerance T] [--study NAME ...]

A and B are runs folders (``<study>/<run id>/result.json``) or single study folders
(``<run id>/result.json``). Runs are matched by (study, run id); a study folder against a
runs folder is matched by run id within the study of the study folder's name, and two study
folders by run id alone. Only run folders holding a result.json count: not a failed run, nor a
hidden folder (a run being written, .<run id>.tmp-<pid>).

Each shared run gets one row: the four headline exact-match metrics (unseen, seen, has_op,
noop) as ``A | B``, the largest absolute difference ("equal" when all four are identical to
the digit), the verdict, and the recorded conditions that differ between the two records.

The tolerance: by default 0.02 absolute on each exact-match metric, that is 10 of the 500
unseen test examples at the cpu preset. A rerun of the same code on the same data is not
bit-identical in general: torch's float sums are ordered differently with another thread
count, another CPU instruction set (AVX2 / AVX512 kernels) or other library versions, so a
few greedy decodes can come out differently, each moving a metric by 0.002. ``--tolerance 0``
asks for equality to the digit. The comparison allows a relative 1e-9 of slack beyond the
tolerance, so that 0.998 - 0.988 (0.010000000000000009 in floats) is within 0.01; with 0
there is none.

Exit status: 0 when every shared run is within the tolerance, 1 when some run is outside
it, 2 with one line on stderr for bad input (a folder that does not exist, no shared runs,
a damaged record, a tolerance outside [0, 1]).

The conditions, "name A|B" (digests and commits cut to 12 hex digits); a field that only one
record holds is listed apart, "recorded in B only: ...", since records written before the
field existed lack it (see records.py) and an unknown is not a difference:

    torch, numpy, python, ...  package versions (meta_info.versions)
    lock.sha, lock.off-lock    requirements.lock's sha256, and the installed packages that are
                               not at its pins (meta_info.versions.lock)
    torch_threads              torch's intra-op threads
    cpu_capability, cpu_model  the kernels torch picked (AVX2, AVX512) and the CPU's name
    device, device_name        cpu / cuda:0 and the card
    git_hash, git_diff_sha256  the code: the commit (+ "-dirty") and the digest of the changes
    data_sha256.<file>         the digest of each data file the run read
    data_spec.<key>            the data set's parameters (what a sweep rebuilds its data from)
    model, preset, train.<key> the training recipe (run_info.params, less its paths)
    n.<split>                  how many examples a metric counts

meta_info.platform is left out: it holds the kernel's release, which changes with every host
and says nothing about the sums.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .config import ConfigError
from .records import read_record

TOLERANCE = 0.02
SPLITS = ("unseen", "seen", "has_op", "noop")
SLACK = 1e-9  # relative: k/n minus j/n is not exact in floats
MISSING = object()  # a field the record does not hold, unlike one that holds None
# run_info.params that name this machine's paths or flags, not the recipe
NOT_RECIPE = {"data", "out", "overwrite"}
HELP = ("compare the records of the runs two folders share (a reproduction check). The "
        f"default tolerance, {TOLERANCE} absolute on each exact-match metric (10 of the 500 "
        "unseen test examples at the cpu preset), allows for torch's float sums, which differ "
        "with the thread count, the CPU instruction set and library versions; 0 asks for "
        "equality to the digit. Exit 0: every shared run within it; 1: some run outside it; "
        "2: bad input.")


# --- finding the runs -------------------------------------------------------------------

def _dirs(folder: Path) -> list[Path]:
    # not hidden ones: a run being written lives in .<run id>.tmp-<pid> (folders.py)
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _runs_in(study: Path) -> dict:
    return {(study.resolve().name, d.name): d / "result.json" for d in _dirs(study)
            if (d / "result.json").is_file()}


def find_runs(folder: str | Path, side: str) -> tuple[str, dict]:
    """("study" or "runs", {(study, run id): result.json path}) of a folder; ConfigError,
    one line naming the side (A or B), when it does not exist or is not a folder."""
    folder = Path(folder)
    if not folder.exists():
        raise ConfigError(f"{side}: {folder}: no such folder")
    if not folder.is_dir():
        raise ConfigError(f"{side}: {folder}: not a folder")
    if (folder / "result.json").is_file():
        raise ConfigError(f"{side}: {folder}: a run folder; give its study folder "
                          f"({folder.parent}) or the runs folder above it")
    if runs := _runs_in(folder):  # a study folder: its run folders hold result.json
        return "study", runs
    return "runs", {k: p for study in _dirs(folder) for k, p in _runs_in(study).items()}


def pair_runs(a: str | Path, b: str | Path, studies=None) -> tuple[dict, dict]:
    """The two sides' runs keyed alike: a study folder's runs take the study of the other
    side (two study folders: A's name), so that run ids match within that study."""
    (kind_a, runs_a), (kind_b, runs_b) = find_runs(a, "A"), find_runs(b, "B")
    if kind_a == "study":
        study = next(iter(runs_a))[0]
        runs_b = {(study if kind_b == "study" else s, r): p for (s, r), p in runs_b.items()
                  if kind_b == "study" or s == study}
    elif kind_b == "study":
        study = next(iter(runs_b))[0]
        runs_a = {k: p for k, p in runs_a.items() if k[0] == study}
    if studies:
        _check_studies(studies, runs_a, runs_b)
        runs_a = {k: p for k, p in runs_a.items() if k[0] in studies}
        runs_b = {k: p for k, p in runs_b.items() if k[0] in studies}
    return runs_a, runs_b


def _check_studies(studies, runs_a: dict, runs_b: dict) -> None:
    known = {s for s, _ in runs_a} | {s for s, _ in runs_b}
    for name in studies:
        if name not in known:
            raise ConfigError(f"study: {name!r} is in neither A nor B (they hold "
                              f"{', '.join(sorted(known)) or 'no runs'})")


# --- one pair of records ----------------------------------------------------------------

def _difference(x, y) -> float:
    """|x - y|; 0 when neither has the metric (no examples), inf when only one has it."""
    if x is None or y is None:
        return 0.0 if x is y else math.inf
    return abs(x - y)


def verdict(diff: float, equal: bool, tolerance: float) -> str:
    if equal:
        return "equal"
    return "within" if diff <= tolerance * (1 + SLACK) else "outside"


def recorded(record: dict) -> dict:
    """{condition: value} of what a record says it ran under (MISSING where it says nothing;
    dicts are compared key by key)."""
    meta, info = record["meta_info"], record["run_info"]
    vers = dict(meta.get("versions") or {})
    lock = vers.pop("lock", MISSING)
    if isinstance(lock, dict):  # its file name is always requirements.lock: not a condition
        lock = {"sha": lock.get("sha256"), "off-lock": ", ".join(lock.get("differs", [])) or "none"}
    out = {**vers, "lock": lock}
    for key in ("torch_threads", "cpu_capability", "cpu_model", "device", "device_name",
                "git_hash", "git_diff_sha256"):
        out[key] = meta.get(key, MISSING)
    out["data_sha256"] = info.get("data_sha256", MISSING)
    out.update({k: v for k, v in (info.get("params") or {}).items() if k not in NOT_RECIPE})
    out["data_spec"] = info.get("data_spec", MISSING)
    out["n"] = {s: record["metrics"][s]["n"] for s in SPLITS}
    return out


def _differences(ra: dict, rb: dict, prefix: str = ""):
    """(name, A's value, B's value) of each condition that differs, dicts key by key."""
    for k in list(ra) + [k for k in rb if k not in ra]:
        va, vb = ra.get(k, MISSING), rb.get(k, MISSING)
        if va == vb:
            continue
        if isinstance(va, dict) and isinstance(vb, dict):
            yield from _differences(va, vb, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", va, vb


def _show(value) -> str:
    # sha256 digests and commits (40 hex digits, maybe "-dirty"): 12 digits tell them apart
    return re.sub(r"^([0-9a-f]{12})[0-9a-f]{28,}", r"\1", str(value))


def conditions(record_a: dict, record_b: dict) -> str:
    """The recorded conditions that differ, "name A|B; ...", then the fields that only one
    record holds (older records lack the newer fields), "" when nothing differs."""
    both, only = [], {"A": [], "B": []}
    for name, va, vb in _differences(recorded(record_a), recorded(record_b)):
        if va is MISSING or vb is MISSING:  # unknown, not known to differ: said apart
            only["B" if va is MISSING else "A"].append(name)
        else:
            both.append(f"{name} {_show(va)}|{_show(vb)}")
    both += [f"recorded in {side} only: {', '.join(names)}" for side, names in only.items() if names]
    return "; ".join(both)


def compare_records(record_a: dict, record_b: dict, tolerance: float = TOLERANCE) -> dict:
    """One row: each split's exact match on both sides, the largest difference, the
    verdict and the conditions that differ."""
    row = {}
    for s in SPLITS:
        row[f"{s}_a"] = record_a["metrics"][s]["exact_match"]
        row[f"{s}_b"] = record_b["metrics"][s]["exact_match"]
    diffs = [_difference(row[f"{s}_a"], row[f"{s}_b"]) for s in SPLITS]
    equal = all(row[f"{s}_a"] == row[f"{s}_b"] for s in SPLITS)  # None == None included
    row["max_diff"] = max(diffs)
    row["verdict"] = verdict(row["max_diff"], equal, tolerance)
    row["conditions"] = conditions(record_a, record_b)
    return row


# --- the whole comparison ---------------------------------------------------------------

def check_tolerance(tolerance) -> float:
    if (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
            or not 0 <= tolerance <= 1):  # NaN fails 0 <= nan as well
        raise ConfigError(f"tolerance: must be a number in [0, 1], an absolute difference of "
                          f"exact match (got {tolerance!r})")
    return float(tolerance)


def compare(a: str | Path, b: str | Path, tolerance: float = TOLERANCE, studies=None):
    """A DataFrame, one row per run A and B share (sorted by study and run id): columns
    study, run, <split>_a, <split>_b for unseen, seen, has_op and noop (NaN or None where a
    split has no examples, as noop in most studies), max_diff, verdict
    ("equal", "within", "outside") and conditions. ``df.attrs`` holds tolerance, only_a
    and only_b (the (study, run id) found on one side only). ConfigError (one line) when a
    folder is missing, nothing is shared, or a shared record is damaged (DamagedRecord)."""
    import pandas as pd  # here, not at the top: the CLI's parser reads TOLERANCE and HELP

    tolerance = check_tolerance(tolerance)
    runs_a, runs_b = pair_runs(a, b, set(studies) if studies else None)
    shared = sorted(runs_a.keys() & runs_b.keys())
    if not shared:
        raise ConfigError(f"no shared runs: A ({a}) holds {len(runs_a)} run(s), B ({b}) "
                          f"{len(runs_b)}, and none has the same study and run id")
    rows = [{"study": s, "run": r, **compare_records(read_record(runs_a[s, r]),
                                                     read_record(runs_b[s, r]), tolerance)}
            for s, r in shared]
    df = pd.DataFrame(rows)
    df.attrs.update(tolerance=tolerance, only_a=sorted(runs_a.keys() - runs_b.keys()),
                    only_b=sorted(runs_b.keys() - runs_a.keys()))
    return df


def _show_metric(value) -> str:
    # None (no examples of the split) becomes NaN in a column that holds numbers too
    return "n/a" if value is None or value != value else f"{value:g}"


def _pair(x, y) -> str:
    return f"{_show_metric(x)} | {_show_metric(y)}"


def table(df):
    """The printed table: each metric as "A | B", the difference, verdict and conditions."""
    import pandas as pd

    out = pd.DataFrame({"study": df["study"], "run": df["run"]})
    for s in SPLITS:
        out[s] = [_pair(x, y) for x, y in zip(df[f"{s}_a"], df[f"{s}_b"])]
    out["max |A-B|"] = ["equal" if v == "equal" else f"{d:g}"
                        for d, v in zip(df["max_diff"], df["verdict"])]
    out["verdict"] = df["verdict"]
    out["conditions that differ (A|B)"] = [c or "none recorded" for c in df["conditions"]]
    return out


def summary(df) -> str:
    """The last line: how many runs are equal, within, outside; how many on one side only."""
    n = df["verdict"].value_counts()
    return (f"{len(df)} shared run(s): {n.get('equal', 0)} equal to the digit, "
            f"{n.get('within', 0)} within the tolerance {df.attrs['tolerance']:g} (not equal), "
            f"{n.get('outside', 0)} outside it; {len(df.attrs['only_a'])} run(s) only in A, "
            f"{len(df.attrs['only_b'])} only in B")


def main(a, b, tolerance: float = TOLERANCE, studies=None) -> int:
    """What ``python -m rewritelib compare`` does: print the table and the summary line;
    0 when every shared run is within the tolerance, else 1 (ConfigError: the CLI's 2)."""
    df = compare(a, b, tolerance, studies)
    print(table(df).to_string(index=False, justify="left"))
    print(summary(df))
    return 0 if (df["verdict"] != "outside").all() else 1
