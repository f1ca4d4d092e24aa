"""From examples to token ids: one prompt format for every model.

A model reads the rule and the input and must write the output, then EOS:

    pattern > replacement | input = output <eos>

e.g. ``aa>bac|caaba=cbacba<eos>``. The loss and the exact-match metric cover only the
output and EOS (the positions after ``=``).

Two ways to turn that text into tokens:

- ``CharTokenizer`` (models trained from scratch): one token per letter and separator,
  a vocabulary of the alphabet plus ``<pad> <eos> > | =``. Saved with every run.
- ``HFEncoder`` (pretrained models): the model's own BPE tokenizer, with letters either
  ``spaced`` (``" a b c > d"``: every letter is one token, the same token wherever it
  stands) or ``plain`` (``"abc>d"``: BPE merges letters into chunks that shift with the
  context). ``spaced`` is the default; README "Presenting letters to a BPE tokenizer"
  gives the measurement behind that choice.

Encoded examples are a padded int array plus, per row, where the target starts and where
the sequence ends, so a batch is sliced without re-tokenizing anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEPARATORS = (">", "|", "=")
RULE_SEP = ";"  # between the rules of an E7 program, in a prompt and in a data file's fields
PAD, EOS = "<pad>", "<eos>"
_PAD_CHAR, _EOS_CHAR = "\x00", "\x01"  # stand-ins inside the lookup tables


def prompt_text(pattern: str, replacement: str, text: str) -> str:
    """``x>y|z=``; an E7 program (fields ``x1;x2``, ``y1;y2``) lists its rules in order:
    ``x1>y1;x2>y2|z=``."""
    if RULE_SEP in pattern:
        rules = zip(pattern.split(RULE_SEP), replacement.split(RULE_SEP))
        return RULE_SEP.join(f"{x}>{y}" for x, y in rules) + f"|{text}="
    return f"{pattern}>{replacement}|{text}="


@dataclass
class Encoded:
    """ids: (n, width) padded; target_start: first output position; length: incl. EOS."""

    ids: np.ndarray
    target_start: np.ndarray
    length: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, idx) -> "Encoded":
        """The rows ``idx`` (an index array or a slice) as an Encoded of their own."""
        return Encoded(self.ids[idx], self.target_start[idx], self.length[idx])

    @property
    def n_target_tokens(self) -> int:
        return int((self.length - self.target_start).sum())


def _lookup_encode(table: np.ndarray, prompts: list[str], targets: list[str],
                   prompt_lens: np.ndarray, target_lens: np.ndarray) -> Encoded:
    """Map every character through ``table`` at once (one token per character)."""
    length = prompt_lens + target_lens + 1
    width = int(length.max()) if len(length) else 0
    blob = "".join((p + t + _EOS_CHAR).ljust(width, _PAD_CHAR) for p, t in zip(prompts, targets))
    ids = table[np.frombuffer(blob.encode("latin-1"), dtype=np.uint8)].reshape(len(prompts), width)
    return Encoded(ids, prompt_lens, length)


class CharTokenizer:
    """One token per letter or separator; ids 0 and 1 are <pad> and <eos>."""

    def __init__(self, alphabet: str, programs: bool = False):
        # programs (E7) add ";" last: every other token keeps the id it has without them
        self.alphabet, self.programs = alphabet, programs
        extra = [RULE_SEP] if programs else []
        self.vocab = [PAD, EOS, *SEPARATORS, *alphabet, *extra]
        self.pad_id, self.eos_id = 0, 1
        self.table = np.zeros(256, dtype=np.int64)
        for i, ch in enumerate([_PAD_CHAR, _EOS_CHAR, *SEPARATORS, *alphabet, *extra]):
            self.table[ord(ch)] = i

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode_examples(self, patterns, replacements, inputs, outputs) -> Encoded:
        prompts = [prompt_text(x, y, z) for x, y, z in zip(patterns, replacements, inputs)]
        plen = np.fromiter(map(len, prompts), dtype=np.int64, count=len(prompts))
        tlen = np.fromiter(map(len, outputs), dtype=np.int64, count=len(outputs))
        return _lookup_encode(self.table, prompts, list(outputs), plen, tlen)

    def decode(self, ids) -> str:
        return "".join(self.vocab[i] for i in ids if i != self.pad_id)

    def save(self, path: str | Path) -> None:
        saved = {"type": "char", "alphabet": self.alphabet, "vocab": self.vocab}
        if self.programs:  # absent otherwise: a tokenizer.json as it always was
            saved["programs"] = True
        Path(path).write_text(json.dumps(saved, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "CharTokenizer":
        saved = json.loads(Path(path).read_text())
        return cls(saved["alphabet"], saved.get("programs", False))


class HFEncoder:
    """The prompt format through a Hugging Face tokenizer (``spaced`` or ``plain`` letters)."""

    def __init__(self, tokenizer, alphabet: str, presentation: str = "spaced"):
        if presentation not in ("spaced", "plain"):
            raise ValueError(f"presentation: must be spaced or plain (got {presentation!r})")
        self.tokenizer, self.alphabet, self.presentation = tokenizer, alphabet, presentation
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        if presentation == "spaced":
            self.table = self._spaced_table()

    def _spaced_table(self) -> np.ndarray:
        """Each " c" must be a single token, so a letter's token never depends on context."""
        table = np.zeros(256, dtype=np.int64)
        table[ord(_PAD_CHAR)], table[ord(_EOS_CHAR)] = self.pad_id, self.eos_id
        for ch in [*SEPARATORS, RULE_SEP, *self.alphabet]:
            ids = self.tokenizer(" " + ch, add_special_tokens=False)["input_ids"]
            if len(ids) != 1:
                raise ValueError(f"presentation: ' {ch}' is {len(ids)} tokens for this tokenizer; "
                                 "use --presentation plain")
            table[ord(ch)] = ids[0]
        return table

    def encode_examples(self, patterns, replacements, inputs, outputs) -> Encoded:
        prompts = [prompt_text(x, y, z) for x, y, z in zip(patterns, replacements, inputs)]
        if self.presentation == "spaced":  # " a b > c" is one token per character
            plen = np.fromiter(map(len, prompts), dtype=np.int64, count=len(prompts))
            tlen = np.fromiter(map(len, outputs), dtype=np.int64, count=len(outputs))
            return _lookup_encode(self.table, prompts, list(outputs), plen, tlen)
        tok = self.tokenizer
        p_ids = tok(prompts, add_special_tokens=False)["input_ids"]
        t_ids = tok(list(outputs), add_special_tokens=False)["input_ids"]
        seqs = [p + t + [self.eos_id] for p, t in zip(p_ids, t_ids)]
        length = np.array([len(s) for s in seqs], dtype=np.int64)
        ids = np.full((len(seqs), int(length.max())), self.pad_id, dtype=np.int64)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = s
        return Encoded(ids, np.array([len(p) for p in p_ids], dtype=np.int64), length)

    def decode(self, ids) -> str:
        text = self.tokenizer.decode([i for i in ids if i != self.pad_id])
        return text.replace(" ", "") if self.presentation == "spaced" else text
