"""Re-execute the stored chapters (notebooks/NN_*.ipynb) in place, over the committed records.

    python -m rewritelib.chapters            # every chapter, in order
    python -m rewritelib.chapters 03 06      # some of them

The chapters are stored executed at their parameters' defaults (the `cpu` preset), so what a
reader opens is the study itself. Executing them here trains nothing: $REWRITELIB_RECORDS_ONLY
is set, so a missing record fails the chapter in one line instead of starting an hour of
training. What is stored is what the study shows and nothing of this machine: no cell timings
(nbclient's record_timing is off), no widget state, no papermill metadata. `make test` checks
the stored outputs against the records with nbval.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .study import NOTEBOOKS, RECORDS_ONLY


def chapters(which: list[str] | None = None, folder: Path = NOTEBOOKS) -> list[Path]:
    """The chapter files, in order; ``which`` picks some by their number ("03")."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if which:
        unknown = [w for w in which if not any(p.name.startswith(f"{w}_") for p in found)]
        if unknown:
            numbers = ", ".join(p.name[:2] for p in found)
            raise SystemExit(f"chapters: no chapter {', '.join(unknown)} (there are {numbers})")
        found = [p for p in found if p.name[:2] in which]
    return found


def execute(path: Path, timeout: int = 900) -> None:
    """Execute one chapter at its stored parameters and write it back, outputs only."""
    nb = nbformat.read(path, as_version=4)
    for key in ("widgets", "papermill"):  # state of an earlier execution, not of this one
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.setdefault("id", uuid.uuid4().hex[:8])  # nbformat 4.5 wants one; kept once given
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rewritelib.chapters", description=__doc__.split("\n\n")[0])
    p.add_argument("which", nargs="*", help="chapter numbers, e.g. 03 06 (default: all)")
    args = p.parse_args(argv)
    os.environ[RECORDS_ONLY] = "1"  # the kernels inherit it
    # the overview reads the tables the other chapters write (a new study's summary.csv): last
    for path in sorted(chapters(args.which), key=lambda p: p.name.startswith("00_")):
        print(f"executing {path.name}", flush=True)
        execute(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
