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

import bisect
import math

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


def _power(base: int, exp: int, cap: int) -> int:
    """base ** exp, or cap when it would reach cap (so k = 10^6 costs nothing)."""
    if base < 2:
        return base ** exp
    return cap if exp * math.log2(base) > cap.bit_length() + 1 else min(cap, base ** exp)


def _mobius(n: int) -> int:
    out, p = 1, 2
    while p * p <= n:
        if n % p == 0:
            n //= p
            if n % p == 0:
                return 0
            out = -out
        p += 1
    return -out if n > 1 else out


def _count(shape: str, a: int, k: int, length: int, cap: int) -> int:
    """Distinct patterns of one shape with this k and length, up to cap. Exact for repeated;
    an upper bound for the others (two units can give the same cut pattern)."""
    if shape == "repeated":
        return min(cap, a * _power(a - 1, -(-length // k) - 1, cap))
    if shape == "periodic" and k <= length:
        # primitive words (Moebius); at least half of all words are primitive
        if _power(a, k, 2 * cap) >= 2 * cap:
            return cap
        return sum(_mobius(d) * a ** (k // d) for d in range(1, k + 1) if k % d == 0)
    return _power(a, min(k, length), cap)  # mirrored; periodic cut from a longer unit


def family_capacity(family: str, ks, lengths: tuple[int, int], a: int, need: int) -> int:
    """At most how many distinct patterns ``family`` makes with k in ``ks`` and a length in
    ``lengths`` over ``a`` letters, counted up to ``need``.

    Past the length, k changes nothing: repeated and mirrored patterns with k >= length are
    the same, periodic ones with k > length are any word (a cut of a longer unit)."""
    shapes = SHAPES if family == "mixed" else (family,)
    ks = sorted(set(ks))
    total = 0
    for length in range(lengths[0], lengths[1] + 1):
        for shape in shapes:
            last = length + 1 if shape == "periodic" else length
            for k in sorted({min(k, last) for k in ks[:bisect.bisect_right(ks, last) + 1]}):
                total += _count(shape, a, k, length, need)
                if total >= need:
                    return total
    return total
