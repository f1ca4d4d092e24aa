"""Carry a file larger than one device call allows (the SmolLM2 GGUF: 98,362,432 bytes) in
parts, over back-to-back calls of the device tool, and put it back together there.

A call sends the working tree (tracked and untracked-not-ignored files, ~43 MiB here, mostly
papermill_runs/) plus its ``carry`` paths, 64 MiB in all, so a call has room for about 20 MiB
of the file. zstd -19 shrinks the GGUF by 9% only (89,923,081 bytes: 4-bit and 8-bit weights
are close to random bytes), which saves no call, so the parts are plain slices of the file.

    python benchmarks/gguf_parts.py split FILE --out .gguf --final-carry .gpu .whl
        parts .gguf/<name>.part1 ... partN and .gguf/manifest.json (sizes, sha256 of every
        part and of the whole). Every part but the last fills a call's room beside the tree;
        the last leaves room for --final-carry (what the last call carries besides it).
    python3 benchmarks/gguf_parts.py join --manifest M --to DIR [--from DIR ...]
        on the device: finds the parts in the --from folders, checks each sha256 against the
        manifest, concatenates them and checks the whole; writes DIR/<name> atomically.

Standard library only: the join runs on the device before anything is installed.
Bad input: one line naming the parameter, exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

CALL_LIMIT = 64 * 2**20  # what one device call may send: tree + carried paths
MARGIN = 2 * 2**20  # for files that appear between the split and the calls
CHUNK = 2**20


class PartsError(Exception):
    """Bad input or a part that does not check: one line naming the parameter."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def path_bytes(path: Path) -> int:
    """Bytes under a file or folder (what carrying it costs)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def tree_bytes(repo: Path) -> int:
    """Bytes of the working tree a device call sends: tracked and untracked-not-ignored."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise PartsError(f"repo: {repo} is not a git checkout (the tree size is read with git)") from None
    files = [repo / name for name in out.decode().split("\0") if name]
    return sum(p.stat().st_size for p in files if p.is_file())


def part_sizes(size: int, room: int, final_extra: int) -> list[int]:
    """Sizes of the parts: each fills ``room`` but the last, which leaves ``final_extra``
    free beside it (the last call also carries the code and the wheels)."""
    if room <= final_extra:
        raise PartsError(f"final-carry: its {final_extra:,} bytes leave no room for a part "
                         f"({room:,} bytes free in a call)")
    n = max(1, math.ceil((size + final_extra) / room))
    sizes = [room] * (n - 1)
    return sizes + [size - sum(sizes)]


def split(src: Path, out: Path, room: int, final_extra: int) -> dict:
    if not src.is_file():
        raise PartsError(f"file: no such file {src}")
    size = src.stat().st_size
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{src.name}.part*"):  # a previous split's parts would be carried too
        old.unlink()
    parts = []
    with open(src, "rb") as f:
        for i, n in enumerate(part_sizes(size, room, final_extra), 1):
            path = out / f"{src.name}.part{i}"
            path.write_bytes(f.read(n))
            parts.append({"file": path.name, "bytes": n, "sha256": sha256(path)})
    manifest = {"name": src.name, "bytes": size, "sha256": sha256(src), "parts": parts}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def join(manifest_path: Path, sources: list[Path], dest: Path) -> Path:
    """Check every part, concatenate, check the whole; the file appears only when whole."""
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        raise PartsError(f"manifest: cannot read {manifest_path}") from None
    found = []
    for part in manifest["parts"]:
        path = next((d / part["file"] for d in sources if (d / part["file"]).is_file()), None)
        if path is None:
            raise PartsError(f"from: {part['file']} is in none of {', '.join(map(str, sources))} "
                             "(the machine went back between calls? carry the parts again)")
        if path.stat().st_size != part["bytes"] or sha256(path) != part["sha256"]:
            raise PartsError(f"from: {path} does not match its sha256 in the manifest")
        found.append(path)
    dest.mkdir(parents=True, exist_ok=True)
    target, tmp = dest / manifest["name"], dest / (manifest["name"] + ".tmp")
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for path in found:
            with open(path, "rb") as f:
                while block := f.read(CHUNK):
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != manifest["sha256"]:
        tmp.unlink()
        raise PartsError(f"manifest: the joined file's sha256 {h.hexdigest()} is not {manifest['sha256']}")
    os.replace(tmp, target)
    return target


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split", help="cut a file into parts that fit device calls")
    s.add_argument("file", type=Path)
    s.add_argument("--out", type=Path, default=Path(".gguf"))
    s.add_argument("--part-bytes", type=int, default=None,
                   help="size of every part but the last (default: a call's room beside the tree)")
    s.add_argument("--final-carry", type=Path, nargs="*", default=[],
                   help="what the last call carries besides the last part (.gpu .whl)")
    s.add_argument("--repo", type=Path, default=Path("."))
    j = sub.add_parser("join", help="check and concatenate the parts")
    j.add_argument("--manifest", type=Path, required=True)
    j.add_argument("--from", dest="sources", type=Path, nargs="+", default=None)
    j.add_argument("--to", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        if args.cmd == "split":
            return _split_cli(args)
        target = join(args.manifest, args.sources or [args.manifest.parent], args.to)
        print(f"joined {target} ({target.stat().st_size:,} bytes, sha256 checked)")
        return 0
    except PartsError as e:
        print(e, file=sys.stderr)
        return 2


def _split_cli(args) -> int:
    for extra in args.final_carry:
        if not extra.exists():
            raise PartsError(f"final-carry: no such path {extra}")
    final_extra = sum(path_bytes(x) for x in args.final_carry) + 4096  # + the manifest
    if args.part_bytes is not None:
        if args.part_bytes < 1:
            raise PartsError(f"part-bytes: must be >= 1 (got {args.part_bytes})")
        room = args.part_bytes
    else:
        room = CALL_LIMIT - tree_bytes(args.repo) - MARGIN
    m = split(args.file, args.out, room, final_extra)
    print(f"{m['name']}: {m['bytes']:,} bytes, sha256 {m['sha256']}")
    for i, part in enumerate(m["parts"], 1):
        print(f"  call {i}: carry {args.out / part['file']} ({part['bytes'] / 2**20:.1f} MiB)")
    print(f"  the last call also carries {args.out / 'manifest.json'} "
          f"{' '.join(map(str, args.final_carry))} ({final_extra / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
