"""Shared set-up for the speed scripts: a data set, encoded, and a partly trained model."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from rewritelib.config import DataConfig  # noqa: E402
from rewritelib.dataset import build_dataset  # noqa: E402
from rewritelib.encoding import CharTokenizer  # noqa: E402


def threads_before_torch(default: str) -> str:
    """Read --threads N (or --threads=N) from the command line and fix torch's thread count
    through the environment: it must be set before torch is imported."""
    threads = default
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            threads = sys.argv[i + 1]
        elif a.startswith("--threads="):
            threads = a.split("=", 1)[1]
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    return threads


def encoded_splits(alphabet="abcdefghij", **kw):
    """Char-level encodings of the train / seen / test splits of a DataConfig."""
    cfg = DataConfig(alphabet=alphabet, **kw)
    ds = build_dataset(cfg)
    tok = CharTokenizer(alphabet)
    enc = {name: tok.encode_examples(s.pattern, s.replacement, s.input, s.output)
           for name, s in ds.splits.items()}
    return tok, enc
