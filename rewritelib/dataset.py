"""The data set: train / seen / test splits built from a DataConfig, and their files.

Three splits, each a list of examples (rule, input z, target):
- ``train``: the budget spread over the n_instructions training rules;
- ``seen``: fresh inputs for the training rules (accuracy on rules the model has seen);
- ``test``: examples of test rules that are strictly unseen (see ``instructions``).

Every target is ``rewrite(z, x, y)`` (at the leftmost occurrence found by searching z; the tests
check every example against ``rules.rewrite``), enciphered afterwards when ``encrypt`` is set (E6:
a seeded substitution of the alphabet, so a pretrained model cannot lean on what it knows).

On disk (``write_dataset``): ``train.jsonl``, ``seen.jsonl``, ``test.jsonl`` (one example
a line) and ``spec.json`` (every parameter, realized counts, package version). Nothing in
them depends on the clock: the same parameters and seed give byte-identical files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from . import __version__
from .budget import examples_per_rule, skew_summary
from .config import DataConfig
from .examples import SCHEMA
from .folders import check_out_dir, replacing
from .inputs import encipher, make_inputs, to_indices, to_strings
from .instructions import RuleSet, draw_train_and_unseen
from .resources import check_data_memory

FIELDS = tuple(SCHEMA)  # the one definition of the format, shared with the reader
SPLITS = ("train", "seen", "test")


@dataclass
class Split:
    """One split, kept as arrays; row i is one example.

    The inputs stay letter indices (what a character-level model eats); the strings are
    built on first use (for files, pandas or a look), which is most of the cost.
    """

    rule_id: np.ndarray  # (n,) ids: training rules 0..I-1, test rules I..I+T-1
    rule: np.ndarray  # (n,) index into ``rules``
    z: np.ndarray  # (n, input_length) uint8 letter indices of the inputs
    first: np.ndarray  # (n,) leftmost start of the pattern in z; input_length for a no-op
    occurrences: np.ndarray  # (n,) occurrences of the pattern in z, overlaps included
    rules: RuleSet
    alphabet: str
    cipher: str | None

    @property
    def is_noop(self) -> np.ndarray:
        return self.occurrences == 0

    def __len__(self) -> int:
        return len(self.rule_id)

    @cached_property
    def pattern(self) -> list[str]:
        return [self.rules.patterns[r] for r in self.rule.tolist()]

    @cached_property
    def replacement(self) -> list[str]:
        return [self.rules.replacements[r] for r in self.rule.tolist()]

    @cached_property
    def input(self) -> list[str]:
        return to_strings(self.z, self.alphabet)

    @cached_property
    def output(self) -> list[str]:
        """rules.rewrite, with the leftmost occurrence already found by searching z.
        The tests check every example against rewrite() itself."""
        n = self.z.shape[1]
        ends = (self.first + np.array([len(p) for p in self.rules.patterns])[self.rule]).tolist()
        out = [z[:i] + y + z[j:] if i < n else z
               for z, i, j, y in zip(self.input, self.first.tolist(), ends, self.replacement)]
        return out if self.cipher is None else encipher(out, self.alphabet, self.cipher)

    @cached_property
    def family(self) -> list[str | None]:
        return [self.rules.family[r] for r in self.rule.tolist()]

    @cached_property
    def k(self) -> list[int | None]:
        return [self.rules.k[r] for r in self.rule.tolist()]

    def rows(self):
        """Examples as dicts, in FIELDS order."""
        noop, occ = self.is_noop.tolist(), self.occurrences.tolist()
        for i, rid in enumerate(self.rule_id.tolist()):
            yield {"rule_id": rid, "pattern": self.pattern[i], "replacement": self.replacement[i],
                   "input": self.input[i], "output": self.output[i], "is_noop": noop[i],
                   "occurrences": occ[i], "family": self.family[i], "k": self.k[i]}


@dataclass
class Dataset:
    config: DataConfig
    train_rules: RuleSet
    test_rules: RuleSet
    train_counts: np.ndarray  # realized examples per training rule
    cipher: str | None  # cipher[i] enciphers alphabet[i]
    splits: dict[str, Split]

    def spec(self) -> dict:
        tr = self.splits["train"]
        return {
            "version": __version__,
            "params": self.config.to_dict(),
            "cipher": self.cipher,
            "sizes": {name: len(s) for name, s in self.splits.items()},
            # null, not NaN, for an empty split (seen_examples=0): spec.json is strict JSON
            "noop_share": {name: float(s.is_noop.mean()) if len(s) else None
                           for name, s in self.splits.items()},
            "occurrences": {str(c): int(n) for c, n in zip(*np.unique(tr.occurrences, return_counts=True))},
            "train_counts_summary": skew_summary(self.train_counts),
            "train_counts": self.train_counts.tolist(),
        }


def _split(rng, rules: RuleSet, first_id: int, counts: np.ndarray, n_noop: int,
           occurrences: tuple[int, ...], cfg: DataConfig, cipher: str | None) -> Split:
    n = int(counts.sum())
    rule = rng.permutation(np.repeat(np.arange(len(rules)), counts))
    noop = np.zeros(n, dtype=bool)
    noop[rng.permutation(n)[:n_noop]] = True
    occ = np.where(noop, 0, rng.choice(np.array(occurrences), size=n))

    # Inputs are built in groups that share a pattern length and an occurrence count.
    plen = np.array([len(p) for p in rules.patterns])
    pmat = to_indices(rules.patterns, cfg.alphabet, int(plen.max()))
    z = np.empty((n, cfg.input_length), dtype=np.uint8)
    first = np.empty(n, dtype=np.int64)
    for length in np.unique(plen):
        for c in np.unique(occ):
            idx = np.nonzero((plen[rule] == length) & (occ == c))[0]
            if len(idx):
                z[idx], first[idx] = make_inputs(rng, pmat[rule[idx], :length], int(c),
                                                 cfg.input_length, len(cfg.alphabet))
    return Split(rule + first_id, rule, z, first, occ, rules, cfg.alphabet, cipher)


def _share(fraction: float, counts: np.ndarray) -> int:
    return round(fraction * int(counts.sum()))


def data_streams(seed: int) -> tuple[np.random.Generator, ...]:
    """The independent random streams of a data set: rules, train, seen, test, cipher."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))


def rules_of(cfg: DataConfig) -> tuple[RuleSet, RuleSet]:
    """The training and test rules of ``build_dataset(cfg)``, without building it: they are
    the rule stream's draw, so old runs' per-rule scores can be read by family and k."""
    return draw_train_and_unseen(data_streams(cfg.seed)[0], cfg)


def train_counts(cfg: DataConfig) -> np.ndarray:
    """The training examples per rule of ``build_dataset(cfg)``, without building it: the
    counts are the train stream's first draw (analysis of old runs uses this)."""
    return examples_per_rule(data_streams(cfg.seed)[1], cfg.n_instructions, cfg.train_examples, cfg.skew)


def build_dataset(cfg: DataConfig) -> Dataset:
    """Everything random comes from ``cfg.seed`` through independent streams, so changing
    e.g. the test size leaves the training data as it was."""
    check_data_memory(cfg)  # one line now rather than a MemoryError minutes later
    if cfg.programs:  # E7: instructions of several rules
        from .programs import build_program_dataset

        return build_program_dataset(cfg)
    rng_rules, rng_train, rng_seen, rng_test, rng_cipher = data_streams(cfg.seed)
    train_rules, test_rules = draw_train_and_unseen(rng_rules, cfg)
    cipher = None
    if cfg.encrypt:
        cipher = "".join(np.array(list(cfg.alphabet))[rng_cipher.permutation(len(cfg.alphabet))])
    counts = examples_per_rule(rng_train, cfg.n_instructions, cfg.train_examples, cfg.skew)
    seen_counts = examples_per_rule(rng_seen, cfg.n_instructions, cfg.seen_examples, None)
    test_counts = examples_per_rule(rng_test, cfg.test_instructions, cfg.test_examples, None)
    ntr = cfg.n_instructions
    splits = {
        "train": _split(rng_train, train_rules, 0, counts, cfg.train_noops, cfg.occurrences, cfg, cipher),
        "seen": _split(rng_seen, train_rules, 0, seen_counts, _share(cfg.noop_fraction, seen_counts),
                       cfg.occurrences, cfg, cipher),
        "test": _split(rng_test, test_rules, ntr, test_counts, _share(cfg.test_noop_fraction, test_counts),
                       cfg.test_occurrences, cfg, cipher),
    }
    return Dataset(cfg, train_rules, test_rules, counts, cipher, splits)


def _write_jsonl(path: Path, split: Split) -> None:
    # A format string instead of json.dumps: 4x faster, and safe because every string
    # here is alphanumeric (DataConfig checks the alphabet). The tests parse it back.
    line = ('{{"rule_id": {}, "pattern": "{}", "replacement": "{}", "input": "{}", '
            '"output": "{}", "is_noop": {}, "occurrences": {}, "family": {}, "k": {}}}\n').format
    noop = ["true" if b else "false" for b in split.is_noop.tolist()]
    as_json = {v: json.dumps(v) for v in set(split.family) | set(split.k)}
    family = [as_json[v] for v in split.family]
    k = [as_json[v] for v in split.k]
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.writelines(map(line, split.rule_id.tolist(), split.pattern, split.replacement,
                         split.input, split.output, noop, split.occurrences.tolist(), family, k))


def spec_json(spec: dict) -> str:
    """Indented for reading, except the per-rule counts: one line, however many rules."""
    counts = spec.pop("train_counts")
    text = json.dumps(spec, indent=1, allow_nan=False)
    return text[:-2] + ',\n "train_counts": ' + json.dumps(counts) + "\n}\n"


def write_dataset(ds: Dataset, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the splits and spec.json to ``out`` atomically: into a temporary sibling
    folder first, swapped into place only once every file is complete (see folders.py)."""
    out = Path(out)
    check_out_dir(out, overwrite, "data")
    with replacing(out) as tmp:
        for name in SPLITS:
            _write_jsonl(tmp / f"{name}.jsonl", ds.splits[name])
        (tmp / "spec.json").write_text(spec_json(ds.spec()))
    return out


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="ascii") as f:
        return [json.loads(line) for line in f]
