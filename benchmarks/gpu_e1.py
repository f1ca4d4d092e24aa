"""Device driver for issue 14: the throughput benchmark, then E1 at the `gpu` preset, in one
call of a few minutes on one GPU.

1. ``gpu_throughput.py`` (its own process, a time budget, killed at a hard limit; its JSON
   is written after every variant, so a kill keeps what was measured);
2. E1: ``rewritelib.study.train_one(preset="gpu", ...)`` for every I x seed of the grid, all
   at once as separate processes on the one GPU (a 6 x 256 GPT-2 leaves most of the card
   idle). Only the number of training steps is shrunk, to what fits the time left: it is
   chosen from the throughput just measured, then checked against the runs' own progress
   after ~45 s (if they would not finish in time, they are restarted with fewer steps).
   Data, model, batch (256), learning rate and its schedule (5% warm-up, linear decay to 0
   over the run's steps) are the preset's.
3. The records (result.json, evals.jsonl; no weights) go to $OUT/e1_records.tar.gz as
   diversity-gpu/<run_id>/..., logs to $OUT/e1_logs.tar.gz, the driver's choices to
   $OUT/driver.json.

    PYTHONPATH=.gpu OUT=/tmp/out python3 .gpu/benchmarks/gpu_e1.py
    SMOKE=1 E1_SKIP_TP=1 OUT=/tmp/out python benchmarks/gpu_e1.py   # tiny, on the CPU

Environment: E1_TOTAL_S (default 500: the E1 runs are killed this long after the start),
TP_BUDGET_S / TP_HARD_S (throughput: no new variant after / killed at), E1_GRID, E1_SEEDS.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from rewritelib.scales import recipe
from rewritelib.study import run_id as study_run_id

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SMOKE = os.environ.get("SMOKE") == "1"
T0 = time.time()
TOTAL_S = float(os.environ.get("E1_TOTAL_S", "120" if SMOKE else "500"))
TP_BUDGET_S = float(os.environ.get("TP_BUDGET_S", "60" if SMOKE else "215"))
TP_HARD_S = float(os.environ.get("TP_HARD_S", "120" if SMOKE else "265"))
GRID = [int(x) for x in os.environ.get("E1_GRID", "10,100" if SMOKE else "10,100,300,1000,3000,10000").split(",")]
SEEDS = [int(x) for x in os.environ.get("E1_SEEDS", "0,1").split(",")]
BATCH, MAX_STEPS = recipe("gpu", "scratch")["batch_size"], recipe("gpu", "scratch")["max_steps"]
TOKENS_PER_EXAMPLE = 144  # the gpu preset: every example is 144 tokens
OUT = Path(os.environ.get("OUT") or "/tmp/gpu_e1_out")
WORK = Path(os.environ.get("E1_WORK", "/tmp/gpu_e1_work"))
RUNS = WORK / "diversity-gpu"
LOGS = WORK / "logs"
STATE = {"grid": GRID, "seeds": SEEDS, "batch": BATCH, "smoke": SMOKE, "events": []}


def log(msg):
    line = f"[{time.time() - T0:6.1f}s] {msg}"
    print(line, flush=True)
    STATE["events"].append(line)
    save_state()


def save_state():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "driver.json").write_text(json.dumps(STATE, indent=1))


def worker(i: int, seed: int, steps: int, run_dir: str):
    from rewritelib.study import train_one

    data_over = dict(budget=2000, test_examples=100, seen_examples=100, test_instructions=50) if SMOKE else None
    train_over = {"max_steps": steps, "eval_every": max(1, steps // 4)}
    if SMOKE:
        train_over["batch_size"] = 8
    train_one(preset="gpu", n_instructions=i, seed=seed, run_dir=run_dir, data_overrides=data_over,
              train_overrides=train_over, progress=True)


def run_throughput():
    env = {**os.environ, "TP_BUDGET_S": str(TP_BUDGET_S), "PYTHONUNBUFFERED": "1", "OUT": str(OUT)}
    with open(OUT / "throughput.log", "w") as f:
        p = subprocess.Popen([sys.executable, str(HERE / "gpu_throughput.py")], stdout=f,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            p.wait(timeout=TP_HARD_S)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            log("throughput: killed at its hard limit")
    STATE["throughput_rc"] = p.returncode
    path = OUT / "throughput.json"
    return json.loads(path.read_text()) if path.exists() else {}


def choose_steps(tp: dict, window_s: float) -> int:
    """Steps that N concurrent runs finish in window_s, from the single-process rates."""
    rows = tp.get("rows", [])

    def rate(model, variant_start, batch):
        for r in rows:
            if r["model"] == model and r["variant"].startswith(variant_start) and r["batch"] == batch:
                return r["tokens_per_s"]
        return None

    n = len(GRID) * len(SEEDS)
    today = rate("gpt2", "today (eager", BATCH)
    gpu_bound = rate("gpt2", "fast loop, eager", 1024)
    # concurrent processes time-share the GPU: guess 60% of a GPU-bound eager rate in all
    agg = 0.6 * gpu_bound if gpu_bound else 2.0e6
    if today:
        agg = min(agg, n * today)
    steps = int(window_s * agg / (n * BATCH * TOKENS_PER_EXAMPLE))
    STATE["step_choice"] = {"today_tok_s": today, "fast_eager_1024_tok_s": gpu_bound,
                            "aggregate_guess_tok_s": agg, "window_s": window_s, "raw_steps": steps}
    return max(300, min(MAX_STEPS, steps // 100 * 100))


def run_id(i, seed):
    return study_run_id({"n_instructions": i}, seed)


def launch(steps):
    procs = {}
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    LOGS.mkdir(parents=True, exist_ok=True)
    for i in GRID:
        for s in SEEDS:
            rid = run_id(i, s)
            f = open(LOGS / f"{rid}.log", "a")
            f.write(f"\n=== launch steps={steps} at {time.time() - T0:.1f}s\n")
            f.flush()
            procs[rid] = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", str(i), str(s), str(steps),
                 str(RUNS / rid)], stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return procs


def kill(procs):
    for p in procs.values():
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in procs.values():
        p.wait()


def progress(rid, logs: Path | None = None) -> int:
    """The last training step a run's log shows since its last launch (its tqdm bar, "train")."""
    text = ((logs or LOGS) / f"{rid}.log").read_text(errors="replace")
    text = text.rsplit("=== launch", 1)[-1]
    m = re.findall(r"train:[^\r\n]*?(\d+)/(\d+) \[", text)
    return int(m[-1][0]) if m else 0


def save_nvidia_smi(out: Path) -> None:
    """The card, driver and memory in use, beside the records (gpu_issue31 too)."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        smi = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        smi = "no nvidia-smi"
    (out / "nvidia-smi.txt").write_text(smi)


def main():
    RUNS.mkdir(parents=True, exist_ok=True)
    save_nvidia_smi(OUT)
    deadline = T0 + TOTAL_S

    if os.environ.get("E1_SKIP_TP") == "1":
        tp = {}
    else:
        log("throughput: start")
        tp = run_throughput()
        log(f"throughput: done, {len(tp.get('rows', []))} rows")

    steps = 4 if SMOKE else choose_steps(tp, deadline - time.time() - 50)
    STATE["steps"] = steps
    log(f"E1: launching {len(GRID) * len(SEEDS)} runs of {steps} steps")
    launched = time.time()
    procs = launch(steps)

    # check the runs' own pace once they are training; restart shorter if they cannot finish
    if not SMOKE:
        first = last = None
        while time.time() < launched + 90 and any(p.poll() is None for p in procs.values()):
            time.sleep(5)
            avg = sum(progress(rid) for rid in procs) / len(procs)
            if avg == 0:
                continue  # still starting
            if first is None:
                first = (time.time(), avg)
            elif time.time() - first[0] >= 20:
                last = (time.time(), avg)
                break
        if first and last and last[1] > first[1]:
            (t1, p1), (t2, p2) = first, last
            rate = (p2 - p1) / (t2 - t1)  # steps per second per run
            finish = t2 + (steps - p2) / rate + 25  # + final evaluation and saving
            STATE["pace"] = {"steps_per_s_per_run": rate, "projected_finish_s": finish - T0,
                             "deadline_s": deadline - T0}
            log(f"E1 pace: {rate:.2f} steps/s a run, projected finish {finish - T0:.0f}s "
                f"(deadline {deadline - T0:.0f}s)")
            if finish > deadline - 10:
                kill(procs)
                # ~20 s to start again, 25 s to evaluate and save, 15 s margin
                new = int(rate * (deadline - time.time() - 60)) // 100 * 100
                STATE["steps_first_try"], STATE["steps"] = steps, max(200, new)
                steps = STATE["steps"]
                log(f"E1: relaunching with {steps} steps")
                for rid in procs:
                    shutil.rmtree(RUNS / rid, ignore_errors=True)
                procs = launch(steps)
        else:
            log(f"E1 pace: no reading ({first}, {last})")

    while time.time() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(2)
    late = [rid for rid, p in procs.items() if p.poll() is None]
    if late:
        log(f"E1: deadline, killing {late}")
    kill(procs)
    STATE["runs"] = {rid: {"rc": p.returncode, "done": (RUNS / rid / "result.json").exists(),
                           "last_step": progress(rid)} for rid, p in procs.items()}
    log(f"E1: {sum(r['done'] for r in STATE['runs'].values())} of {len(procs)} runs done")

    with tarfile.open(OUT / "e1_records.tar.gz", "w:gz") as tar:
        for rid in procs:
            for name in ("result.json", "evals.jsonl"):
                path = RUNS / rid / name
                if path.exists():
                    tar.add(path, arcname=f"diversity-gpu/{rid}/{name}")
    with tarfile.open(OUT / "e1_logs.tar.gz", "w:gz") as tar:
        for path in sorted(LOGS.glob("*.log")):
            tar.add(path, arcname=f"logs/{path.name}")
    log("done")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
