"""benchmarks/gpu_issue31.py's pace arithmetic: runs side by side share one GPU, so the last
one ends when all their remaining work is done, and one more run costs its share of it."""

import importlib.util
import sys
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "gpu_issue31", Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_issue31.py")
driver = importlib.util.module_from_spec(SPEC)
_path = list(sys.path)
SPEC.loader.exec_module(driver)
sys.path[:] = _path  # the driver puts benchmarks/ first, for itself: not for the other tests


def test_projected_end_and_cost(monkeypatch):
    monkeypatch.setattr(driver.time, "time", lambda: 1000.0)
    jobs = [{"name": n, "steps": 100, "tokens": 1000, "model": "scratch"} for n in ("a", "b")]
    # both at 1 step/s over their last 20 s; 60 and 80 steps to go, 2 runs on the GPU
    readings = {"a": [(970, 10), (980, 20), (1000, 40)], "b": [(980, 0), (1000, 20)]}
    assert driver.projected_end(readings, jobs) == pytest.approx(1000 + 60 / 2 + 80 / 2 + driver.END_S["scratch"])
    # each goes 10 tokens/s, so the GPU gives 20 to one run: 1,000 tokens, 20% to spare
    assert driver.gpu_seconds({"model": "scratch", "tokens": 1000}, readings, jobs) == pytest.approx(60)
    assert driver.gpu_seconds({"model": "pretrained", "tokens": 1000}, readings, jobs) is None
    readings["b"] = [(995, 0), (1000, 5)]  # read for 5 s only: no pace yet, no projection
    assert driver.projected_end(readings, jobs) is None


def test_bad_environment_is_one_line(monkeypatch):
    monkeypatch.setenv("ISSUE31_JOBS", "e1,e7")
    with pytest.raises(SystemExit, match=r"^ISSUE31_JOBS: must be a comma-separated list of tp, e1, e6p, e6s"):
        driver.env_list("ISSUE31_JOBS", "e1", str, driver.KINDS)
    monkeypatch.setenv("LORA_TOK_S", "fast")
    with pytest.raises(SystemExit, match=r"^LORA_TOK_S: must be a number"):
        driver.env_number("LORA_TOK_S", 2.5e5, 1, 1e9)


class FakeRun:
    def __init__(self):
        self.rc = None

    def poll(self):
        return self.rc


def test_adjust_stops_the_last_run_or_starts_one_more(monkeypatch, tmp_path):
    monkeypatch.setattr(driver.time, "time", lambda: 1000.0)
    monkeypatch.setattr(driver, "OUT", tmp_path)
    monkeypatch.setattr(driver, "step_of", lambda name: 0)
    monkeypatch.setattr(driver, "kill", lambda procs: [setattr(p, "rc", -9) for p in procs.values()])
    monkeypatch.setattr(driver, "launch", lambda jobs: {j["name"]: FakeRun() for j in jobs})
    monkeypatch.setattr(driver, "STATE", {"events": [], "runs": {n: {} for n in "abc"}, "left_for_later": ["c"]})
    jobs = [{"name": n, "priority": i, "steps": 100, "tokens": 1000, "model": "scratch"} for i, n in enumerate("ab")]
    queue = [{"name": "c", "priority": 2, "steps": 100, "tokens": 1000, "model": "scratch"}]
    readings = {"a": [(980, 20), (1000, 40)], "b": [(980, 0), (1000, 20)]}  # the runs end at 1,100 s
    procs = {n: FakeRun() for n in "ab"}

    # one more run costs ~60 GPU-s: room before 1,200 s, not before 1,150 s
    assert not driver.adjust(procs, jobs, queue, readings, deadline=1150, room_gb=100)
    assert driver.adjust(procs, jobs, queue, readings, deadline=1200, room_gb=100)
    assert [j["name"] for j in jobs] == ["a", "b", "c"] and not queue and "c" in procs
    assert driver.STATE["left_for_later"] == []

    # too late for both: the lowest-priority running run (b) stops and waits for a later call
    jobs.pop()
    assert driver.adjust(procs, jobs, [], readings, deadline=1050, room_gb=100)
    assert procs["b"].rc == -9 and procs["a"].rc is None
    assert driver.STATE["left_for_later"] == ["b"] and driver.STATE["runs"]["b"]["dropped_at_step"] == 0
