"""What the pretrained study's notebook (06) looks at: what LoRA trains, the tokens a
pretrained model reads, and what it writes before and after fine-tuning.

The sweeps themselves go through the experiment registry (E6, E6-budget); these helpers
only explain one model and one run.
"""

from __future__ import annotations

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
    """Fine-tune the pretrained model on one grid point and show its greedy outputs on a few
    unseen has-op examples before (the base model: LoRA starts as the identity) and after.

    By default the point is E6's plain data at this scale with the middle I of E6's grid.
    Returns (table of the examples, the run's result record)."""
    from .dataset import build_dataset
    from .evaluate import greedy_outputs
    from .experiments import get
    from .run import load_run
    from .study import check_point, run_id, runs_root, train_one

    if n_instructions is None:
        grid = get("E6").grid(preset)["n_instructions"]
        n_instructions = grid[len(grid) // 2]
    if data_overrides is None:
        data_overrides = {**get("E6").data.get(preset, {}), "encrypt": False}
    train = {"model": "pretrained", **(train_overrides or {})}
    cfg, _ = check_point(preset, n_instructions, seed, data_overrides=data_overrides, train_overrides=train)
    test = build_dataset(cfg).splits["test"]
    idx = np.nonzero(~test.is_noop)[0][:n_examples]
    cols = {k: [getattr(test, k)[i] for i in idx] for k in ("pattern", "replacement", "input", "output")}
    rule_args = (cols["pattern"], cols["replacement"], cols["input"])

    point = {"n_instructions": n_instructions, "model": "pretrained", **data_overrides}
    run_dir = Path(run_dir or runs_root() / "single" / run_id(point, seed))
    # reuse: a notebook run again (nbval, then the browser test) shows the same demo
    result = train_one(preset, n_instructions, seed, run_dir=run_dir, data_overrides=data_overrides,
                       train_overrides=train, progress=progress, reuse=True)
    model, encoder, _ = load_run(run_dir)
    after = greedy_outputs(model, encoder, *rule_args)
    with model.disable_adapter():  # the base model itself, without loading it a second time
        before = greedy_outputs(model, encoder, *rule_args)
    table = pd.DataFrame({"rule": [f"{x} -> {y}" for x, y in zip(cols["pattern"], cols["replacement"])],
                          "input": cols["input"], "expected": cols["output"],
                          "before": before, "after": after})
    table["right before"] = table["before"] == table["expected"]
    table["right after"] = table["after"] == table["expected"]
    return table, result
