"""One table of scales: the CLI's --preset and a study at the same scale mean the same run,
for both model kinds; defaults, the scale's recipe and overrides resolve in that order."""

import pytest

from rewritelib.cli import build_parser
from rewritelib.config import ConfigError
from rewritelib.run import RunConfig
from rewritelib.scales import SCALES
from rewritelib.study import check_point


def cli_config(*argv) -> RunConfig:
    args = vars(build_parser().parse_args(["train", "--data", ".", "--out", "o", *argv]))
    for k in ("command", "func", "no_progress"):
        args.pop(k)
    return RunConfig.from_args(**args)


def study_config(scale, **train_overrides) -> RunConfig:
    _, train_kw = check_point(scale, 64, seed=0, train_overrides=train_overrides)
    return RunConfig.from_args(data=".", out="o", **train_kw)


def settings(cfg: RunConfig) -> dict:
    d = cfg.to_dict()
    d["train"].pop("seed")
    return {k: d[k] for k in ("model", "preset", "arch", "lora_rank", "lora_alpha", "lora_dropout", "train")}


@pytest.mark.parametrize("scale", list(SCALES))
@pytest.mark.parametrize("model", ["scratch", "pretrained"])
def test_cli_preset_and_study_resolve_the_same(scale, model):
    assert settings(cli_config("--preset", scale, "--model", model)) == \
        settings(study_config(scale, model=model))


def test_the_cpu_recipes_are_pinned():
    scratch = cli_config("--preset", "cpu")
    assert (scratch.arch, scratch.train.lr, scratch.train.batch_size, scratch.train.max_steps) == \
        ("cpu", 1e-3, 64, 2200)
    lora = study_config("cpu", model="pretrained")  # was: the scratch recipe, silently
    assert (lora.arch, lora.train.lr, lora.train.batch_size, lora.train.max_steps,
            lora.lora_rank, lora.lora_alpha, lora.lora_dropout) == (None, 2e-3, 8, 100, 16, 32, 0.0)


def test_overrides_beat_the_recipe_which_beats_the_defaults():
    cfg = cli_config("--preset", "gpu", "--lr", "3e-4", "--arch", "small")
    assert (cfg.train.lr, cfg.arch, cfg.train.batch_size, cfg.train.warmup) == (3e-4, "small", 256, 0.05)
    paper = cli_config("--preset", "paper")
    assert (paper.train.epochs, paper.arch) == (50, "paper")
    steps = cli_config("--preset", "paper", "--max-steps", "10")  # explicit steps beat epochs
    assert (steps.train.epochs, steps.train.max_steps) == (None, 10)
    assert study_config("paper", max_steps=10).train.max_steps == 10


@pytest.mark.parametrize("argv,param", [
    (["--model", "pretrained", "--arch", "small"], "arch"),
    (["--arch", "huge"], "arch"),
    (["--preset", "small"], "preset"),  # a GPT-2 size, not a scale
])
def test_scale_and_arch_are_not_confused(argv, param):
    with pytest.raises(ConfigError, match=param):
        cli_config(*argv)


# --- run ids from the whole grid point ---------------------------------------------------

def registered_points():
    """Every grid point of every registered experiment at every scale, plus more axes."""
    from itertools import product

    from rewritelib.experiments import EXPERIMENTS

    for exp in EXPERIMENTS.values():
        for scale in exp.grids:
            yield from exp.points(scale)
    for fam, k, occ in product(["periodic", "mirrored", "repeated", "mixed"], [(3, 4), (3, 10), 3],
                               [1, 10, (1, 5, 10, 15, 20)]):
        yield {"n_instructions": 500, "family": fam, "family_k": k, "occurrences": occ}


def test_run_ids_are_unique_by_construction():
    from rewritelib.study import run_id

    # distinct points (a point that leaves skew out is the uniform one: the same run)
    points = {repr(sorted({"skew": "uniform", **p}.items())): p for p in registered_points()}.values()
    ids = {run_id(p, s) for p in points for s in range(3)}
    assert len(ids) == 3 * len(points)
    assert run_id({"n_instructions": 64, "family": "periodic"}, 0) != \
        run_id({"n_instructions": 64, "family": "mirrored"}, 0)
    # the committed studies' ids are unchanged
    assert run_id({"n_instructions": 64, "noop_fraction": 0.1}, 0) == "I0064-noop0.1-skewuniform-s0"
    assert run_id({"n_instructions": 512, "skew": 0.03}, 2) == "I0512-skew0.03-s2"
    assert run_id({"n_instructions": 64, "family": "periodic", "family_k": (3, 4)}, 0) == \
        "I0064-familyperiodic-k3-4-skewuniform-s0"
