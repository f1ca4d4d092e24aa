"""One training loop for both model kinds.

AdamW, linear warm-up then linear decay to zero, gradient clipping and accumulation,
epochs or a step budget. The loss covers only the output and EOS (see encoding.py). On
CUDA the forward runs under bf16 autocast and ``compile=True`` wraps the backbone in
``torch.compile``; on CPU everything stays float32, so a seed gives the same metrics.
A tqdm bar shows the loss and tokens/s. ``evaluate(step)`` may be called every
``eval_every`` steps; training stops early once it reports ``target_accuracy``.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .config import ConfigError
from .encoding import Encoded
from .evaluate import batch_tensors, target_logits
from .model import split_head


MAX_STEPS = 10**12  # far beyond any run; keeps step counts finite integers
MAX_EPOCHS = 10**6


class TrainingDiverged(ConfigError):
    """The loss became NaN or infinite: the run stops and writes no result."""


@dataclass
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 64
    grad_accum: int = 1
    epochs: float | None = None  # if set, overrides max_steps
    max_steps: int = 1000
    warmup: float = 0.05  # share of the steps spent warming up
    weight_decay: float = 0.01
    clip: float = 1.0
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    compile: bool = False  # torch.compile the backbone (CUDA only)
    eval_every: int = 0  # 0: evaluate only at the end
    target_accuracy: float | None = None  # stop early once evaluate() reports this
    log_every: int = 10

    def __post_init__(self):
        def need(name, ok, allowed):
            if not ok:
                raise ConfigError(f"{name}: must be {allowed} (got {getattr(self, name)!r})")

        def number(name, lo, hi, lo_open=False, hi_open=False):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                and (lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi)
            need(name, ok, f"a finite number in {'(' if lo_open else '['}{lo:g}, "
                           f"{hi:g}{')' if hi_open else ']'}")

        def integer(name, lo, hi=MAX_STEPS):
            v = getattr(self, name)
            need(name, isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi,
                 f"an integer in [{lo}, {hi:,}]")

        number("lr", 0, 1, lo_open=True, hi_open=True)
        for name in ("batch_size", "grad_accum", "max_steps", "log_every"):
            integer(name, 1)
        integer("eval_every", 0)
        integer("seed", 0, 2**63 - 1)
        if self.epochs is not None:
            number("epochs", 0, MAX_EPOCHS, lo_open=True)
        number("warmup", 0, 1, hi_open=True)
        number("weight_decay", 0, 1e6)
        number("clip", 0, 1e12, lo_open=True)
        if self.target_accuracy is not None:
            number("target_accuracy", 0, 1, lo_open=True)
            need("target_accuracy", self.eval_every > 0,
                 "used with eval_every > 0 (early stopping needs evaluations)")
        self.device = resolve_device(self.device)
        need("compile", not self.compile or self.device.startswith("cuda"),
             f"used on a CUDA device (device is {self.device})")

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {device} asked but this machine has no CUDA device; use cpu or auto")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"device: must be auto, cpu, cuda or cuda:N (got {device!r})")
    return device


def total_steps(cfg: TrainConfig, n_examples: int) -> int:
    if cfg.epochs is None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * n_examples / (cfg.batch_size * cfg.grad_accum)))


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def train(model, data: Encoded, cfg: TrainConfig, evaluate=None, progress: bool = True) -> dict:
    """Train in place; returns train_info (steps, tokens, tokens/s, loss curve, evals)."""
    device, cuda = cfg.device, cfg.device.startswith("cuda")
    model.to(device).train()
    if cfg.compile and cuda:
        split_head(model)[0].compile()  # in place: state_dict keys stay as they were
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                            fused=cuda or None)
    steps = total_steps(cfg, len(data))
    warm = int(cfg.warmup * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
    rng = np.random.default_rng(cfg.seed)  # batch order: a seed gives the same run
    order, cursor = rng.permutation(len(data)), 0
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    info = {"steps": 0, "tokens": 0, "target_tokens": 0, "loss_curve": [], "evals": [],
            "stopped_early": False}
    bar = tqdm(total=steps, disable=not progress, desc="train", dynamic_ncols=True)
    t0, window_loss, window_n = time.perf_counter(), 0.0, 0
    for step in range(1, steps + 1):
        for _ in range(cfg.grad_accum):
            if cursor + cfg.batch_size > len(order):
                order, cursor = rng.permutation(len(data)), 0
            idx = order[cursor:cursor + cfg.batch_size]
            cursor += cfg.batch_size
            ids, mask = batch_tensors(data, idx, device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits, labels = target_logits(model, ids, mask)
                loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            value = loss.item()
            if not math.isfinite(value):  # item() syncs anyway: this check is free
                raise TrainingDiverged(f"lr: the loss became {value} at step {step} "
                                       f"(lr {cfg.lr:g}); try a smaller --lr; no result written")
            (loss / cfg.grad_accum).backward()
            info["tokens"] += int(data.length[idx].sum())
            info["target_tokens"] += int(mask.sum())
            window_loss += value
            window_n += 1
        torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        info["steps"] = step
        if step % cfg.log_every == 0 or step == steps:
            elapsed = time.perf_counter() - t0
            info["loss_curve"].append([step, window_loss / window_n])
            bar.set_postfix(loss=f"{window_loss / window_n:.4f}", tok_s=f"{info['tokens'] / elapsed:,.0f}")
            window_loss, window_n = 0.0, 0
        bar.update(1)
        if evaluate is not None and cfg.eval_every and step % cfg.eval_every == 0 and step < steps:
            scores = evaluate(step)
            info["evals"].append(scores)
            model.train()
            if cfg.target_accuracy is not None and scores.get("accuracy", 0) >= cfg.target_accuracy:
                info["stopped_early"] = True
                break
    bar.close()
    info["seconds"] = time.perf_counter() - t0
    info["tokens_per_s"] = info["tokens"] / info["seconds"]
    info["planned_steps"] = steps
    info["peak_memory_mb"] = peak_memory_mb(device)
    return info
