"""Semantic families of patterns (experiment E4).

The paper restricts patterns to three shapes with a parameter k, trains on some k and
tests on others. How we read k (the paper only shows one example of each):

- ``repeated``: every letter is repeated k times, adjacent runs use different letters:
  k=3 gives ``aaabbbccc...``;
- ``periodic``: a unit of k letters repeats; the unit is primitive, so the pattern's
  smallest period is exactly k: k=3 gives ``abcabc...``;
- ``mirrored``: a unit w of k letters is followed by its mirror image, over and over:
  k=3 gives ``abc cba abc cba...`` = ``abccbaabc...``.

Every shape is cut to the pattern length. ``mixed`` draws one of the three per rule.
Strings are lists of letter indices in ``range(alphabet_size)``.
"""

from __future__ import annotations

import numpy as np

SHAPES = ("repeated", "periodic", "mirrored")


def _repeated(rng, k: int, length: int, a: int) -> list[int]:
    runs = -(-length // k)
    letters = [int(rng.integers(a))]
    for _ in range(runs - 1):  # a different letter each run, so no run grows past k
        letters.append((letters[-1] + 1 + int(rng.integers(a - 1))) % a)
    return [c for c in letters for _ in range(k)][:length]


def _is_primitive(unit: list[int]) -> bool:
    k = len(unit)
    return all(unit != unit[p:] + unit[:p] for p in range(1, k) if k % p == 0)


def _periodic(rng, k: int, length: int, a: int) -> list[int]:
    for _ in range(1000):
        unit = rng.integers(a, size=k).tolist()
        if _is_primitive(unit):
            return (unit * (-(-length // k)))[:length]
    raise RuntimeError(f"could not draw a primitive unit of length {k} over {a} letters")


def _mirrored(rng, k: int, length: int, a: int) -> list[int]:
    unit = rng.integers(a, size=k).tolist()
    block = unit + unit[::-1]
    return (block * (-(-length // (2 * k))))[:length]


_MAKERS = {"repeated": _repeated, "periodic": _periodic, "mirrored": _mirrored}


def family_pattern(rng: np.random.Generator, family: str, k: int, length: int, a: int):
    """One pattern of the family (``mixed`` picks a shape); returns (shape, letters)."""
    shape = SHAPES[int(rng.integers(3))] if family == "mixed" else family
    return shape, _MAKERS[shape](rng, k, length, a)
