"""Memory a data set or a run will need, estimated from its parameters before any work.

The estimates are linear fits measured on this project's own code (peak RSS on a 2-core
Linux machine, see the README's bad-input section), with some margin: they exist to refuse
sizes that cannot fit (a budget of 10^13 examples, inputs of 10^9 letters) with one line,
instead of a MemoryError or the kernel's OOM killer minutes later. They do not promise
that a size just below the limit fits.
"""

from __future__ import annotations

import os

from .config import ConfigError

# Building and writing a data set: bytes per example (train + seen + test), fit to
# 300 + 4 x input_length (measured 303, 541, 1,092 and 4,088 bytes at input lengths 8, 50,
# 200 and 1,000).
DATA_BYTES_BASE, DATA_BYTES_PER_LETTER = 300, 4
# Reading a data folder and encoding it for a model: bytes per byte of JSONL (measured 4.4x,
# 6.8x and 9.7x at input lengths 8, 50 and 400).
READ_BYTES_PER_FILE_BYTE = 12
# Activations kept for the backward pass, per token and per layer, in units of the width
# (~34 x width bytes in 16-bit, Korthikanti et al. 2022; doubled for float32).
TRAIN_BYTES_PER_TOKEN_LAYER_WIDTH = 68


def available_memory() -> int:
    """Bytes the machine can still give (MemAvailable on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000


def check_memory(need: int, name: str, what: str) -> None:
    have = available_memory()
    if need > have:
        raise ConfigError(f"{name}: {what} needs about {human(need)} of memory; this machine "
                          f"has {human(have)} available")


def data_memory(cfg) -> tuple[int, str]:
    """(bytes, the parameter most to blame) to build and write the data set of ``cfg``."""
    sizes = {"budget": cfg.train_examples, "test_examples": cfg.test_examples,
             "seen_examples": cfg.seen_examples}
    per_example = DATA_BYTES_BASE + DATA_BYTES_PER_LETTER * cfg.input_length
    blame = "input_length" if DATA_BYTES_PER_LETTER * cfg.input_length > DATA_BYTES_BASE \
        else max(sizes, key=sizes.get)
    return sum(sizes.values()) * per_example, blame


def check_data_memory(cfg) -> None:
    need, blame = data_memory(cfg)
    check_memory(need, blame, f"a data set of {cfg.train_examples + cfg.test_examples + cfg.seen_examples:,} "
                              f"examples of {cfg.input_length:,} letters")


def check_read_memory(file_bytes: int) -> None:
    check_memory(READ_BYTES_PER_FILE_BYTE * file_bytes, "data",
                 f"reading {human(file_bytes)} of examples")


def check_batch_memory(batch: int, tokens: int, width: int, layers: int, name: str) -> None:
    """``batch`` rows of up to ``tokens`` tokens through ``layers`` of ``width``."""
    need = batch * tokens * layers * width * TRAIN_BYTES_PER_TOKEN_LAYER_WIDTH
    check_memory(need, name, f"a batch of {batch:,} examples of {tokens} tokens")
