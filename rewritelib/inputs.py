"""Building inputs z for rules x -> y, fast: numpy over all examples at once.

A random 20-letter pattern essentially never occurs in a random 50-letter input, so
has-op inputs *plant* the pattern c times at random non-overlapping places in random
filler. Filler can still create extra occurrences by chance (short patterns, small
alphabets, or a planted copy overlapping a lucky neighbour), and a no-op input can
contain the pattern by chance. So every input is searched afterwards, and a row whose
true occurrence count is not exactly c (0 for no-ops) is redrawn.

Strings here are rows of letter indices (uint8). ``find_all`` searches all rows at once:
it keeps windows whose first two letters match and only then compares the full window.
"""

from __future__ import annotations

import numpy as np

from .config import ConfigError


def find_all(z: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, start) of every occurrence of ``p[row]`` in ``z[row]``, overlaps included.

    z: (m, n) inputs; p: (m, L) patterns, one per row. Sorted by row, then start.
    """
    n, length = z.shape[1], p.shape[1]
    w = n - length + 1
    cand = z[:, :w] == p[:, :1]
    if length > 1:
        cand &= z[:, 1:w + 1] == p[:, 1:2]
    rows, starts = np.nonzero(cand)
    if length > 2 and len(rows):
        # Flat indices: 1-D gathers are several times faster than 2-D fancy indexing.
        window = z.ravel()[(rows * n + starts)[:, None] + np.arange(2, length)]
        ok = (window == p[rows, 2:]).all(axis=1)
        rows, starts = rows[ok], starts[ok]
    return rows, starts


def _plant(rng, z: np.ndarray, p: np.ndarray, c: int) -> None:
    """Write c non-overlapping copies of p[row] into z[row], in place."""
    if c == 0:
        return
    m, n = z.shape
    length = p.shape[1]
    # A letter of filler between copies where they fit: two adjacent copies of a pattern
    # that overlaps itself ("aa", "abab") would make extra occurrences, so that rows of many
    # copies could never be drawn. (One copy, as in E1-E3, is placed exactly as before.)
    gap = 1 if c * (length + 1) - 1 <= n else 0
    # c sorted offsets in [0, slack] plus k*(L + gap) for the k-th copy: copies never overlap.
    offsets = np.sort(rng.integers(0, n - c * length - (c - 1) * gap + 1, size=(m, c)), axis=1)
    starts = offsets + np.arange(c) * (length + gap) + (np.arange(m) * n)[:, None]
    z.ravel()[(starts[:, :, None] + np.arange(length)).ravel()] = np.repeat(p, c, axis=0).ravel()


def _draw(rng, p: np.ndarray, c: int, input_length: int, alphabet_size: int):
    """Filler with c planted copies per row; returns (z, leftmost start, count is exactly c)."""
    m = len(p)
    z = rng.integers(0, alphabet_size, size=(m, input_length), dtype=np.uint8)
    _plant(rng, z, p, c)
    rows, starts = find_all(z, p)
    first = np.full(m, input_length, dtype=np.int64)
    leftmost = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, bool)
    first[rows[leftmost]] = starts[leftmost]  # rows come sorted, starts ascending
    return z, first, np.bincount(rows, minlength=m) == c


def make_inputs(rng: np.random.Generator, p: np.ndarray, c: int, input_length: int,
                alphabet_size: int, max_rounds: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Inputs where pattern ``p[row]`` occurs exactly c times (c = 0: a no-op input).

    Returns the inputs and the leftmost start of the pattern in each (input_length for
    no-ops), found by searching the finished input, not assumed from the planting.
    """
    z, first, good = _draw(rng, p, c, input_length, alphabet_size)
    todo = np.nonzero(~good)[0]
    for _ in range(max_rounds):
        if len(todo) == 0:
            return z, first
        z[todo], first[todo], good = _draw(rng, p[todo], c, input_length, alphabet_size)
        todo = todo[~good]
    raise ConfigError(
        f"occurrences: could not build inputs with exactly {c} occurrence(s) of "
        f"{p.shape[1]}-letter patterns in {input_length} letters over {alphabet_size} letters; "
        "use longer patterns, a larger alphabet or longer inputs")


def to_strings(z: np.ndarray, alphabet: str) -> list[str]:
    """Rows of letter indices -> Python strings."""
    table = np.frombuffer(alphabet.encode(), dtype=np.uint8)
    n = z.shape[1]
    flat = table[z].tobytes().decode()
    return [flat[i:i + n] for i in range(0, len(flat), n)]


def encipher(strings: list[str], alphabet: str, cipher: str) -> list[str]:
    """Substitute cipher[i] for alphabet[i] in every string (one numpy lookup for all)."""
    table = np.arange(256, dtype=np.uint8)
    table[np.frombuffer(alphabet.encode(), dtype=np.uint8)] = np.frombuffer(cipher.encode(), dtype=np.uint8)
    joined = np.frombuffer("\n".join(strings).encode(), dtype=np.uint8)
    return table[joined].tobytes().decode().split("\n") if strings else []


def to_indices(strings: list[str], alphabet: str, width: int) -> np.ndarray:
    """Strings (each at most ``width`` long) -> (m, width) letter indices, 0-padded."""
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[np.frombuffer(alphabet.encode(), dtype=np.uint8)] = np.arange(len(alphabet))
    padded = "".join(s.ljust(width, alphabet[0]) for s in strings).encode()
    return lookup[np.frombuffer(padded, dtype=np.uint8)].reshape(len(strings), max(width, 0))
