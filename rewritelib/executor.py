"""Where a sweep's runs execute. Each run is one papermill execution of the training
notebook into its own folder; this module hands those executions out:

    scheduler=None               $REWRITELIB_SCHEDULER if set, else "local"
    scheduler="local"            a Dask LocalCluster on this machine: `workers` processes, each
                                 running one run at a time with `threads` torch threads
    scheduler="tcp://host:8786"  an existing Dask cluster (dask scheduler / dask worker,
                                 dask-jobqueue's SLURMCluster, dask-kubernetes, ...)
    scheduler="serial"           this process, one run after another, no Dask

We do not schedule anything ourselves: Dask queues the runs, gives each to a free worker,
and when a worker dies mid-run gives the run to another one (up to RETRIES times; then
the run is recorded in failed.json). A dead run leaves no result.json behind: records are
written atomically, and its half-trained folder is replaced by the retry.

Why processes, one run each: a torch run holds its threads spinning, so two runs sharing
cores slow each other down tens of times; one 1-thread run per core does not (on 2 cores,
2 x 1 finishes a sweep ~20% sooner than 1 x 2). A GPU machine gets one worker per GPU.
"""

from __future__ import annotations

import logging
import os
import traceback
from contextlib import contextmanager
from pathlib import Path

from tqdm.auto import tqdm

from .config import ConfigError
from .folders import RUN_MARKER
from .records import atomic_write_json, finished, now

RETRIES = 2  # a run whose worker died is given to another worker this many times
SCHEDULER_ENV = "REWRITELIB_SCHEDULER"
CONNECT_TIMEOUT = "20s"  # how long to wait for a cluster's scheduler to answer
SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")  # Dask's address schemes


def resolve_scheduler(scheduler: str | None) -> str:
    """'serial', 'local' or a cluster address, checked; None reads $REWRITELIB_SCHEDULER."""
    value = scheduler if scheduler is not None else os.environ.get(SCHEDULER_ENV) or "local"
    if value in ("serial", "local") or str(value).partition("://")[0] in SCHEMES and "://" in value:
        return value
    source = "scheduler" if scheduler is not None else f"${SCHEDULER_ENV}"
    raise ConfigError(f"{source}: must be 'serial', 'local' or a Dask scheduler address such "
                      f"as tcp://host:8786 ({', '.join(SCHEMES)}) (got {value!r})")


def machine_layout(workers: int | None = None, threads: int | None = None) -> tuple[int, int, int]:
    """(workers, torch threads per worker, GPUs) for a LocalCluster: one worker per GPU;
    without GPUs one per core, at most 8 (memory: a pretrained run holds ~3 GB), the cores
    shared out as threads. On 2 cores: 2 x 1; on 16: 8 x 2."""
    for name, value in (("workers", workers), ("threads", threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name}: must be an integer >= 1 (got {value!r})")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    gpus = _gpu_count()
    workers = workers or (gpus or min(cores, 8))
    threads = threads or max(1, cores // workers)
    return workers, threads, gpus


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed's
# nanny.pre-spawn-environ), good for a worker's own memory, ruinous for a torch process
# that inherits it: glibc then maps and unmaps every large tensor buffer, every step. A
# 1-thread cpu E1 run slowed from 15,600 to 11,400 tokens/s, 10x the system time.
WORKER_ONLY_ENV = ("MALLOC_TRIM_THRESHOLD_",)


@contextmanager
def kernel_env(threads: int | None, gpu: int | None = None, unset: tuple = ()):
    """The environment a run's kernel starts with (it inherits this process's): its torch
    thread count, its GPU, without ``unset``. Restored afterwards; a Dask worker runs one run
    at a time."""
    change = dict.fromkeys(unset)
    if threads is not None:
        change.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                      OPENBLAS_NUM_THREADS=str(threads))
    if gpu is not None:
        change["CUDA_VISIBLE_DEVICES"] = str(gpu)
    saved = {k: os.environ.get(k) for k in change}
    for k, v in change.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute_run(notebook: Path, run_dir: Path, params: dict) -> dict:
    """One papermill execution into run_dir; skipped when it holds a valid result.json (a
    damaged one is moved aside: records.finished), recorded
    in failed.json when the notebook fails. Paths are absolute: it may run on a Dask worker
    whose working directory is anything, and papermill's ``cwd`` (a process-wide chdir,
    papermill #473) is not used."""
    import papermill as pm

    from .kernels import IPCKernelManager

    notebook, run_dir = Path(notebook), Path(run_dir)
    if finished(run_dir):
        return {"run_id": run_dir.name, "status": "skipped"}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_MARKER).touch()  # the run's own folder: its training may replace it
    params = {**params, "run_dir": str(run_dir)}
    try:
        pm.execute_notebook(str(notebook), str(run_dir / "run.ipynb"), parameters=params,
                            kernel_name="python3", progress_bar=False,
                            kernel_manager_class=IPCKernelManager)
        (run_dir / "failed.json").unlink(missing_ok=True)
        return {"run_id": run_dir.name, "status": "done"}
    except Exception as e:  # papermill's error: record it, keep sweeping
        return record_failure(run_dir, params, e)


def record_failure(run_dir: Path, params: dict, e: BaseException) -> dict:
    error = {"run_id": run_dir.name, "status": "failed", "params": params, "time": now(),
             "error": f"{type(e).__name__}: {getattr(e, 'evalue', e)}",
             "details": "".join(traceback.format_exception_only(type(e), e))[-4000:]}
    atomic_write_json(run_dir / "failed.json", error)
    return {"run_id": run_dir.name, "status": "failed", "error": error["error"]}


def run_task(notebook: str, run_dir: str, params: dict, threads: int | None, gpus: int) -> dict:
    """A Dask task: one run on this worker, with its threads and (LocalCluster) its GPU."""
    from distributed import get_worker

    name = get_worker().name
    gpu = name % gpus if gpus and isinstance(name, int) else None
    with kernel_env(threads, gpu, unset=WORKER_ONLY_ENV):
        return execute_run(Path(notebook), Path(run_dir), params)


def execute_all(notebook: Path, runs: list[tuple[Path, dict]], scheduler: str | None = None,
                workers: int | None = None, threads: int | None = None, progress: bool = True,
                desc: str = "", done: int = 0) -> list[dict]:
    """Execute every (run folder, parameters) and return their statuses in the given order.
    ``done`` runs already finished (skipped) start the bar."""
    scheduler = resolve_scheduler(scheduler)
    bar = tqdm(total=len(runs) + done, initial=done, desc=desc, disable=not progress)
    try:
        if scheduler == "serial":
            statuses = []
            for run_dir, params in runs:
                with kernel_env(threads):
                    statuses.append(execute_run(notebook, run_dir, params))
                _tick(bar, statuses, len(runs) - len(statuses), 1)
            return statuses
        with dask_client(scheduler, workers, threads) as (client, threads, gpus):
            return _execute_on(client, notebook, runs, threads, gpus, bar)
    finally:
        bar.close()


def _execute_on(client, notebook, runs, threads, gpus, bar) -> list[dict]:
    from distributed import as_completed

    info = client.scheduler_info()
    slots = sum(w.get("nthreads", 1) for w in info["workers"].values()) or 1
    # a cluster whose workers declare GPUs (dask worker --resources GPU=1) runs one run per GPU
    needs = {"GPU": 1} if any("GPU" in w.get("resources", {}) for w in info["workers"].values()) else None
    futures = {client.submit(run_task, str(notebook), str(run_dir), params, threads, gpus,
                             key=f"run-{run_dir.name}-{os.urandom(4).hex()}", pure=False,
                             resources=needs): i
               for i, (run_dir, params) in enumerate(runs)}
    statuses = [None] * len(runs)
    for left, future in enumerate(as_completed(futures), start=1):
        i = futures[future]
        try:
            statuses[i] = future.result()
        except Exception as e:  # KilledWorker: its workers died RETRIES + 1 times
            statuses[i] = record_failure(Path(runs[i][0]), runs[i][1], e)
        _tick(bar, statuses, len(runs) - left, slots)
    return statuses


def _tick(bar, statuses: list, pending: int, slots: int) -> None:
    """One more run finished: runs done / total, how many are running, how many failed."""
    failed = sum(1 for s in statuses if s is not None and s["status"] == "failed")
    bar.set_postfix(running=min(pending, slots), failed=failed, refresh=False)
    bar.update()


@contextmanager
def dask_client(scheduler: str, workers: int | None = None, threads: int | None = None):
    """(client, torch threads per run, GPUs to pin per LocalCluster worker): a LocalCluster
    started here and closed afterwards, or a client of the cluster at ``scheduler``."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
        if scheduler == "local":
            workers, threads, gpus = machine_layout(workers, threads)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR,
                                   resources={"GPU": 1} if gpus else None)
        else:
            if workers is not None:
                raise ConfigError("workers: only for scheduler='local'; an existing cluster "
                                  "has the workers it was started with")
            machine_layout(None, threads)  # checks threads
            cluster, gpus = None, 0  # the cluster's workers are pinned by whoever started them
        try:
            client = Client(cluster or scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError) as e:
            if cluster is not None:
                cluster.close()
            raise ConfigError(f"scheduler: no Dask scheduler answers at {scheduler} ({e})") from None
        try:
            if "dashboard" in client.scheduler_info().get("services", {}):
                print(f"Dask dashboard: {client.dashboard_link}", flush=True)
            yield client, threads, gpus
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
