"""Device driver for issue 31, one call at a time: E1 at the `gpu` preset trained to the end,
E6's curves at the `gpu` data shape with SmolLM2 + LoRA, and LoRA throughput on the real
SmolLM2 weights. docs/gpu_results.md ("Prepared for the next lent device") gives the calls.

A call does what ISSUE31_JOBS names, in that order of priority:

- ``tp``: LoRA training throughput on the real SmolLM2-135M (issue item 3), first and alone
  on the GPU, in its own process (``--tp``), killed at TP_HARD_S. It reuses
  ``gpu_throughput.py``'s loops and bookkeeping; writes $OUT/throughput.json.
- ``e1``: E1's runs, ``train_one(preset="gpu", ...)`` with the preset's recipe untouched
  (7,000 steps of 256) and an evaluation every 1,750 steps: diversity-gpu/<run id>.
- ``e6p`` / ``e6s``: E6's pretrained / scratch arms at `gpu` (plain and encrypted, 40% no-ops),
  the recipe untouched (LoRA: 2,000 steps of 64, rank 64; compiled per layer with
  E6_COMPILE=1, the default): pretrained-gpu/<run id>.

Runs are taken seed by seed (every I of seed 0 first), skipping those whose record is
already in ISSUE31_RECORDS (default papermill_runs/: the records of earlier calls, once
unpacked there), and launched together as separate processes on the one GPU, as many as
the time left and the card's memory allow by the rates assumed below. Steps are never cut:
every 40 s, once each run has a pace, if the runs would miss the deadline the lowest-priority
one is stopped (and left for a later call) so that the others finish; if there is room, the
next waiting run is started. Each finished run's result.json and
evals.jsonl go into $OUT/records.tar.gz at once (as <study>/<run id>/...), the logs into
$OUT/logs.tar.gz, what the driver decided into $OUT/driver.json.

    # on the device (docs/gpu_results.md has the whole command)
    ISSUE31_JOBS=e1 python3 .gpu/benchmarks/gpu_issue31.py
    # here: tiny and on the CPU, to check the script before spending device time
    SMOKE=1 OMP_NUM_THREADS=1 ISSUE31_JOBS=e1 .venv/bin/python benchmarks/gpu_issue31.py

Environment (bad values: one line naming the variable, exit status 1):
ISSUE31_JOBS (tp,e1,e6p,e6s), ISSUE31_SEEDS (0,1,2), E1_GRID (100,300,1000,3000,10000),
E6_GRID (E6's gpu grid), E6_ENCRYPT (0,1), E6_COMPILE (1), ISSUE31_DEADLINE_S (550: every
run is stopped this long after the start), TP_BUDGET_S / TP_HARD_S (280 / 340: no new
throughput variant after / killed at), SCRATCH_TOK_S (5.0e6) and LORA_TOK_S (2.5e5, 1.3e5
with E6_COMPILE=0): the GPU's tokens/s over all runs side by side, for choosing how many to
launch before their own pace is known; ISSUE31_RECORDS, ISSUE31_WORK.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

SMOKE = os.environ.get("SMOKE") == "1"
T0 = time.time()
OUT = Path(os.environ.get("OUT") or "/tmp/gpu_issue31_out")
WORK = Path(os.environ.get("ISSUE31_WORK") or f"/tmp/gpu_issue31_{int(T0)}")
LOGS = WORK / "logs"
KINDS = ("tp", "e1", "e6p", "e6s")
TOKENS_PER_EXAMPLE = 144  # the gpu data shape: every example is 144 tokens, for both models
# the sha256 of the GGUF that every committed pretrained record names (run_info.base_model)
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# Seconds before a run's first training step (data, model load, compile) and after its last
# (final evaluation, saving); GPU memory of one run. From docs/gpu_results.md: the 1,100-step
# runs spent ~16 s outside training, compiling took 24 s (GPT-2) and 68.5 s (LoRA, per
# layer) on an H200, peak memory 2.9 GB (GPT-2, batch 256) and 28-44 GB (LoRA, batch 256:
# a quarter of that at the recipe's 64, plus the weights).
STARTUP_S = {"scratch": 60, "pretrained": 150}
# (LoRA's layers, compiled for training, compile again for the no-grad evaluation)
END_S = {"scratch": 30, "pretrained": 60}
MEM_GB = {"scratch": 3.5, "pretrained": 13.0}
STATE = {"smoke": SMOKE, "events": [], "runs": {}}


# ---------------------------------------------------------------- bookkeeping

def kill(procs: dict) -> None:
    """gpu_e1's: SIGKILL to each process group. Imported late: gpu_e1 imports rewritelib
    (pydantic), which preflight() checks first."""
    import gpu_e1

    gpu_e1.kill(procs)


def step_of(name: str) -> int:
    """The last training step in a run's log (gpu_e1.progress)."""
    import gpu_e1

    return gpu_e1.progress(name, LOGS)


def log(msg: str) -> None:
    line = f"[{time.time() - T0:6.1f}s] {msg}"
    print(line, flush=True)
    STATE["events"].append(line)
    save_state()


def save_state() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = OUT / ".driver.json.tmp"
    tmp.write_text(json.dumps(STATE, indent=1, default=str))
    os.replace(tmp, OUT / "driver.json")


def pack(done: list[dict]) -> None:
    """Records of the finished runs (no weights) and every log so far, replaced atomically:
    whatever the call's end, $OUT holds what had finished."""
    _tar(OUT / "records.tar.gz", [(Path(j["run_dir"]) / name, f"{j['study']}/{j['rid']}/{name}")
                                  for j in done for name in ("result.json", "evals.jsonl")])
    _tar(OUT / "logs.tar.gz", [(p, f"logs/{p.name}") for p in sorted(LOGS.glob("*.log"))])


def _tar(target: Path, files) -> None:
    tmp = target.with_name("." + target.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for path, name in files:
            if path.exists():
                tar.add(path, arcname=name)
    os.replace(tmp, target)


# ---------------------------------------------------------------- settings

def env_list(name: str, default: str, cast=int, allowed=None) -> list:
    raw = os.environ.get(name, default)
    try:
        values = [cast(x.strip()) for x in raw.split(",") if x.strip()]
    except ValueError:
        values = []
    bad = not values or any(v not in allowed if allowed else (cast is int and v < 0) for v in values)
    if bad:
        what = f"of {', '.join(map(str, allowed))}" if allowed else "of integers >= 0"
        raise SystemExit(f"{name}: must be a comma-separated list {what} (got {raw!r})")
    return values


def env_number(name: str, default: float, lo: float, hi: float) -> float:
    raw = os.environ.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not lo <= value <= hi:
        raise SystemExit(f"{name}: must be a number from {lo:g} to {hi:g} (got {raw!r})")
    return value


def settings() -> dict:
    from rewritelib.experiments import get

    compile_lora = env_list("E6_COMPILE", "1", int, (0, 1))[0] == 1 and not SMOKE
    return dict(
        jobs=env_list("ISSUE31_JOBS", "e1", str, KINDS),
        seeds=env_list("ISSUE31_SEEDS", "0" if SMOKE else "0,1,2"),
        e1_grid=env_list("E1_GRID", "100,300" if SMOKE else "100,300,1000,3000,10000"),
        e6_grid=env_list("E6_GRID", "10" if SMOKE else ",".join(
            map(str, get("E6").grid("gpu")["n_instructions"]))),
        e6_encrypt=env_list("E6_ENCRYPT", "0,1", int, (0, 1)),
        e6_compile=compile_lora,
        deadline_s=env_number("ISSUE31_DEADLINE_S", 240 if SMOKE else 550, 10, 3600),
        tp_budget_s=env_number("TP_BUDGET_S", 150 if SMOKE else 280, 10, 3600),
        tp_hard_s=env_number("TP_HARD_S", 200 if SMOKE else 340, 10, 3600),
        scratch_tok_s=env_number("SCRATCH_TOK_S", 5.0e6, 1, 1e9),
        # docs/gpu_results.md section 1, batch 256, random weights, one run alone: 314 k
        # tokens/s compiled per layer, 139 k eager; a batch of 64 uses the GPU less, side by side
        lora_tok_s=env_number("LORA_TOK_S", 2.5e5 if compile_lora else 1.3e5, 1, 1e9),
        records=Path(os.environ.get("ISSUE31_RECORDS", "papermill_runs")),
    )


def preflight() -> dict:
    """Versions, and a one-line exit if a package the runs import is missing (pydantic is not
    on the device's image: it travels as a wheel)."""
    try:
        import peft
        import pydantic
        import torch
        import transformers

        import rewritelib.study  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"{e.name}: not importable here; install the carried wheels (.whl) first")
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "pydantic": pydantic.VERSION, "python": sys.version.split()[0]}


def check_weights() -> str:
    """The real SmolLM2 GGUF, joined from its parts (gguf_parts.py), where rewritelib looks."""
    from rewritelib.config import ModelError
    from rewritelib.model import smollm2_location
    from rewritelib.records import file_sha256

    try:
        folder, name = smollm2_location()
    except ModelError as e:
        raise SystemExit(f"gguf: {e}; join the parts first (gguf_parts.py join)") from None
    digest = file_sha256(Path(folder) / name)
    if digest != SMOLLM2_SHA256:
        raise SystemExit(f"gguf: {Path(folder) / name} has sha256 {digest}, not the records' {SMOLLM2_SHA256}")
    return str(Path(folder) / name)


def gpu_memory_gb() -> float:
    try:
        mib = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout.split()[0]
        return float(mib) / 1024
    except (OSError, subprocess.TimeoutExpired, IndexError, ValueError):
        return float("inf")  # no GPU (the smoke test on the CPU)


# ---------------------------------------------------------------- the runs

def job_training(model: str, cfg: dict) -> dict:
    """What this call adds to a run's recipe: a learning curve (4 evaluations), the device,
    per-layer compile for LoRA; on the CPU (SMOKE) a few steps of a small batch."""
    if SMOKE:
        if model == "scratch":
            return {"max_steps": 4, "batch_size": 8, "eval_every": 2, "eval_examples": 20}
        return {"max_steps": 2, "batch_size": 2}
    from rewritelib.scales import recipe

    train = {"device": "cuda", "eval_every": recipe("gpu", model)["max_steps"] // 4}
    if model == "pretrained" and cfg["e6_compile"]:
        train["compile"] = True
    return train


def smoke_data(model: str) -> dict:
    if model == "scratch":
        return dict(budget=2000, test_instructions=20, test_examples=40, seen_examples=40)
    return dict(budget=200, test_instructions=8, test_examples=8, seen_examples=4)


def make_jobs(cfg: dict) -> list[dict]:
    """Every run the call may do, in priority order: seed by seed, E6's plain arm before its
    encrypted one, I as in the grid; named and set up as the experiment registry's sweep
    would (study folder, run id, data and training overrides)."""
    from rewritelib.experiments import get
    from rewritelib.scales import recipe
    from rewritelib.study import point_overrides, run_id, study_name

    jobs = []
    for kind in [k for k in cfg["jobs"] if k != "tp"]:
        exp = get("E1" if kind == "e1" else "E6")
        if kind == "e1":
            grid = {"n_instructions": cfg["e1_grid"]}
        else:
            grid = {"model": ["pretrained" if kind == "e6p" else "scratch"],
                    "encrypt": [bool(x) for x in cfg["e6_encrypt"]], "n_instructions": cfg["e6_grid"]}
        study = study_name(exp.study, "gpu")
        for seed in cfg["seeds"]:
            for point in exp.points("gpu", **grid):
                model = point.get("model", "scratch")
                data, train = point_overrides(point, exp.data.get("gpu"), exp.train.get("gpu"))
                train.update(job_training(model, cfg))
                if SMOKE:
                    data.update(smoke_data(model))
                rid = run_id(point, seed)
                r = recipe("gpu", model, **{k: v for k, v in train.items() if k != "model"})
                jobs.append({"priority": len(jobs), "kind": kind, "model": model, "study": study, "rid": rid,
                             "name": f"{study}__{rid}", "n_instructions": point["n_instructions"],
                             "seed": seed, "data_overrides": data, "train_overrides": train,
                             "steps": r["max_steps"],
                             "tokens": r["max_steps"] * r["batch_size"] * TOKENS_PER_EXAMPLE,
                             "run_dir": str(WORK / "runs" / study / rid)})
    return jobs


def done(job: dict, records: Path) -> bool:
    """Is this run already recorded (the same data and recipe) under ``records``? Also checks
    the job's settings: a bad one is one line, before anything starts."""
    from rewritelib.config import ConfigError
    from rewritelib.study import _same_run, check_point

    try:
        cfg, train_kw = check_point("gpu", job["n_instructions"], job["seed"],
                                    data_overrides=job["data_overrides"], train_overrides=job["train_overrides"])
    except ConfigError as e:
        raise SystemExit(f"{job['name']}: {e}") from None
    return _same_run(records / job["study"] / job["rid"], cfg, train_kw, weights=False) is not None


def choose(jobs: list[dict], cfg: dict, left_s: float, room_gb: float) -> list[dict]:
    """The runs to launch now, in priority order, while they fit: runs side by side share
    the one GPU, so their GPU time adds up (tokens / the assumed rate of all runs together),
    after the longest start-up among them; and their memory must fit the card."""
    if SMOKE:
        return jobs
    chosen, gpu_s, mem = [], 0.0, 0.0
    for job in jobs:
        need = job["tokens"] / (cfg["scratch_tok_s"] if job["model"] == "scratch" else cfg["lora_tok_s"])
        startup = max(STARTUP_S[j["model"]] for j in chosen + [job])
        end = max(END_S[j["model"]] for j in chosen + [job])
        if startup + gpu_s + need + end <= left_s and mem + MEM_GB[job["model"]] <= room_gb:
            chosen.append(job)
            gpu_s, mem = gpu_s + need, mem + MEM_GB[job["model"]]
    STATE["plan"] = {"left_s": round(left_s), "gpu_s_estimate": round(gpu_s), "memory_gb": mem,
                     "room_gb": room_gb}
    return chosen


def _die_with_parent() -> None:
    """Runs in each child before it starts: its own process group (to kill it with its
    compile workers) and SIGKILL when the driver dies, so that no run outlives a call that
    was stopped at its limit and holds the GPU into the next call."""
    os.setsid()
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start(args: list[str], log_name: str, env_extra: dict | None = None) -> subprocess.Popen:
    LOGS.mkdir(parents=True, exist_ok=True)
    f = open(LOGS / f"{log_name}.log", "a")
    f.write(f"\n=== launch at {time.time() - T0:.1f}s\n")
    f.flush()
    path = [str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONUNBUFFERED": "1", "OUT": str(OUT),
           **(env_extra or {})}
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], stdout=f,
                            stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)


def launch(jobs: list[dict]) -> dict:
    # one CPU thread a run, few compile workers each: 16 cores for up to ~15 runs
    env = {"CUDA_VISIBLE_DEVICES": "0", "OMP_NUM_THREADS": "1", "TORCHINDUCTOR_COMPILE_THREADS": "2"}
    procs = {}
    for job in jobs:
        procs[job["name"]] = start(["--worker", json.dumps(job)], job["name"], env)
        STATE["runs"][job["name"]] = {"launched_s": round(time.time() - T0, 1), "steps": job["steps"]}
    log(f"launched {len(jobs)} runs: {', '.join(procs)}")
    return procs


def worker(job: dict) -> None:
    from rewritelib.study import train_one

    train_one("gpu", job["n_instructions"], job["seed"], run_dir=job["run_dir"],
              data_overrides=job["data_overrides"], train_overrides=job["train_overrides"], progress=True)


# ---------------------------------------------------------------- watching the runs

def pace(readings: dict, job: dict) -> float | None:
    """A run's steps per second over its last >= 20 s of readings; None while it starts."""
    r = readings.get(job["name"], [])
    first = next((x for x in reversed(r) if r[-1][0] - x[0] >= 20), None)
    if first is None or r[-1][1] <= first[1]:
        return None
    return (r[-1][1] - first[1]) / (r[-1][0] - first[0])


def projected_end(readings: dict, running: list[dict]) -> float | None:
    """When the last running run should end. The runs share one GPU: run j alone would go
    n times its pace, so what it still needs is remaining_j / (n * pace_j) of the whole GPU,
    and the GPU is busy until all of it is done. None while a run has no pace yet."""
    need = 0.0
    for job in running:
        if (p := pace(readings, job)) is None:
            return None
        need += (job["steps"] - readings[job["name"]][-1][1]) / (len(running) * p)
    return time.time() + need + max(END_S[j["model"]] for j in running)


def gpu_seconds(job: dict, readings: dict, running: list[dict]) -> float | None:
    """What one more run would cost of the whole GPU, at the pace of the running runs of
    its kind (n of them share the GPU), with 20% to spare; None if none of its kind runs."""
    rates = [p * j["tokens"] / j["steps"] for j in running
             if j["model"] == job["model"] and (p := pace(readings, j))]
    if not rates:
        return None
    return 1.2 * job["tokens"] / (len(running) * sum(rates) / len(rates))


def adjust(procs: dict, jobs: list[dict], queue: list[dict], readings: dict, deadline: float,
           room_gb: float) -> bool:
    """Stop the lowest-priority run if the runs would miss the deadline; else start the first
    waiting run that the measured pace says still fits. True if anything changed."""
    running = [j for j in jobs if procs[j["name"]].poll() is None]
    end = projected_end(readings, running) if running else time.time()
    if end is None:
        return False
    if end > deadline:
        victim = max(running, key=lambda j: j["priority"])
        kill({victim["name"]: procs[victim["name"]]})
        STATE["runs"][victim["name"]]["dropped_at_step"] = step_of(victim["name"])
        STATE["left_for_later"].append(victim["name"])
        log(f"pace: the runs would end at {end - T0:.0f}s, after the deadline ({deadline - T0:.0f}s): "
            f"stopped {victim['name']}, left for a later call")
        return True
    used_gb = sum(MEM_GB[j["model"]] for j in running)
    for job in queue:
        cost = gpu_seconds(job, readings, running)
        soonest = time.time() + STARTUP_S[job["model"]] + END_S[job["model"]]  # were the GPU free
        if (cost is not None and max(end, soonest) + cost <= deadline
                and used_gb + MEM_GB[job["model"]] <= room_gb):
            queue.remove(job)
            STATE["left_for_later"].remove(job["name"])
            jobs.append(job)
            procs.update(launch([job]))
            log(f"pace: the runs would end at {end - T0:.0f}s; room for {job['name']} (~{cost:.0f} GPU-s)")
            return True
    return False


def watch(procs: dict, jobs: list[dict], queue: list[dict], deadline: float, room_gb: float) -> list[dict]:
    """Wait for the runs, pack each one's record as it finishes, adjust the runs to the
    deadline by their pace every 40 s (adjust), stop all at the deadline."""
    readings, finished, last_change = {}, [], time.time()
    while time.time() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(1 if SMOKE else 5)
        for job in list(jobs):
            name, p = job["name"], procs[job["name"]]
            if "rc" in STATE["runs"][name]:
                continue  # ended, and recorded as such
            if p.poll() is not None:
                finish(job, p.returncode, finished)
            else:
                readings.setdefault(name, []).append((time.time(), step_of(name)))
        if not SMOKE and time.time() - last_change >= 40:
            if adjust(procs, jobs, queue, readings, deadline, room_gb):
                last_change = time.time()
    late = [n for n, p in procs.items() if p.poll() is None]
    if late:
        log(f"deadline: stopping {', '.join(late)}")
    kill(procs)
    for job in jobs:
        if "rc" not in STATE["runs"][job["name"]]:
            finish(job, procs[job["name"]].returncode, finished)
    return finished


def finish(job: dict, rc: int, finished: list[dict]) -> None:
    """Note how a run ended; a finished one's record goes into $OUT at once."""
    ok = rc == 0 and (Path(job["run_dir"]) / "result.json").exists()
    run = STATE["runs"][job["name"]]
    run.update(rc=rc, done=ok, ended_s=round(time.time() - T0, 1), last_step=step_of(job["name"]))
    if ok:
        metrics = json.loads((Path(job["run_dir"]) / "result.json").read_text())["metrics"]
        run["metrics"] = {s: (metrics.get(s) or {}).get("exact_match") for s in ("seen", "unseen", "has_op")}
        finished.append(job)
        pack(finished)
        log(f"{job['name']}: done {json.dumps(run['metrics'])}")
        return
    if "dropped_at_step" not in run:
        text = (LOGS / f"{job['name']}.log").read_text(errors="replace")
        run["log_tail"] = text.replace("\r", "\n").splitlines()[-5:]
    log(f"{job['name']}: ended without a record (rc {rc})")


# ---------------------------------------------------------------- issue item 3

def run_tp(cfg: dict) -> None:
    """The throughput measurement in its own process, killed at its hard limit (its JSON is
    written after every variant, so a kill keeps what was measured)."""
    log("throughput on the real SmolLM2: start")
    p = start(["--tp"], "tp", {"TP_BUDGET_S": str(cfg["tp_budget_s"])})
    try:
        p.wait(timeout=cfg["tp_hard_s"])
    except subprocess.TimeoutExpired:
        kill({"tp": p})
        log("throughput: stopped at TP_HARD_S")
    STATE["tp_rc"] = p.returncode
    log(f"throughput: done (rc {p.returncode})")


def real_data(tokenizer):
    """The gpu preset's training split at I = 1,000 as SmolLM2 reads it: spaced letters, one
    token a character, 144 tokens an example (gpu_throughput.paper_data, through HFEncoder)."""
    from rewritelib.config import DataConfig
    from rewritelib.dataset import build_dataset
    from rewritelib.encoding import HFEncoder
    from rewritelib.presets import run_settings

    over = dict(budget=2000, test_examples=100, seen_examples=100, test_instructions=50) if SMOKE else None
    data_kw, _ = run_settings("gpu", 1000, 0, data_overrides=over)
    s = build_dataset(DataConfig(**data_kw)).splits["train"]
    return HFEncoder(tokenizer, data_kw["alphabet"]).encode_examples(s.pattern, s.replacement, s.input, s.output)


def gpu_busy(tp, model, data, batch: int, lr: float) -> dict:
    """Share of the wall time the GPU spends in kernels over a few eager steps, and the
    kernels that take most of it: says whether a step waits on the host or on the GPU."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if tp.CUDA else [])
    with profile(activities=acts) as prof:
        t = time.perf_counter()
        tp.fast(model, data, [batch], 2, 1 if SMOKE else 6, lr)
        wall = time.perf_counter() - t
    kernels = [e for e in prof.key_averages() if str(e.device_type).endswith("CUDA")]
    busy = sum(getattr(e, "self_device_time_total", 0) for e in kernels) / 1e6
    top = sorted(kernels, key=lambda e: -getattr(e, "self_device_time_total", 0))[:8]
    if tp.CUDA:
        torch.cuda.empty_cache()
    return {"batch": batch, "wall_s": round(wall, 3), "kernel_s": round(busy, 3),
            "gpu_busy_share": round(busy / wall, 3) if tp.CUDA else None,
            "top_kernels": [{"name": e.key[:90], "s": round(getattr(e, "self_device_time_total", 0) / 1e6, 4),
                             "calls": e.count} for e in top]}


def lora_real() -> None:
    """Item 3: LoRA on the real SmolLM2-135M (the de-quantized GGUF), bf16 autocast, at the
    `gpu` pretrained recipe's batch (64) and larger ones: tokens/s of E6's runs as they train
    today, of gpu_throughput's fast loop eager and compiled per layer, and where the time goes."""
    import copy

    import torch

    import gpu_throughput as tp
    from rewritelib.model import add_lora, load_pretrained
    from rewritelib.scales import recipe

    tp.RESULTS["meta"] = {"device": torch.cuda.get_device_name(0) if tp.CUDA else "cpu",
                          "torch": torch.__version__, "smoke": SMOKE, "budget_s": tp.BUDGET_S,
                          "weights": "SmolLM2-135M-Instruct, Q4_1 GGUF de-quantized to float32"}
    if tp.CUDA:
        torch.backends.cuda.matmul.allow_tf32 = True
    tp.measure_ceilings()
    base, tokenizer = load_pretrained("smollm2")
    if SMOKE:  # 2 of 30 layers: the same code, seconds on one CPU thread
        base.model.layers = base.model.layers[:2]
        base.config.num_hidden_layers = 2
    enc = real_data(tokenizer)
    data = tp.GPUData(enc, tp.DEVICE)
    rec = recipe("gpu", "pretrained")  # lr 5e-4, batch 64, rank 64, alpha 128
    lr, b = rec["lr"], 2 if SMOKE else rec["batch_size"]

    def lora(dtype, dropout):
        return add_lora(copy.deepcopy(base).to(dtype), rec["lora_rank"], rec["lora_alpha"], dropout, seed=0)

    fpt = lora_flops(tp, lora(torch.float32, 0.0), data, enc)
    T, runs = float(enc.length.mean()), rec["max_steps"] * rec["batch_size"]

    def row(variant, r, **kw):
        tp.add_row("lora-real", variant, r.get("batch", b), r, fpt, runs, T, **kw)

    def sizes(*more):
        return [b] if SMOKE else [b, *more]

    warm, steps = (1, 1) if SMOKE else (3, 10)

    # In the order the issue needs them (what does not fit TP_BUDGET_S is skipped): E6's runs
    # as they train today and with E6_COMPILE (item 2 runs so), the fast loop compiled per
    # layer (item 3's number, up to batch 512 for the ceiling), CUDA graphs on top (an
    # attempt beyond it), then the eager loop and where its time goes.
    @tp.variant("E6's runs today: train.py, fp32 base, dropout 0.05, eager", 25)
    def _():
        row("train.py (E6 today): fp32 base, dropout 0.05, eager", tp.today(
            lora(torch.float32, 0.05), enc, b, warm, steps, lr), baseline=True)

    @tp.variant("E6's runs with E6_COMPILE: train.py compile=True, fp32 base, dropout 0.05", 90)
    def _():
        torch._dynamo.reset()
        row("train.py compile=True (E6_COMPILE): fp32 base, dropout 0.05, per layer", tp.today(
            lora(torch.float32, 0.05), enc, b, 4 if not SMOKE else 1, steps, lr, compile_=tp.CUDA))

    @tp.variant("fast loop, bf16 base, dropout 0, compile per layer", 100)
    def _():
        torch._dynamo.reset()
        for r in tp.fast(lora(torch.bfloat16, 0.0), data, sizes(256, 512), 4 if not SMOKE else 1, steps, lr,
                         mode="default", regional=True):
            row("fast loop, bf16 base, dropout 0, compile per layer", r)

    @tp.variant("fast loop, bf16, dropout 0, per layer + CUDA graphs", 90)
    def _():
        torch._dynamo.reset()
        for r in tp.fast(lora(torch.bfloat16, 0.0), data, sizes(256), 4 if not SMOKE else 1, steps, lr,
                         mode="reduce-overhead", regional=True):
            row("fast loop, bf16 base, dropout 0, per layer, CUDA graphs", r)

    @tp.variant("fast loop, bf16 base, dropout 0, eager", 25)
    def _():
        for r in tp.fast(lora(torch.bfloat16, 0.0), data, sizes(256), warm, steps, lr):
            row("fast loop, bf16 base, dropout 0, eager", r)

    @tp.variant("profile: fast loop eager", 15)
    def _():
        tp.RESULTS["profile_eager"] = gpu_busy(tp, lora(torch.bfloat16, 0.0), data, b, lr)
        tp.save()

    tp.RESULTS["meta"]["total_s"] = round(tp.elapsed(), 1)
    tp.save()
    print(tp.table(), flush=True)
    (OUT / "throughput_table.txt").write_text(tp.table() + "\n")


def lora_flops(tp, model, data, enc) -> float:
    """Model FLOPs a token, as gpu_throughput counts them for its random-weight Llama."""
    base = model.get_base_model()
    c = base.config
    n_lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_frozen = tp.block_matmul_params(base.model.layers) - n_lora
    fpt = tp.flops_per_token(n_lora, n_frozen, c.num_hidden_layers, c.hidden_size, int(enc.length.max()),
                             c.vocab_size * c.hidden_size, data.k, head_trained=False)
    tp.RESULTS["meta"]["lora"] = {"frozen_block_matmul_params": n_frozen, "lora_params": n_lora,
                                  "flops_per_token": fpt, "layers": c.num_hidden_layers,
                                  "tokens_per_example": float(enc.length.mean())}
    return fpt


# ---------------------------------------------------------------- main

def main() -> None:
    STATE["versions"] = preflight()
    cfg = settings()
    STATE["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.items()}
    import gpu_e1  # after preflight(): it imports rewritelib

    gpu_e1.save_nvidia_smi(OUT)
    deadline = T0 + cfg["deadline_s"]
    if {"tp", "e6p"} & set(cfg["jobs"]):
        STATE["gguf"] = check_weights()
    jobs = make_jobs(cfg)
    todo = [j for j in jobs if not done(j, cfg["records"])]
    STATE["already_recorded"] = [j["name"] for j in jobs if j not in todo]
    log(f"{len(todo)} of {len(jobs)} runs to do ({len(jobs) - len(todo)} already in {cfg['records']})")
    if "tp" in cfg["jobs"]:
        run_tp(cfg)
    room_gb = 0.9 * gpu_memory_gb()
    chosen = choose(todo, cfg, deadline - time.time(), room_gb)
    queue = [j for j in todo if j not in chosen]
    STATE["left_for_later"] = [j["name"] for j in queue]
    finished = watch(launch(chosen), chosen, queue, deadline, room_gb) if chosen else []
    pack(finished)
    log(f"done: {len(finished)} of {len(chosen)} launched runs recorded; "
        f"{len(STATE['left_for_later'])} not launched")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--tp":
        lora_real()
    elif len(sys.argv) > 1:
        raise SystemExit(f"arguments: none expected (the environment sets everything; got {sys.argv[1:]})")
    else:
        main()
