"""Output folders: what ``--out`` may replace, and how it is replaced without loss.

Both CLIs write a whole folder (a data set, a run). The rules:

- An existing non-empty ``--out`` is replaced only with ``--overwrite``, and only when it is
  a folder of the same kind that the project wrote: a data folder holds ``spec.json`` and
  nothing but the data files; a run folder holds the marker ``.rewritelib-run`` (or, for runs
  written before the marker existed, ``result.json`` / ``evals.jsonl``) and nothing but run
  files. The working directory, its parents, the home and root folders and a folder that
  contains the ``--data`` of a run are never replaced.
- The new folder is written beside ``--out`` as ``.<name>.tmp-<pid>`` and swapped in at the
  end, so a crash mid-way keeps the old results. If the process dies anyway (SIGKILL), the
  next write into the same place removes the leftovers of dead processes (and puts back an
  old folder that was moved aside but never replaced).
- Every location is checked writable before any work starts.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .config import ConfigError

RUN_MARKER = ".rewritelib-run"
DATA_FILES = {"spec.json", "train.jsonl", "seen.jsonl", "test.jsonl"}
RUN_FILES = {RUN_MARKER, "result.json", "evals.jsonl", "failed.json", "run.ipynb", "model",
             "adapter", "tokenizer.json"}
KINDS = {"data": (DATA_FILES, {"spec.json"}),
         "run": (RUN_FILES, {RUN_MARKER, "result.json", "evals.jsonl"})}
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-(?P<pid>\d+)$")


def _protected(out: Path) -> str | None:
    """Why ``out`` may never be replaced, or None."""
    if out == Path.home().resolve() or out == Path(out.anchor):
        return "it is the home or root folder"
    return None


def check_out_dir(out: str | os.PathLike, overwrite: bool, kind: str,
                  inputs: tuple[Path, ...] = ()) -> None:
    """Refuse, with one line naming --out, anything that writing ``kind`` to ``out`` would
    lose; then check that ``out`` can be written. Creates nothing (it only removes what dead
    writers left beside ``out``)."""
    out = Path(out)
    clean_leftovers(out)  # first: it may put back a folder a killed writer moved aside
    real = out.resolve()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out: {out} exists and is not a directory")
    here = Path.cwd().resolve()
    if real == here or real in here.parents:  # swapping it would pull the floor away
        raise ConfigError(f"out: {out} is the working directory or one of its parents; "
                          "write into a new folder instead")
    for given in inputs:
        given = Path(given).resolve()
        if real == given or real in given.parents:
            raise ConfigError(f"out: {out} holds the data the run reads ({given}); "
                              "choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"out: {out} exists and is not empty; pass --overwrite to replace it")
        why = _protected(real) or _foreign(out, kind)
        if why:
            raise ConfigError(f"out: refusing to replace {out}: {why}; nothing was deleted")
    check_writable(out, "out")


def _foreign(out: Path, kind: str) -> str | None:
    allowed, markers = KINDS[kind]
    names = {p.name for p in out.iterdir()}
    if not names & markers:
        return f"it is not a {kind} folder written by rewritelib (no {' or '.join(sorted(markers))})"
    extra = sorted(names - allowed)
    if extra:
        return f"it holds files rewritelib did not write ({', '.join(extra[:3])})"
    return None


def check_writable(path: Path, name: str) -> None:
    """The nearest existing folder at or above ``path`` must accept a new file."""
    probe = Path(path).absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{name}: cannot create {path}: {probe} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".rewritelib-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ConfigError(f"{name}: cannot write in {probe} ({e.strerror or e})") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(out: Path) -> list[Path]:
    """Temporary siblings of ``out`` left by processes that are gone."""
    if not out.parent.is_dir():
        return []
    found = []
    for p in out.parent.iterdir():
        m = _LEFTOVER.match(p.name)
        if m and m["name"] == out.name and not _alive(int(m["pid"])):
            found.append(p)
    return found


def clean_leftovers(out: Path) -> None:
    """Remove what dead writers left beside ``out``; an old folder moved aside but never
    replaced (killed between the two renames) goes back in place instead."""
    for p in _leftovers(out):
        if ".old-" in p.name and not out.exists():
            p.rename(out)
        else:
            shutil.rmtree(p, ignore_errors=True)


@contextmanager
def replacing(out: str | os.PathLike):
    """Yield a fresh temporary folder beside ``out``; on success it replaces ``out``, on
    any failure or interruption it is removed and ``out`` stays as it was. Call
    ``check_out_dir`` first: it refuses what must not be replaced and cleans leftovers."""
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
