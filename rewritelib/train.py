"""One training loop for both model kinds.

AdamW, linear warm-up then linear decay to zero, gradient clipping and accumulation,
epochs or a step budget. The loss covers only the output and EOS (see encoding.py). On
CPU everything stays float32, so a seed gives the same metrics. On CUDA the forward runs
under bf16 autocast, the whole data set sits on the GPU, the target positions are gathered
with a fixed-size index (``evaluate.target_windows``) and the loss is read only when logged,
so a step never waits for the host; ``compile`` (default on CUDA for models trained from
scratch, runs of >= 2,000 steps) compiles model + loss with CUDA graphs
(``mode="reduce-overhead"``). Both paths see the same batches in the same order
(benchmarks/gpu_throughput.py, docs/gpu_results.md).
A tqdm bar shows the loss and tokens/s. ``evaluate(step)`` may be called every
``eval_every`` steps; training stops early once it reports ``target_accuracy``.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import asdict

import numpy as np
import torch
from tqdm.auto import tqdm

from .config import Bool, ConfigError, Float, Int, Text, config_dataclass
from .encoding import Encoded
from .evaluate import batch_tensors, target_logits, target_windows
from .model import split_head


COMPILE_MIN_STEPS = 2000  # compile=None compiles on CUDA from this many steps on
MAX_STEPS = 10**12  # far beyond any run; keeps step counts finite integers
MAX_EPOCHS = 10**6


class TrainingDiverged(ConfigError):
    """The loss became NaN or infinite: the run stops and writes no result."""


@config_dataclass
class TrainConfig:
    lr: Float = 1e-3
    batch_size: Int = 64
    grad_accum: Int = 1
    epochs: Float | None = None  # if set, overrides max_steps
    max_steps: Int = 1000
    warmup: Float = 0.05  # share of the steps spent warming up
    weight_decay: Float = 0.01
    clip: Float = 1.0
    seed: Int = 0
    device: Text = "auto"  # auto, cpu, cuda, cuda:N
    compile: Bool | None = None  # torch.compile model + loss (CUDA only); None: on CUDA, for
    # models trained from scratch and runs of >= COMPILE_MIN_STEPS (LoRA: ~70 s to compile)
    eval_every: Int = 0  # 0: evaluate only at the end
    target_accuracy: Float | None = None  # stop early once evaluate() reports this
    log_every: Int = 10

    def __post_init__(self):  # after pydantic's type checks: ranges, and the fields together
        def need(name, ok, allowed):
            if not ok:
                raise ConfigError(f"{name}: must be {allowed} (got {getattr(self, name)!r})")

        def number(name, lo, hi, lo_open=False, hi_open=False):
            v = getattr(self, name)
            ok = math.isfinite(v) and (lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi)
            need(name, ok, f"a finite number in {'(' if lo_open else '['}{lo:g}, "
                           f"{hi:g}{')' if hi_open else ']'}")

        def integer(name, lo, hi=MAX_STEPS):
            need(name, lo <= getattr(self, name) <= hi, f"an integer in [{lo}, {hi:,}]")

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
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                            fused=cuda or None)
    steps = total_steps(cfg, len(data))
    # compile: ~24 s on an H200 for the paper GPT-2, then 7.3 instead of 19.4 ms a step of
    # 256: it pays from ~2,000 steps on (docs/gpu_results.md)
    compiled = cuda and (cfg.compile if cfg.compile is not None
                         else not hasattr(model, "peft_config") and steps >= COMPILE_MIN_STEPS)
    if cuda:
        gpu_loss, gpu_batch = _gpu_step(model, data, device, compiled, cfg.grad_accum)
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
            if cuda:
                if compiled and cfg.grad_accum == 1:
                    torch.compiler.cudagraph_mark_step_begin()
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = gpu_loss(*gpu_batch(idx))
                window_loss += loss.detach()  # a tensor: read (a sync) only when logged
            else:
                ids, mask = batch_tensors(data, idx, device)
                logits, labels = target_logits(model, ids, mask)
                loss = torch.nn.functional.cross_entropy(logits.float(), labels)
                window_loss += loss.item()
                _check_finite(window_loss, step, cfg)
            (loss / cfg.grad_accum).backward()
            info["tokens"] += int(data.length[idx].sum())
            info["target_tokens"] += int((data.length[idx] - data.target_start[idx]).sum())
            window_n += 1
        torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        info["steps"] = step
        if step % cfg.log_every == 0 or step == steps:
            window_loss = float(window_loss)
            if cuda:  # within log_every steps of a NaN
                _check_finite(window_loss, step, cfg, "at or before")
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
    info["compiled"] = compiled
    info["peak_memory_mb"] = peak_memory_mb(device)
    return info


def _check_finite(value: float, step: int, cfg: TrainConfig, when: str = "at") -> None:
    if not math.isfinite(value):
        raise TrainingDiverged(f"lr: the loss became {value} {when} step {step} "
                               f"(lr {cfg.lr:g}); try a smaller --lr; no result written")


class _TargetLoss(torch.nn.Module):
    """Backbone, head at the target positions, mean cross-entropy over them: the loss of
    ``target_logits`` + ``cross_entropy`` in shapes that do not depend on the batch."""

    def __init__(self, model):
        super().__init__()
        self.backbone, self.head = split_head(model)

    def forward(self, ids, pos, labels):
        hidden = self.backbone(input_ids=ids, use_cache=False).last_hidden_state
        hidden = hidden.gather(1, pos[..., None].expand(-1, -1, hidden.shape[-1]))
        logits = self.head(hidden).float()
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(),
                                                 ignore_index=-100)


def decoder_blocks(backbone) -> torch.nn.ModuleList:
    """The stack of transformer blocks, whatever the architecture calls it (``layers`` in
    Llama, ``h`` in GPT-2): the backbone's first ModuleList."""
    return next(m for m in backbone.modules() if isinstance(m, torch.nn.ModuleList))


def _gpu_step(model, data: Encoded, device, compiled: bool, grad_accum: int = 1):
    """(loss module, batch function): the data set on the device once, batches by index."""
    width = int(data.length.max())
    pos, labels = target_windows(data)
    ids = torch.from_numpy(np.ascontiguousarray(data.ids[:, :width])).to(device)
    pos, labels = torch.from_numpy(pos).to(device), torch.from_numpy(labels).to(device)

    def batch(idx):
        i = torch.from_numpy(idx).to(device, non_blocking=True)
        return ids[i], pos[i], labels[i]

    loss = _TargetLoss(model)
    if compiled and hasattr(model, "peft_config"):
        # deep models: compile each decoder layer (they share one graph); layer 0 stays
        # eager: its input, from frozen embeddings, needs no grad and would be a 2nd graph
        for layer in decoder_blocks(loss.backbone)[1:]:
            layer.compile(dynamic=True)
    elif compiled:
        # CUDA graphs replay into the same memory: fine when the gradients are consumed and
        # dropped every step, not when micro-batches accumulate into them
        loss = torch.compile(loss, mode="reduce-overhead" if grad_accum == 1 else None)
    return loss, batch
