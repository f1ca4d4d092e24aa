"""Command line: ``python -m rewritelib data|train ...``.

    python -m rewritelib data --out DIR [options]
    python -m rewritelib train --data DIR --model scratch|pretrained --preset NAME --out RUN
    python -m rewritelib sweep E1 --preset cpu --seeds 0 1 2 [--grid n_instructions=8,64]

Options go to DataConfig / RunConfig, which validate them; any ConfigError or ModelError
becomes one line on stderr and exit status 2, with nothing written. Ctrl-C (SIGINT) and
SIGTERM remove what was half-written and exit with one line (status 130 and 143).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from .compare import HELP as COMPARE_HELP, TOLERANCE, main as compare_main
from .config import FAMILIES, ConfigError, DataConfig
from .scales import ARCHS, SCALES


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump, no traceback)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_data_args(p: argparse.ArgumentParser) -> None:
    d = DataConfig.__dataclass_fields__
    p.add_argument("--out", required=True, help="folder for train/seen/test.jsonl and spec.json")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out if it is a data folder written by rewritelib")
    opt = {
        "n-instructions": "number of distinct training rules I",
        "budget": "training examples in all (spread over the I rules)",
        "noop-fraction": "share of training inputs where the pattern is absent, in [0, 1]",
        "skew": "'uniform' or power-law shape a > 0 of the examples per rule",
        "input-length": "letters per input z",
        "pattern-length": "letters per pattern x: N or LO-HI",
        "replacement-length": "letters per replacement y: N or LO-HI (default: as the pattern)",
        "alphabet": "the letters, e.g. abcdefghij",
        "occurrences": "times x is planted in a has-op input: N, LO-HI or a set like 1,5,10",
        "test-instructions": "number of unseen test rules",
        "test-examples": "test examples in all",
        "test-noop-fraction": "no-op share of the test split (default: --noop-fraction)",
        "test-occurrences": "occurrences in test inputs (default: --occurrences)",
        "seen-examples": "fresh examples of training rules, for accuracy on seen rules",
        "family": f"pattern family for E4: {', '.join(FAMILIES)}",
        "family-k": "k of the family for training rules: N or LO-HI (with --family; default 3-4)",
        "test-family-k": "k of the family for test rules (default: --family-k)",
        "seed": "random seed: the same seed and parameters give byte-identical files",
    }
    for flag, help_ in opt.items():
        default = d[flag.replace("-", "_")].default
        p.add_argument(f"--{flag}", default=default, help=f"{help_} (default: {default})")
    p.add_argument("--encrypt", action="store_true",
                   help="encipher every target with a seeded substitution of the alphabet (E6)")
    p.add_argument("--noops-on-top", action="store_true",
                   help="the budget counts has-op examples; the --noop-fraction share of no-ops "
                        "is added on top (E2's control)")


def run_data(args) -> int:
    from .dataset import build_dataset, write_dataset
    from .folders import check_out_dir

    params = {k: v for k, v in vars(args).items() if k not in ("command", "out", "overwrite", "func")}
    cfg = DataConfig(**params)
    check_out_dir(Path(args.out), args.overwrite, "data")  # before the work, not after it
    t0 = time.perf_counter()
    ds = build_dataset(cfg)
    t1 = time.perf_counter()
    out = write_dataset(ds, args.out, overwrite=args.overwrite)
    sizes = ", ".join(f"{k} {len(s):,}" for k, s in ds.splits.items())
    print(f"wrote {out}/: {sizes} examples; {cfg.n_instructions} training rules, "
          f"{cfg.test_instructions} unseen test rules "
          f"(built in {t1 - t0:.1f} s, written in {time.perf_counter() - t1:.1f} s)")
    return 0


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="a folder made by `rewritelib data`")
    p.add_argument("--out", required=True, help="the run folder (result.json, evals.jsonl, weights)")
    p.add_argument("--model", default="scratch", help="scratch (GPT-2 from scratch) or pretrained (LoRA)")
    p.add_argument("--preset", default="tiny", help="the scale whose recipe gives the defaults: "
                   f"{', '.join(SCALES)} (default: tiny), as in the studies")
    p.add_argument("--arch", default=None, help=f"scratch: the GPT-2 size, {', '.join(ARCHS)} "
                   "(default: the preset's)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out if it is a run folder written by rewritelib")
    p.add_argument("--no-verify", dest="verify", action="store_false", default=None,
                   help="skip checking every example against its rule when reading --data")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    num = [("--max-steps", int), ("--epochs", float), ("--lr", float), ("--batch-size", int),
           ("--grad-accum", int), ("--warmup", float), ("--weight-decay", float), ("--clip", float),
           ("--seed", int), ("--eval-every", int), ("--target-accuracy", float),
           ("--log-every", int), ("--lora-rank", int), ("--lora-alpha", int),
           ("--lora-dropout", float), ("--eval-examples", int), ("--eval-batch-size", int)]
    for flag, kind in num:
        p.add_argument(flag, type=kind, default=None, help="override the preset's value")
    p.add_argument("--model-name", default=None, help="pretrained: smollm2 (offline GGUF, default), "
                   "a Hugging Face id or a local folder")
    p.add_argument("--lora-targets", default=None, help="comma-separated module names")
    p.add_argument("--presentation", default=None, help="pretrained: spaced (default) or plain letters")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile on CUDA")


def run_train(args) -> int:
    from .run import RunConfig, run

    kw = {k: v for k, v in vars(args).items() if k not in ("command", "func", "no_progress")}
    if kw["lora_targets"]:
        kw["lora_targets"] = [t.strip() for t in kw["lora_targets"].split(",") if t.strip()]
    cfg = RunConfig.from_args(**kw)
    result = run(cfg, command="python -m rewritelib " + " ".join(sys.argv[1:]),
                 progress=not args.no_progress)
    m = result["metrics"]
    fmt = lambda s: "n/a" if s["exact_match"] is None else f"{s['exact_match']:.3f}"  # noqa: E731
    print(f"wrote {cfg.out}/result.json: exact match seen {fmt(m['seen'])} (n={m['seen']['n']}), "
          f"unseen {fmt(m['unseen'])} (n={m['unseen']['n']}), no-op {fmt(m['noop'])}, "
          f"has-op {fmt(m['has_op'])}; {result['train_info']['steps']} steps, "
          f"{result['train_info']['tokens_per_s']:,.0f} tokens/s")
    return 0


def add_sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", help="E1 ... E7 or a variant (E1-long, E6-budget, E7-compose, ...): "
                                      "the registry in rewritelib/experiments.py")
    p.add_argument("--preset", default="tiny", help=f"the scale: {', '.join(SCALES)} (default: tiny)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the scale's")
    p.add_argument("--grid", action="append", default=[], metavar="AXIS=V1,V2",
                   help="replace an axis's values, e.g. --grid n_instructions=8,64 (repeatable)")
    p.add_argument("--max-steps", type=int, default=None, help="override the recipe's steps")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.add_argument("--scheduler", default=None,
                   help="where runs execute: local (a Dask LocalCluster, the default), serial, "
                        "or a Dask scheduler address tcp://host:8786 (default: $REWRITELIB_SCHEDULER)")
    p.add_argument("--workers", type=int, default=None,
                   help="local Dask workers, one run each (default: one per GPU, else per core, at most 8)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: the cores shared out among the workers)")


def parse_grid(items: list[str]) -> dict:
    """["n_instructions=8,64", "family=periodic"] -> {"n_instructions": [8, 64], ...};
    numbers become numbers, true/false (any case) bools, a value like 1:5:10 the set (1, 5, 10).

    >>> parse_grid(["encrypt=False,TRUE", "occurrences=1:5", "skew=uniform,0.5"])
    {'encrypt': [False, True], 'occurrences': [(1, 5)], 'skew': ['uniform', 0.5]}
    """
    grid = {}
    for item in items:
        axis, sep, values = item.partition("=")
        if not sep or not axis or not values:
            raise ConfigError(f"grid: expected AXIS=V1,V2 (got {item!r})")
        grid[axis.strip()] = [_value(v.strip()) for v in values.split(",")]
    return grid


def _value(text: str):
    if ":" in text:
        return tuple(_value(t) for t in text.split(":"))
    if text.lower() in ("true", "false"):  # as text, "False" would be truthy
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_sweep_cli(args) -> int:
    from .experiments import run

    train = {"max_steps": args.max_steps} if args.max_steps is not None else None
    out = run(args.experiment, args.preset, seeds=args.seeds, grid=parse_grid(args.grid),
              train=train, progress=not args.no_progress, scheduler=args.scheduler,
              workers=args.workers, threads=args.threads)
    for title, table in out["tables"].items():
        print(f"\n{title}\n{table.to_string()}")
    print(f"\ntable: {out['csv']}" + (f"\nfigure: {out['figure']}" if out["figure"] else ""))
    if out["failed"]:
        print(f"{len(out['failed'])} failed run(s): "
              + ", ".join(f["run_id"] for f in out["failed"]), file=sys.stderr)
        return 1
    return 0


def add_compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="a runs folder (<study>/<run id>/result.json) or a "
                   "study folder (<run id>/result.json), e.g. runs/fresh")
    p.add_argument("b", metavar="B", help="the same for the records to compare with, e.g. papermill_runs")
    p.add_argument("--tolerance", type=float, default=TOLERANCE,
                   help="largest absolute difference of each exact-match metric that still "
                        f"matches (default: {TOLERANCE}, see above; 0: equal to the digit)")
    p.add_argument("--study", nargs="+", action="extend", default=None, metavar="NAME",
                   help="only these studies (repeatable)")


def run_compare_cli(args) -> int:
    return compare_main(args.a, args.b, args.tolerance, args.study)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rewritelib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    data = sub.add_parser("data", help="generate a rewrite-rule data set")
    add_data_args(data)
    data.set_defaults(func=run_data)
    train = sub.add_parser("train", help="train and evaluate one model on a data folder")
    add_train_args(train)
    train.set_defaults(func=run_train)
    sweep = sub.add_parser("sweep", help="run an experiment's grid through papermill")
    add_sweep_args(sweep)
    sweep.set_defaults(func=run_sweep_cli)
    compare = sub.add_parser("compare", help="check a reproduction: the runs two folders share, "
                             "metric by metric", description=COMPARE_HELP)
    add_compare_args(compare)
    compare.set_defaults(func=run_compare_cli)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and cleanup runs."""


def _terminate(signum, frame):
    raise Terminated


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    prog = f"rewritelib {args.command}"
    main_thread = threading.current_thread() is threading.main_thread()  # signals need it
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return args.func(args)
    except ConfigError as e:  # ModelError and TrainingDiverged included
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing half-written was left", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{prog}: terminated; nothing half-written was left", file=sys.stderr)
        return 143
    except MemoryError:
        print(f"{prog}: error: out of memory although the estimate said it would fit; "
              "try smaller sizes", file=sys.stderr)
        return 1
    except OSError as e:  # a disk that fills up, a folder that vanishes mid-run
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
