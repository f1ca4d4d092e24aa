"""Run records: one ``result.json`` per run, written atomically.

Layout of a run folder (Int2Int-style, one JSON line per evaluation):

    RUN/result.json   run_info, train_info, metrics, meta_info (written last, atomically:
                      its presence means the run finished)
    RUN/evals.jsonl   one line of scores per evaluation during training
    RUN/model/ or RUN/adapter/, RUN/tokenizer.json   weights (safetensors), not in git
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

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


def git_hash() -> str | None:
    """The commit of the checkout rewritelib runs from (+ '-dirty' with local changes)."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
        if rev.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in ("rewritelib", "torch", "transformers", "peft", "numpy", "gguf"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def meta_info(device: str) -> dict:
    import torch

    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu"
    return {"versions": versions(), "git_hash": git_hash(), "device": device, "device_name": name,
            "torch_threads": torch.get_num_threads(), "platform": platform.platform()}


def validate_result(result: dict) -> None:
    """Raise ValueError naming the first missing piece of a result record."""
    for section, keys in REQUIRED.items():
        if section not in result:
            raise ValueError(f"result: missing section {section!r}")
        for key in keys:
            if key not in result[section]:
                raise ValueError(f"result: missing {section}.{key}")
    for split in ("seen", "unseen", "noop", "has_op"):
        m = result["metrics"][split]
        if set(m) != {"exact_match", "n"} or not isinstance(m["n"], int):
            raise ValueError(f"result: metrics.{split} must hold exact_match and n")
        if m["exact_match"] is not None and not 0 <= m["exact_match"] <= 1:
            raise ValueError(f"result: metrics.{split}.exact_match outside [0, 1]")
