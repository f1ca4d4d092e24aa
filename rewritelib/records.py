"""Run records: one ``result.json`` per run, written atomically.

Layout of a run folder (Int2Int-style, one JSON line per evaluation):

    RUN/result.json   run_info, train_info, metrics, meta_info (written last, atomically:
                      its presence means the run finished)
    RUN/evals.jsonl   one line of scores per evaluation during training
    RUN/model/ or RUN/adapter/, RUN/tokenizer.json   weights (safetensors), not in git

What a record keeps to check that it reproduces (records written before these fields existed
lack them; ``validate_result`` does not require them):

    run_info.data_sha256       {file: sha256} of the data folder's train.jsonl, seen.jsonl,
                               test.jsonl and spec.json (None for a file it lacks), hashed when
                               the run read them: a sweep's data folder is temporary, rebuilt
                               from data_spec, so these say whether a rebuild is the same data
    meta_info.cpu_capability   torch.backends.cpu.get_cpu_capability() (AVX512, AVX2, ...):
                               the kernels torch picked, which change the float sums
    meta_info.cpu_model        /proc/cpuinfo's "model name" (else platform.processor())
    meta_info.git_hash         the commit, + "-dirty" with uncommitted changes to tracked files
    meta_info.git_diff_sha256  when dirty: sha256 of those changes, the bytes of
                               `git diff --no-color --no-ext-diff --binary HEAD` (with a default git
                               config, `git diff --binary HEAD | sha256sum`); None when clean
    meta_info.versions.lock    {"file": "requirements.lock", "sha256", "differs"}: the digest of
                               the checkout's pinned environment (make setup installs with
                               `pip install -c requirements.lock`), and every installed package
                               whose version is not the lock's pin ([] when the venv is the lock)

A damaged record (it does not parse, or lacks its fields) is never skipped silently:
``read_record`` raises ``DamagedRecord``, one line naming the file, and ``finished`` (a sweep's
done-check) moves it aside, beside the run folder, and says so in one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"  # the pinned environment (pip-compile; see its header)
DATA_FILES = ("train.jsonl", "seen.jsonl", "test.jsonl", "spec.json")

REQUIRED = {
    "run_info": ["params", "seed", "command", "start", "end"],
    "train_info": ["steps", "tokens", "tokens_per_s", "loss_curve", "peak_memory_mb",
                   "trainable_parameters"],
    "metrics": ["seen", "unseen", "noop", "has_op"],
    "meta_info": ["versions", "git_hash", "device"],
}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; records are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj) -> None:
    # allow_nan=False: NaN and Infinity are not JSON; a strict reader must be able to read it
    atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in 1 MiB chunks (never the whole file in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def data_digests(folder: str | Path) -> dict:
    """{file: sha256} of a data folder's files (None for one it lacks: seen.jsonl, spec.json
    are optional)."""
    folder = Path(folder)
    return {name: file_sha256(folder / name) if (folder / name).is_file() else None
            for name in DATA_FILES}


# What a record's code hash covers: the checkout less the records themselves. A sweep adds
# and redraws files under papermill_runs/ as it goes, so counting them made every run after
# the first of a sweep "-dirty" although the code had not changed.
CODE = (":(top)", ":(top,exclude)papermill_runs")


def git_hash(path: str | Path | None = None) -> str | None:
    """The commit of the git checkout holding ``path`` (default: the one rewritelib runs
    from), + '-dirty' with uncommitted changes to tracked files outside papermill_runs/;
    None outside git."""
    here = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
        if rev.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE],
                               cwd=here, capture_output=True, text=True, timeout=5).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_diff_sha256(path: str | Path | None = None) -> str | None:
    """sha256 of the uncommitted changes to tracked files of the checkout holding ``path``
    (the bytes of ``git diff --binary HEAD``): what a '-dirty' git_hash ran with beyond its
    commit. None when there are none or outside git."""
    here = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        diff = subprocess.run(["git", "diff", "--no-color", "--no-ext-diff", "--binary", "HEAD", "--", *CODE],
                              cwd=here, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if diff.returncode or not diff.stdout:
        return None
    return hashlib.sha256(diff.stdout).hexdigest()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_state(lock: str | Path | None = None) -> dict | None:
    """{"file", "sha256", "differs"} of the pinned environment: the lock's digest and every
    installed package whose version is not its pin ("name installed (lock pin)"; a local
    label such as torch's +cpu is not a difference). Packages the lock pins but that are not
    installed are no difference: it is a constraints file. None without a lock file (an
    installed, non-editable rewritelib)."""
    lock = Path(lock) if lock is not None else LOCK
    if not lock.is_file():
        return None
    installed = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            installed.setdefault(_canonical(name), dist.version)
    differs = []
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        if m:
            have = installed.get(_canonical(m[1]))
            if have is not None and have.split("+")[0] != m[2].split("+")[0]:
                differs.append(f"{m[1]} {have} (lock {m[2]})")
    return {"file": lock.name, "sha256": file_sha256(lock), "differs": differs}


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in ("rewritelib", "torch", "transformers", "peft", "numpy", "gguf"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["lock"] = lock_state()
    return out


def cpu_model() -> str | None:
    """The CPU's name: /proc/cpuinfo's "model name" (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def meta_info(device: str) -> dict:
    import torch

    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu"
    commit = git_hash()
    return {"versions": versions(), "git_hash": commit,
            "git_diff_sha256": git_diff_sha256() if commit and commit.endswith("-dirty") else None,
            "device": device, "device_name": name,
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_model": cpu_model()}


def validate_result(result: dict) -> None:
    """Raise ValueError naming the first missing piece of a result record."""
    if not isinstance(result, dict):
        raise ValueError(f"result: must be a JSON object (got {type(result).__name__})")
    for section, keys in REQUIRED.items():
        if section not in result:
            raise ValueError(f"result: missing section {section!r}")
        if not isinstance(result[section], dict):
            raise ValueError(f"result: section {section!r} must be an object")
        for key in keys:
            if key not in result[section]:
                raise ValueError(f"result: missing {section}.{key}")
    for split in ("seen", "unseen", "noop", "has_op"):
        m = result["metrics"][split]
        if not isinstance(m, dict) or set(m) != {"exact_match", "n"} or not isinstance(m["n"], int):
            raise ValueError(f"result: metrics.{split} must hold exact_match and n")
        e = m["exact_match"]
        if e is not None and (isinstance(e, bool) or not isinstance(e, (int, float)) or not 0 <= e <= 1):
            raise ValueError(f"result: metrics.{split}.exact_match outside [0, 1]")


class DamagedRecord(ConfigError):
    """A result.json that does not parse or lacks its fields: one line naming the file."""


def read_record(path: str | Path) -> dict:
    """A run's result.json, checked (validate_result); DamagedRecord, one line naming the
    file and what is wrong, when it is empty, does not parse or lacks its fields."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise DamagedRecord(f"{path}: damaged record (not UTF-8 text: {e.reason})") from None
    if not text.strip():
        raise DamagedRecord(f"{path}: damaged record (empty file)")
    try:
        result = json.loads(text)
    except json.JSONDecodeError as e:  # a record cut short: "Unterminated string ... line 9"
        raise DamagedRecord(f"{path}: damaged record (not JSON: {e}; the file has "
                            f"{len(text.encode())} bytes)") from None
    try:
        validate_result(result)
    except ValueError as e:
        raise DamagedRecord(f"{path}: damaged record ({e})") from None
    return result


def finished(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a valid result.json: a sweep's done-check. A damaged one is
    moved aside, beside the run folder (its rerun replaces the folder as a whole), as
    ``<run id>.result.damaged-<UTC time>.json``, kept, never deleted, with one line on
    stderr naming both paths; the run then counts as not done."""
    path = Path(run_dir) / "result.json"
    if not path.exists():
        return False
    try:
        read_record(path)
        return True
    except DamagedRecord as e:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = path.parent.parent / f"{path.parent.name}.result.damaged-{stamp}.json"
        n = 1
        while aside.exists():  # two in one second: keep both
            n += 1
            aside = aside.with_name(f"{path.parent.name}.result.damaged-{stamp}-{n}.json")
        try:
            os.replace(path, aside)
        except FileNotFoundError:  # another process moved it first
            return False
        print(f"rewritelib: {e}; moved to {aside}, rerunning its run", file=sys.stderr, flush=True)
        return False
