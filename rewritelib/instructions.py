"""Drawing instructions (rewrite rules) and the strictly unseen test split.

All patterns and replacements of all rules, training and test together, are drawn
distinct from one another. So a test rule's pattern and its replacement each differ from
every pattern and every replacement of the training rules: the paper's "strictly unseen".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ConfigError
from .families import family_pattern


@dataclass
class RuleSet:
    """Rules as parallel lists; ``family``/``k`` are None for unrestricted patterns."""

    patterns: list[str]
    replacements: list[str]
    family: list[str | None]
    k: list[int | None]

    def __len__(self) -> int:
        return len(self.patterns)


def random_strings(rng, n: int, lengths: tuple[int, int], alphabet: str) -> list[str]:
    """n random strings (not yet distinct) with lengths uniform in the range."""
    lo, hi = lengths
    size = rng.integers(lo, hi + 1, size=n)
    if hi == 0:
        return [""] * n
    table = np.frombuffer(alphabet.encode(), dtype=np.uint8)
    flat = table[rng.integers(len(alphabet), size=(n, hi))].tobytes().decode()
    return [flat[i * hi: i * hi + m] for i, m in enumerate(size.tolist())]


def draw_distinct(draw, n: int, taken: set, what: str, max_rounds: int = 200) -> list[str]:
    """Call ``draw(m)`` until n strings unseen in ``taken`` are collected (adds them to it).

    Each round asks for as many as are missing, so near a full space (E7's 3-rule programs
    fill 99% of the 3-letter strings) the hits dwindle geometrically; rounds past
    ``max_rounds`` then ask for 4,096 at a time. Every draw that ends within ``max_rounds``
    (all the committed records) keeps its random stream."""
    out: list[str] = []
    for round_ in range(2 * max_rounds):
        for s in draw(max(n - len(out), 16) if round_ < max_rounds else 4096):
            if s not in taken:
                taken.add(s)
                out.append(s)
                if len(out) == n:
                    return out
    raise ConfigError(f"n_instructions: could not draw {n} distinct {what} (got {len(out)}); "
                      "the alphabet, lengths or family leave too few strings")


def draw_rules(rng, n: int, cfg, taken: set, family_k: tuple[int, int]) -> RuleSet:
    """n rules whose patterns and replacements are all new to ``taken``."""
    a = len(cfg.alphabet)
    if cfg.family == "none":
        patterns = draw_distinct(lambda m: random_strings(rng, m, cfg.pattern_length, cfg.alphabet),
                                 n, taken, "patterns")
        families, ks = [None] * n, [None] * n
    else:
        meta: dict[str, tuple[str, int]] = {}

        def draw_family(m):
            out = []
            for _ in range(m):
                k = int(rng.integers(family_k[0], family_k[1] + 1))
                length = int(rng.integers(cfg.pattern_length[0], cfg.pattern_length[1] + 1))
                shape, letters = family_pattern(rng, cfg.family, k, length, a)
                s = "".join(cfg.alphabet[c] for c in letters)
                meta.setdefault(s, (shape, k))
                out.append(s)
            return out

        patterns = draw_distinct(draw_family, n, taken, f"{cfg.family} patterns")
        families = [meta[p][0] for p in patterns]
        ks = [meta[p][1] for p in patterns]
    replacements = draw_distinct(
        lambda m: random_strings(rng, m, cfg.replacement_length, cfg.alphabet), n, taken, "replacements")
    return RuleSet(patterns, replacements, families, ks)


def draw_train_and_unseen(rng, cfg) -> tuple[RuleSet, RuleSet]:
    """Training rules, then test rules drawn against everything the training rules use."""
    taken: set[str] = set()
    train = draw_rules(rng, cfg.n_instructions, cfg, taken, cfg.family_k)
    test = draw_rules(rng, cfg.test_instructions, cfg, taken, cfg.test_family_k)
    return train, test
