"""One run: a data folder in, a run folder with ``result.json`` out.

``RunConfig`` gathers the model choice (scratch GPT-2 or pretrained + LoRA), the scale
(``preset``, whose recipe in scales.py gives the defaults) and any override; ``run(cfg)`` checks everything that can be checked before it creates the
run folder (data schema, model, LoRA targets, device), then trains, evaluates on seen and
unseen rules, saves the weights and writes ``result.json`` last.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from .config import Bool, ConfigError, Float, Int, Text, config_dataclass
from .encoding import RULE_SEP, CharTokenizer, HFEncoder
from .evaluate import exact_match, summarize
from .examples import alphabet_of, read_data_dir, read_spec
from .folders import RUN_MARKER, check_out_dir, replacing
from .model import (DEFAULT_PRETRAINED, add_lora, base_model_record, build_scratch, check_lora,
                    count_parameters, load_pretrained, skeleton)
from .records import atomic_write_json, data_digests, meta_info, now, validate_result
from .resources import check_batch_memory
from .scales import ARCHS, recipe
from .train import TrainConfig, train

TRAIN_FIELDS = {f.name for f in fields(TrainConfig)}
PRETRAINED_ONLY = ("model_name", "presentation", "lora_rank", "lora_alpha", "lora_dropout",
                   "lora_targets")


@config_dataclass
class RunConfig:
    data: Text
    out: Text
    model: Text = "scratch"  # scratch | pretrained
    preset: Text = "tiny"  # the scale (scales.py): its recipe gave every default below
    arch: Text | None = None  # scratch only: the GPT-2 size (scales.ARCHS)
    model_name: Text = DEFAULT_PRETRAINED  # pretrained only: 'smollm2', a hub id or a folder
    presentation: Text = "spaced"  # pretrained only: how letters reach the BPE tokenizer
    lora_rank: Int = 16
    lora_alpha: Int = 32
    lora_dropout: Float = 0.05
    lora_targets: list[Text] | None = None  # None: every attention and MLP projection
    eval_examples: Int = 1000  # per split, for evaluations during training
    eval_batch_size: Int = 256
    overwrite: Bool = False
    verify: Bool = True  # check every example against its rule when reading the data
    train: TrainConfig | None = None

    @classmethod
    def from_args(cls, model="scratch", preset="tiny", **kw) -> "RunConfig":
        """The scale's recipe for this model kind, then explicit overrides (None: keep the
        recipe's). The CLI and the studies both build their runs here."""
        given = {k: v for k, v in kw.items() if v is not None}
        if model == "scratch":  # options a scratch model would silently ignore
            for name in PRETRAINED_ONLY:
                if name in given:
                    raise ConfigError(f"{name}: only applies with --model pretrained "
                                      f"(got {name} {given[name]!r} with --model scratch)")
        elif "arch" in given:
            raise ConfigError(f"arch: only applies with --model scratch (got {given['arch']!r})")
        if "epochs" in given and "max_steps" in given:
            raise ConfigError("epochs: give epochs or max_steps, not both (epochs would win)")
        merged = recipe(preset, model, **given)
        train_kw = {k: merged.pop(k) for k in list(merged) if k in TRAIN_FIELDS}
        return cls(model=model, preset=preset, train=TrainConfig(**train_kw), **merged)

    def __post_init__(self):
        if self.train is None:
            self.train = TrainConfig()
        if self.model == "scratch" and self.arch is None:
            self.arch = recipe(self.preset, "scratch")["arch"]
        if self.model == "scratch" and self.arch not in ARCHS:
            raise ConfigError(f"arch: must be one of {', '.join(ARCHS)} (got {self.arch!r})")
        if self.presentation not in ("spaced", "plain"):
            raise ConfigError(f"presentation: must be spaced or plain (got {self.presentation!r})")
        for name in ("lora_rank", "lora_alpha", "eval_examples", "eval_batch_size"):
            if getattr(self, name) < 1:  # an integer: pydantic checked the types
                raise ConfigError(f"{name}: must be an integer >= 1 (got {getattr(self, name)!r})")
        if not 0 <= self.lora_dropout < 1:  # nan too
            raise ConfigError(f"lora_dropout: must be in [0, 1) (got {self.lora_dropout})")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def build_model(cfg: RunConfig, alphabet: str, data: dict):
    """(model, encoder, encoded splits); ModelError / ConfigError on anything wrong."""
    if cfg.model == "scratch":
        programs = any(RULE_SEP in x for cols in data.values() for x in cols["pattern"])
        encoder = CharTokenizer(alphabet, programs)
        enc = {name: _encode(encoder, cols) for name, cols in data.items()}
        context = max(int(e.length.max()) for e in enc.values())
        return build_scratch(cfg.arch, encoder.vocab_size, context, cfg.train.seed), encoder, enc
    check_lora(skeleton(cfg.model_name), cfg.lora_rank, cfg.lora_targets)  # before the weights
    model, tokenizer = load_pretrained(cfg.model_name)
    try:
        encoder = HFEncoder(tokenizer, alphabet, cfg.presentation)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    enc = {name: _encode(encoder, cols) for name, cols in data.items()}
    model = add_lora(model, cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets,
                     seed=cfg.train.seed)
    return model, encoder, enc


def _encode(encoder, cols):
    return encoder.encode_examples(cols["pattern"], cols["replacement"], cols["input"], cols["output"])


def run(cfg: RunConfig, command: str | None = None, progress: bool = True) -> dict:
    """Check everything, then train into a temporary folder beside ``cfg.out`` that replaces
    it at the very end (folders.replacing): a crash or Ctrl-C keeps the old run folder."""
    start = now()
    out = Path(cfg.out)
    check_out_dir(out, cfg.overwrite, "run", inputs=(Path(cfg.data),))
    data = read_data_dir(cfg.data, verify=cfg.verify)
    digests = data_digests(cfg.data)  # now: a sweep's data folder is gone after the run
    if cfg.train.batch_size > len(data["train"]["rule_id"]):
        raise ConfigError(f"batch_size: must be <= the {len(data['train']['rule_id']):,} "
                          f"training examples (got {cfg.train.batch_size:,})")
    alphabet = alphabet_of(data)
    torch.manual_seed(cfg.train.seed)
    model, encoder, enc = build_model(cfg, alphabet, data)
    check_model_memory(cfg, model, enc)
    spec = read_spec(cfg.data) or {}
    with replacing(out) as tmp:
        (tmp / RUN_MARKER).write_text("a run folder of rewritelib: --overwrite may replace it\n")
        run_info = {"params": cfg.to_dict(), "seed": cfg.train.seed,
                    "command": command or " ".join(sys.argv), "start": start, "end": None,
                    "data": str(cfg.data), "data_spec": spec.get("params"), "alphabet": alphabet,
                    "data_summary": spec.get("train_counts_summary"), "data_sha256": digests}
        if cfg.model == "pretrained":  # the hub id its adapter names; the GGUF and its sha256
            run_info["base_model"] = base_model_record(cfg.model_name)
        result = train_and_record(cfg, model, encoder, enc, data, tmp, progress, run_info)
        run_info["end"] = now()
        validate_result(result)
        atomic_write_json(tmp / "result.json", result)
    return result


def check_model_memory(cfg: RunConfig, model, enc: dict) -> None:
    c = model.config
    width, layers = c.hidden_size, c.num_hidden_layers
    tokens = max(e.ids.shape[1] for e in enc.values())
    check_batch_memory(min(cfg.train.batch_size, len(enc["train"])), tokens, width, layers,
                       "batch_size")
    largest = max(len(e) for e in enc.values())
    check_batch_memory(min(cfg.eval_batch_size, largest), tokens, width, 1, "eval_batch_size")


def train_and_record(cfg: RunConfig, model, encoder, enc: dict, data: dict, folder: Path,
                     progress: bool, run_info: dict) -> dict:
    """Train, evaluate, save the weights into ``folder``; the result record (not written)."""
    rng = np.random.default_rng(cfg.train.seed)
    probe = {name: rng.permutation(len(enc[name]))[:cfg.eval_examples] for name in enc if name != "train"}
    evals_path = folder / "evals.jsonl"
    autocast = cfg.train.device.startswith("cuda")

    def evaluate(step: int) -> dict:
        scores = {"step": step}
        for name, idx in probe.items():
            sub = enc[name].take(idx)
            scores[name] = float(exact_match(model, sub, cfg.eval_batch_size, cfg.train.device, autocast).mean())
        # early stopping looks at seen rules only, never at the unseen test rules
        scores["accuracy"] = scores.get("seen", 0.0)
        with evals_path.open("a") as f:
            f.write(json.dumps(scores, allow_nan=False) + "\n")
        return scores

    trainable, total = count_parameters(model)
    train_info = train(model, enc["train"], cfg.train, evaluate, progress)
    train_info.update(trainable_parameters=trainable, total_parameters=total,
                      train_examples=len(enc["train"]))
    results = {name: (exact_match(model, enc[name], cfg.eval_batch_size, cfg.train.device, autocast),
                      data[name]) for name in ("seen", "unseen") if name in enc}
    metrics = summarize(results)
    metrics.setdefault("seen", {"exact_match": None, "n": 0})
    save_weights(model, encoder, folder)
    return {
        "run_info": run_info,
        "train_info": train_info,
        "metrics": metrics,
        "meta_info": meta_info(cfg.train.device),
    }


def save_weights(model, encoder, out: Path) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar for a one-file write is noise
    if isinstance(encoder, CharTokenizer):
        model.save_pretrained(out / "model")  # config.json + model.safetensors
        encoder.save(out / "tokenizer.json")
    else:
        # the LoRA adapter only (safetensors); no embeddings: LoRA never trains them, and PEFT
        # would ask the hub whether the vocabulary changed
        model.save_pretrained(out / "adapter", save_embedding_layers=False)


def load_run(run_dir: str | Path):
    """(model, encoder, result) of a finished run, weights loaded from safetensors."""
    run_dir = Path(run_dir)
    result = json.loads((run_dir / "result.json").read_text())
    params = result["run_info"]["params"]
    if params["model"] == "scratch":
        from transformers import GPT2LMHeadModel

        model = GPT2LMHeadModel.from_pretrained(run_dir / "model", use_safetensors=True)
        return model.eval(), CharTokenizer.load(run_dir / "tokenizer.json"), result
    from peft import PeftModel

    base, tokenizer = load_pretrained(params["model_name"])
    model = PeftModel.from_pretrained(base, run_dir / "adapter")
    encoder = HFEncoder(tokenizer, result["run_info"]["alphabet"], params["presentation"])
    return model.eval(), encoder, result

