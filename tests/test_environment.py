"""environment.yml and pyproject.toml must ask for the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(d.startswith("python=3.11") for d in conda)
    assert "-e ." in pip and "-c requirements.lock" in pip  # the same pins as make setup
    have = {name(r) for r in pip if not r.startswith("-")}
    assert have == wanted
    # and with the same version constraints, so the two set-ups cannot drift apart
    spec = {name(r): r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert {name(r): r.replace(" ", "") for r in pip if not r.startswith("-")} == spec


def test_torch_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]


def test_lock_pins_every_dependency_within_its_range():
    """requirements.lock (pip-compile over pyproject.toml, used as a constraints file by make
    setup and environment.yml) pins every direct dependency inside pyproject's range: a range
    changed without regenerating the lock fails here."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "requirements.lock").read_text()
    pins = {name(k): v for k, v in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock, re.M)}
    for req in map(Requirement, project["dependencies"] + project["optional-dependencies"]["dev"]):
        pin = pins.get(name(req.name))
        assert pin, f"{req.name}: not in requirements.lock; regenerate it (the command in its header)"
        assert req.specifier.contains(pin), f"{req.name}: the lock pins {pin}, pyproject asks {req.specifier}"
    assert pins["torch"] == "2.13.0"  # the public version: the +cpu wheel satisfies it as a constraint
