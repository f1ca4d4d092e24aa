"""Reading a data folder back (train / seen / test JSONL) with its schema checked.

Training only trusts files that match what ``python -m rewritelib data`` writes: a file
that does not parse, lacks a field or has a wrong type stops the run with one line that
names the file, the line and the field, before any model is built. Every example is also
checked against the task (its output is its rule applied to its input; is_noop and
occurrences are what the input holds), so hand-made or damaged data cannot train silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .config import ConfigError
from .resources import check_read_memory
from .encoding import RULE_SEP
from .programs import split_program, step
from .rules import count_occurrences, rewrite

# The data format, one definition for the writer (dataset.py) and the reader: field -> type.
# family and k may be null (and absent from hand-made data).
SCHEMA = {"rule_id": int, "pattern": str, "replacement": str, "input": str, "output": str,
          "is_noop": bool, "occurrences": int, "family": (str, type(None)),
          "k": (int, type(None))}


def read_examples(path: Path, cipher: dict | None = None, verify: bool = True) -> dict:
    """Columns of one JSONL split: lists of strings, numpy arrays for the numbers.

    With ``verify`` every example is checked against the task itself: its output must be its
    rule applied to its input (enciphered by ``cipher``, a str.translate table, for E6 data),
    and ``is_noop`` / ``occurrences`` must be what the input holds.
    """
    cols = {k: [] for k in SCHEMA}
    try:
        lines = path.open("rb")
    except OSError:
        raise ConfigError(f"data: cannot read {path}") from None
    with lines:
        for n, raw in enumerate(lines, 1):
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise ConfigError(f"data: {path.name} line {n} is not valid UTF-8") from None
            except json.JSONDecodeError:
                raise ConfigError(f"data: {path.name} line {n} is not JSON") from None
            if not isinstance(row, dict):
                raise ConfigError(f"data: {path.name} line {n} is not a JSON object")
            for key, kind in SCHEMA.items():
                value = row.get(key)
                # bool is an int in Python; keep the two apart
                if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                    raise ConfigError(f"data: {path.name} line {n}: field {key!r} must be "
                                      f"{_type_name(kind)} (got {value!r})")
                cols[key].append(value)
            if verify:
                _verify(row, cipher, path.name, n)
    if not cols["rule_id"]:
        raise ConfigError(f"data: {path} holds no examples")
    for key in ("rule_id", "occurrences", "is_noop"):
        cols[key] = np.array(cols[key])
    return cols


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


def _verify(row: dict, cipher: dict | None, name: str, n: int) -> None:
    """One line naming the file, the line and what is wrong, if the example is not its
    rule applied to its input."""
    z, x, y = row["input"], row["pattern"], row["replacement"]
    if not all(x.split(RULE_SEP)) or x.count(RULE_SEP) != y.count(RULE_SEP):
        raise ConfigError(f"data: {name} line {n}: a pattern is empty, or the rules' patterns "
                          f"and replacements do not pair up ({x!r}, {y!r})")
    if RULE_SEP in x:  # an E7 program: one step, by the first rule in order that occurs
        expected, fired = step(split_program(x, y), z)
        occurrences = 0 if fired < 0 else count_occurrences(z, x.split(RULE_SEP)[fired])
    else:
        occurrences = count_occurrences(z, x)
        expected = rewrite(z, x, y)
    if cipher is not None:
        expected = expected.translate(cipher)
    if row["output"] != expected:
        raise ConfigError(f"data: {name} line {n}: output {row['output']!r} is not the rule "
                          f"{x} -> {y} applied to {z!r} ({expected!r}); pass --no-verify to "
                          "train on it anyway")
    if row["is_noop"] != (occurrences == 0) or row["occurrences"] != occurrences:
        raise ConfigError(f"data: {name} line {n}: is_noop/occurrences say "
                          f"{row['is_noop']}/{row['occurrences']} but {x!r} occurs "
                          f"{occurrences} times in {z!r}")


def read_spec(folder: str | Path) -> dict | None:
    """The folder's spec.json (None for hand-made data without one), checked to be ours."""
    path = Path(folder) / "spec.json"
    if not path.exists():
        return None
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        spec["params"]["alphabet"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise ConfigError(f"data: {path} is not a spec.json written by rewritelib") from None
    return spec


def cipher_of(folder: Path) -> dict | None:
    """The str.translate table of an enciphered data set (from its spec.json), or None."""
    spec = read_spec(folder)
    cipher = spec.get("cipher") if spec else None
    if cipher is None:
        return None
    path, alphabet = folder / "spec.json", spec["params"]["alphabet"]
    if not isinstance(cipher, str) or sorted(cipher) != sorted(alphabet):
        raise ConfigError(f"data: {path}: cipher must be a permutation of the alphabet")
    return str.maketrans(alphabet, cipher)


def read_data_dir(folder: str | Path, verify: bool = True) -> dict[str, dict]:
    """{'train', 'unseen' (test.jsonl), and 'seen' if present} -> columns, each example
    verified against its rule unless ``verify`` is False."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"data: {folder} is not a folder (make one with `python -m rewritelib data`)")
    splits = {"train": folder / "train.jsonl", "unseen": folder / "test.jsonl"}
    if (folder / "seen.jsonl").exists() and (folder / "seen.jsonl").stat().st_size:
        splits["seen"] = folder / "seen.jsonl"
    for name, path in splits.items():
        if not path.exists():
            raise ConfigError(f"data: {path} is missing")
    check_read_memory(sum(p.stat().st_size for p in splits.values()))
    cipher = cipher_of(folder)
    return {name: read_examples(path, cipher, verify) for name, path in splits.items()}


def alphabet_of(data: dict[str, dict]) -> str:
    """Every letter used anywhere (targets included: a cipher stays within the alphabet)."""
    letters = set()
    for cols in data.values():
        for key in ("pattern", "replacement", "input", "output"):
            letters.update("".join(cols[key]))
    letters.discard(RULE_SEP)  # between the rules of an E7 program: a separator, not a letter
    alphabet = "".join(sorted(letters))
    if not alphabet.isascii() or not alphabet.isalnum():
        raise ConfigError(f"data: letters must be ASCII letters or digits (found {alphabet!r})")
    return alphabet
