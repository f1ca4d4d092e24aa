"""Sweeps on Dask: a LocalCluster started here, and a scheduler and workers started as their
own processes with the `dask scheduler` / `dask worker` commands, give the same records as
the serial loop; a worker killed mid-run costs a retry, never a corrupt record."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from rewritelib import cli, executor
from rewritelib.config import ConfigError
from rewritelib.executor import machine_layout, resolve_scheduler
from rewritelib.study import run_id, run_sweep

POINTS = [{"n_instructions": 2}, {"n_instructions": 4}]
EXTRA = {"max_steps": 20}
BIN = Path(sys.executable).parent


def test_scheduler_and_layout_are_checked(monkeypatch):
    monkeypatch.delenv(executor.SCHEDULER_ENV, raising=False)
    assert resolve_scheduler(None) == "local" and resolve_scheduler("serial") == "serial"
    assert resolve_scheduler("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    monkeypatch.setenv(executor.SCHEDULER_ENV, "tcp://head:8786")
    assert resolve_scheduler(None) == "tcp://head:8786"
    with pytest.raises(ConfigError, match=r"^scheduler: must be 'serial', 'local' or .*'dask'"):
        resolve_scheduler("dask")
    monkeypatch.setenv(executor.SCHEDULER_ENV, "nowhere")
    with pytest.raises(ConfigError, match=r"^\$REWRITELIB_SCHEDULER: must be"):
        resolve_scheduler(None)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match=r"^workers: must be an integer >= 1"):
            machine_layout(workers=bad)
    with pytest.raises(ConfigError, match=r"^threads: must be an integer >= 1"):
        machine_layout(threads=0)
    workers, threads, gpus = machine_layout()
    cores = len(os.sched_getaffinity(0))
    if not gpus and cores <= 8:  # this machine is filled: one 1-thread worker per core
        assert (workers, threads) == (cores, 1)
    if not gpus:  # one worker gets every core
        assert machine_layout(workers=1)[:2] == (1, cores)


def test_bad_scheduler_is_refused_before_any_run(runs, monkeypatch):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(ConfigError, match="^scheduler: must be"):
        run_sweep("refused", POINTS, [0], "tiny", extra=EXTRA, scheduler="dask://", progress=False)
    with pytest.raises(ConfigError, match="^scheduler: no Dask scheduler answers at tcp://127.0.0.1:1"):
        run_sweep("nobody", POINTS, [0], "tiny", extra=EXTRA, scheduler="tcp://127.0.0.1:1",
                  progress=False)
    assert not (runs / "refused").exists()


def records(runs: Path, study: str) -> dict:
    """What a run computed (not when, where or how long): metrics and loss curve per run."""
    out = {}
    for path in sorted((runs / study).glob("*/result.json")):
        r = json.loads(path.read_text())
        out[path.parent.name] = {"metrics": r["metrics"], "loss": r["train_info"]["loss_curve"],
                                 "threads": r["meta_info"]["torch_threads"]}
    return out


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference: the serial loop, one torch thread per run."""
    runs = tmp_path_factory.mktemp("serial")
    os.environ["REWRITELIB_RUNS"] = str(runs)
    try:
        statuses = run_sweep("sweep", POINTS, [0], "tiny", extra=EXTRA, scheduler="serial",
                             threads=1, progress=False)
    finally:
        del os.environ["REWRITELIB_RUNS"]
    assert [s["status"] for s in statuses] == ["done", "done"]
    return records(runs, "sweep")


def test_local_dask_cluster_equals_serial(runs, serial, capsys):
    statuses = run_sweep("sweep", POINTS, [0], "tiny", extra=EXTRA, scheduler="local",
                         workers=2, threads=1)
    assert [s["status"] for s in statuses] == ["done", "done"]
    assert records(runs, "sweep") == serial and all(r["threads"] == 1 for r in serial.values())
    err = capsys.readouterr().err  # one bar over the sweep: runs done / total, running, failed
    assert "2/2" in err and "failed=0" in err and "running=0" in err
    again = run_sweep("sweep", POINTS, [0], "tiny", extra=EXTRA, workers=2, threads=1, progress=False)
    assert [s["status"] for s in again] == ["skipped", "skipped"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two 1-thread workers, each its own process, on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    file = folder / "scheduler.json"
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", file], cwd=folder,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if file.exists() and file.stat().st_size:
                break
            time.sleep(0.1)
        procs.append(subprocess.Popen([BIN / "dask", "worker", "--scheduler-file", file,
                                       "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                                      cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(scheduler_file=str(file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            yield json.loads(file.read_text())["address"]
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT)
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_existing_cluster_by_address_equals_serial(runs, serial, cluster):
    with pytest.raises(ConfigError, match="^workers: only for scheduler='local'"):
        run_sweep("sweep", POINTS, [0], "tiny", extra=EXTRA, scheduler=cluster, workers=2)
    os.environ[executor.SCHEDULER_ENV] = cluster  # the environment variable reaches it too
    try:
        statuses = run_sweep("sweep", POINTS, [0], "tiny", extra=EXTRA, threads=1, progress=False)
    finally:
        del os.environ[executor.SCHEDULER_ENV]
    assert [s["status"] for s in statuses] == ["done", "done"]
    assert records(runs, "sweep") == serial


def test_a_worker_killed_mid_run_is_retried_and_leaves_no_corrupt_record(runs, serial, cluster):
    from distributed import Client

    with Client(cluster, timeout="30s") as client:
        pids = client.run(os.getpid)  # worker address -> pid
    out = []
    sweep = threading.Thread(target=lambda: out.append(run_sweep(
        "killed", POINTS[:1], [0], "tiny", extra=EXTRA, scheduler=cluster, threads=1, progress=False)))
    sweep.start()
    kernel, victim = None, None
    for _ in range(600):  # wait for the run's kernel to be up and working, then kill its worker
        for pid in pids.values():
            kids = [k for k in psutil.Process(pid).children(recursive=True) if "ipykernel" in " ".join(k.cmdline())]
            if kids and time.time() - kids[0].create_time() > 2:
                kernel, victim = kids[0], pid
        if victim:
            break
        time.sleep(0.1)
    assert victim, "no worker started the run's kernel"
    os.kill(victim, signal.SIGKILL)
    sweep.join(timeout=300)
    assert out and [s["status"] for s in out[0]] == ["done"]
    rid = run_id(POINTS[0], 0)
    assert not (runs / "killed" / rid / "failed.json").exists()
    assert records(runs, "killed")[rid] == serial[rid]  # the retry, a whole fresh run
    kernel.wait(timeout=10)  # the dead worker's kernel stopped with it (ipykernel's parent poller)


def test_failed_runs_make_the_sweep_fail_after_the_others(monkeypatch, capsys):
    from rewritelib import experiments

    failed = {"study": "s", "summary": None, "csv": "s.csv", "figure": "s.png", "tables": {},
              "statuses": [], "failed": [{"run_id": "I0002-skewuniform-s0", "error": "DeadKernelError"}]}
    with pytest.raises(experiments.SweepFailed, match=r"1 failed run\(s\) in s: I0002-skewuniform-s0"):
        experiments.report(failed)  # a notebook's cell, hence papermill and make, fail
    monkeypatch.setattr(experiments, "run", lambda *a, **k: failed)
    assert cli.main(["sweep", "E1", "--preset", "tiny"]) == 1
    assert "I0002-skewuniform-s0" in capsys.readouterr().err


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("REWRITELIB_RUNS", str(tmp_path))
    return tmp_path


def test_dask_commands_are_installed():
    assert shutil.which("dask", path=str(BIN)), "dask's command line (distributed) is missing"


def test_a_runs_kernel_gets_its_threads_not_the_dask_workers_malloc_setting(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what Dask's nanny gives a worker
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with executor.kernel_env(2, gpu=1, unset=executor.WORKER_ONLY_ENV):
        assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
        assert os.environ["OMP_NUM_THREADS"] == "2" and os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536" and os.environ["OMP_NUM_THREADS"] == "7"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_only_sweep_takes_the_scheduler_options(capsys):
    with pytest.raises(SystemExit) as refused:  # train runs one model, here
        cli.main(["train", "--data", "d", "--out", "o", "--scheduler", "serial"])
    assert refused.value.code == 2 and "--scheduler" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    assert "--scheduler" in capsys.readouterr().out
