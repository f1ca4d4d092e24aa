"""Shared set-up for the speed scripts: a data set, encoded, and a partly trained model."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from rewritelib.config import DataConfig  # noqa: E402
from rewritelib.dataset import build_dataset  # noqa: E402
from rewritelib.encoding import CharTokenizer  # noqa: E402


def encoded_splits(alphabet="abcdefghij", **kw):
    """Char-level encodings of the train / seen / test splits of a DataConfig."""
    cfg = DataConfig(alphabet=alphabet, **kw)
    ds = build_dataset(cfg)
    tok = CharTokenizer(alphabet)
    enc = {name: tok.encode_examples(s.pattern, s.replacement, s.input, s.output)
           for name, s in ds.splits.items()}
    return tok, enc
