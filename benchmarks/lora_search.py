"""Search for the ``cpu`` LoRA recipe of the pretrained study (E6): the recipe that learns
the most within about 3 minutes a grid point on a 2-core CPU.

Each candidate trains SmolLM2-135M-Instruct + LoRA on E6's cpu data (26 letters, inputs of 8,
patterns of 3, 40% no-ops in training and test) at a few values of I, plain and encrypted,
and is scored on unseen rules: has-op inputs (the rule must act) and no-ops. One line a run;
``--log FILE`` appends one JSON line a run. The results are in docs/lora_search.md.

    .venv/bin/python benchmarks/lora_search.py                       # every candidate
    .venv/bin/python benchmarks/lora_search.py --only A,B --grid 32 --encrypt 0,1
    .venv/bin/python benchmarks/lora_search.py --threads 2           # torch threads (default 2)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from common import threads_before_torch  # noqa: E402 (benchmarks/ is on sys.path)

threads_before_torch("2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from rewritelib.config import DataConfig  # noqa: E402
from rewritelib.dataset import build_dataset, write_dataset  # noqa: E402
from rewritelib.experiments import get  # noqa: E402
from rewritelib.presets import run_settings  # noqa: E402
from rewritelib.run import RunConfig, run  # noqa: E402

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
# name -> RunConfig overrides of the pretrained cpu recipe; "old" was the recipe before the search
CANDIDATES = {  # about the same training tokens (800 examples), except where noted
    "A": dict(max_steps=100, batch_size=8, lr=1e-3, lora_rank=16, lora_alpha=32),
    "B": dict(max_steps=100, batch_size=8, lr=2e-3, lora_rank=16, lora_alpha=32),
    "C": dict(max_steps=200, batch_size=4, lr=1e-3, lora_rank=16, lora_alpha=32),
    "D": dict(max_steps=50, batch_size=16, lr=2e-3, lora_rank=16, lora_alpha=32),
    "E": dict(max_steps=100, batch_size=8, lr=1e-3, lora_rank=64, lora_alpha=128),
    "F": dict(max_steps=100, batch_size=8, lr=1e-3, lora_rank=16, lora_alpha=32, lora_targets=ATTENTION),
    "G": dict(max_steps=60, batch_size=16, lr=2e-3, lora_rank=16, lora_alpha=32, lora_dropout=0.0),  # 960
    # second round: B's steps and lr (the best of the first), without LoRA dropout (~15% faster)
    "H": dict(max_steps=100, batch_size=8, lr=2e-3, lora_rank=16, lora_alpha=32, lora_dropout=0.0),
    "I": dict(max_steps=100, batch_size=8, lr=2e-3, lora_rank=64, lora_alpha=128, lora_dropout=0.0),
    "K": dict(max_steps=100, batch_size=8, lr=4e-3, lora_rank=16, lora_alpha=32, lora_dropout=0.0),
    # third round (E6-budget): H read 4x longer, to see whether the encrypted task, which H
    # does not learn (has-op 0 at every I), is learnt with more training at a large I
    "L": dict(max_steps=400, batch_size=8, lr=2e-3, lora_rank=16, lora_alpha=32, lora_dropout=0.0),
    "old": dict(max_steps=300, batch_size=16, lr=1e-3, lora_rank=16, lora_alpha=32),  # 6x the tokens
}


def run_one(name: str, n_instructions: int, encrypt: bool, seed: int, work: Path) -> dict:
    data_kw, _ = run_settings("cpu", n_instructions, seed,
                              data_overrides={**get("E6").data["cpu"], "encrypt": encrypt})
    t0 = time.perf_counter()
    data_dir = write_dataset(build_dataset(DataConfig(**data_kw)), work / f"data-{n_instructions}-{encrypt}-{seed}",
                             overwrite=True)
    cfg = RunConfig.from_args(model="pretrained", preset="cpu", data=str(data_dir), out=str(work / "run"),
                              overwrite=True, seed=seed, **CANDIDATES[name])
    r = run(cfg, progress=False)
    m, info = r["metrics"], r["train_info"]
    return dict(candidate=name, I=n_instructions, encrypt=encrypt, seed=seed,
                has_op=m["has_op"]["exact_match"], noop=m["noop"]["exact_match"], seen=m["seen"]["exact_match"],
                seconds=round(time.perf_counter() - t0, 1), train_seconds=round(info["seconds"], 1),
                threads=torch.get_num_threads(), recipe=CANDIDATES[name])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="A,B,D,E,F,G", help="candidates, comma-separated")
    p.add_argument("--grid", default="32", help="I values, comma-separated")
    p.add_argument("--encrypt", default="0", help="0 plain, 1 encrypted, comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", default="2")
    p.add_argument("--log", default=None, help="append one JSON line per run to this file")
    args = p.parse_args(argv)
    print("candidate I encrypt has_op noop seen seconds", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            for n in map(int, args.grid.split(",")):
                for encrypt in (e == "1" for e in args.encrypt.split(",")):
                    row = run_one(name, n, encrypt, args.seed, Path(tmp))
                    print(f"{name} {n} {int(encrypt)} {row['has_op']:.3f} {row['noop']:.3f} {row['seen']:.3f} "
                          f"{row['seconds']:.0f}", flush=True)
                    if args.log:
                        with open(args.log, "a") as f:
                            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
