"""What the pretrained study's notebook (06) looks at: what LoRA trains, the tokens a
pretrained model reads, and what it writes before and after fine-tuning.

The sweeps themselves go through the experiment registry (E6, E6-budget); these helpers
only explain one model and one run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def anatomy(model) -> pd.DataFrame:
    """Parameters of a PEFT-wrapped model by where they sit: the LoRA matrices of each
    target projection (trainable) and the frozen base, with their share of the total."""
    counts: dict[tuple[str, bool], int] = {}
    for name, p in model.named_parameters():
        if "lora_" in name:  # ...layers.3.self_attn.q_proj.lora_A.default.weight
            where = "LoRA on " + name.split(".lora_")[0].rsplit(".", 1)[-1]
        else:
            where = "frozen base"
        counts[(where, p.requires_grad)] = counts.get((where, p.requires_grad), 0) + p.numel()
    total = sum(counts.values())
    rows = [{"parameters": where, "trainable": trainable, "count": n, "share": n / total}
            for (where, trainable), n in sorted(counts.items(), key=lambda kv: kv[0][0] == "frozen base")]
    rows.append({"parameters": "total", "trainable": None, "count": total, "share": 1.0})
    return pd.DataFrame(rows)


def tokens(encoder, pattern: str, replacement: str, text: str, output: str) -> list[str]:
    """One example as the model reads it: a list of token strings, EOS included."""
    enc = encoder.encode_examples([pattern], [replacement], [text], [output])
    ids = enc.ids[0, :enc.length[0]].tolist()
    return [encoder.tokenizer.decode([i]) for i in ids]


def before_after(preset: str, n_instructions: int | None = None, seed: int = 0, n_examples: int = 5,
                 run_dir: str | Path | None = None, data_overrides: dict | None = None,
                 train_overrides: dict | None = None, progress: bool = True):
    """The pretrained model's greedy outputs on a few unseen has-op examples of one grid
    point before fine-tuning (the base model: LoRA starts as the identity) and after.

    By default the point is E6's plain data at this scale with the middle I of E6's grid,
    and its run is papermill_runs/lora-demo/<run id>. The run writes what it showed to
    ``before_after.json`` beside its record, so the notebook run again (nbval, a fresh
    clone: weights are not in git) reads it and trains nothing. Returns (table of the
    examples, the run's result record)."""
    from .experiments import get
    from .records import atomic_write_json
    from .study import check_point, run_id, runs_root, study_name, train_one

    if n_instructions is None:
        grid = get("E6").grid(preset)["n_instructions"]
        n_instructions = grid[len(grid) // 2]
    if data_overrides is None:
        data_overrides = {**get("E6").data.get(preset, {}), "encrypt": False}
    train = {"model": "pretrained", **(train_overrides or {})}
    cfg, _ = check_point(preset, n_instructions, seed, data_overrides=data_overrides, train_overrides=train)
    point = {"n_instructions": n_instructions, "model": "pretrained", **data_overrides}
    run_dir = runs_root() / (run_dir or Path(study_name("lora-demo", preset)) / run_id(point, seed))
    args = dict(run_dir=run_dir, data_overrides=data_overrides, train_overrides=train, progress=progress)
    result = train_one(preset, n_instructions, seed, reuse=True, **args)  # its record, if it ran
    shown = run_dir / "before_after.json"
    if shown.exists() and (table := json.loads(shown.read_text()))["run_start"] == result["run_info"]["start"]:
        return pd.DataFrame(table["examples"]), result
    result = train_one(preset, n_instructions, seed, reuse=True, weights=True, **args)
    table = _before_after_table(run_dir, cfg, n_examples)
    atomic_write_json(shown, {"run_start": result["run_info"]["start"], "examples": table.to_dict("list")})
    return table, result


def _before_after_table(run_dir: Path, cfg, n_examples: int) -> pd.DataFrame:
    """Greedy outputs of a finished run with its weights, with LoRA off and on, on the first
    unseen has-op examples of its data (``cfg``, the DataConfig the record agrees with)."""
    from .dataset import build_dataset
    from .evaluate import greedy_outputs
    from .run import load_run

    model, encoder, _ = load_run(run_dir)
    test = build_dataset(cfg).splits["test"]
    idx = np.nonzero(~test.is_noop)[0][:n_examples]
    cols = {k: [getattr(test, k)[i] for i in idx] for k in ("pattern", "replacement", "input", "output")}
    rule_args = (cols["pattern"], cols["replacement"], cols["input"])
    after = greedy_outputs(model, encoder, *rule_args)
    with model.disable_adapter():  # the base model itself, without loading it a second time
        before = greedy_outputs(model, encoder, *rule_args)
    table = pd.DataFrame({"rule": [f"{x} -> {y}" for x, y in zip(cols["pattern"], cols["replacement"])],
                          "input": cols["input"], "expected": cols["output"],
                          "before": before, "after": after})
    table["right before"] = table["before"] == table["expected"]
    table["right after"] = table["after"] == table["expected"]
    return table
