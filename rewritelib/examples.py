"""Reading a data folder back (train / seen / test JSONL) with its schema checked.

Training only trusts files that match what ``python -m rewritelib data`` writes: a file
that does not parse, lacks a field or has a wrong type stops the run with one line that
names the file, the line and the field, before any model is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .config import ConfigError

SCHEMA = {"rule_id": int, "pattern": str, "replacement": str, "input": str, "output": str,
          "is_noop": bool, "occurrences": int}


def read_examples(path: Path) -> dict:
    """Columns of one JSONL split: lists of strings, numpy arrays for the numbers."""
    cols = {k: [] for k in SCHEMA}
    try:
        lines = path.open(encoding="utf-8")
    except OSError:
        raise ConfigError(f"data: cannot read {path}") from None
    with lines:
        for n, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(f"data: {path.name} line {n} is not JSON") from None
            if not isinstance(row, dict):
                raise ConfigError(f"data: {path.name} line {n} is not a JSON object")
            for key, kind in SCHEMA.items():
                value = row.get(key)
                # bool is an int in Python; keep the two apart
                if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                    raise ConfigError(f"data: {path.name} line {n}: field {key!r} must be "
                                      f"{kind.__name__} (got {value!r})")
                cols[key].append(value)
    if not cols["rule_id"]:
        raise ConfigError(f"data: {path} holds no examples")
    for key in ("rule_id", "occurrences", "is_noop"):
        cols[key] = np.array(cols[key])
    return cols


def read_data_dir(folder: str | Path) -> dict[str, dict]:
    """{'train', 'unseen' (test.jsonl), and 'seen' if present} -> columns."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"data: {folder} is not a folder (make one with `python -m rewritelib data`)")
    splits = {"train": folder / "train.jsonl", "unseen": folder / "test.jsonl"}
    if (folder / "seen.jsonl").exists() and (folder / "seen.jsonl").stat().st_size:
        splits["seen"] = folder / "seen.jsonl"
    for name, path in splits.items():
        if not path.exists():
            raise ConfigError(f"data: {path} is missing")
    return {name: read_examples(path) for name, path in splits.items()}


def alphabet_of(data: dict[str, dict]) -> str:
    """Every letter used anywhere (targets included: a cipher stays within the alphabet)."""
    letters = set()
    for cols in data.values():
        for key in ("pattern", "replacement", "input", "output"):
            letters.update("".join(cols[key]))
    alphabet = "".join(sorted(letters))
    if not alphabet.isascii() or not alphabet.isalnum():
        raise ConfigError(f"data: letters must be ASCII letters or digits (found {alphabet!r})")
    return alphabet
