"""The task: string-rewrite rules, the building block of Markov algorithms.

An *instruction* is a rule ``x -> y``. Applied to an input ``z`` it replaces the
**leftmost** occurrence of the *pattern* ``x`` by the *replacement* ``y``, once.
When ``x`` does not occur in ``z`` the rule is a *no-op* and ``z`` comes back unchanged.

    >>> rewrite("caaba", "aa", "bac")
    'cbacba'
    >>> rewrite("mississippi", "iss", "art")
    'martissippi'
    >>> rewrite("canada", "iss", "art")
    'canada'

This module is pure Python on purpose: every generated target is computed here, and the
tests check the fast numpy paths of the data generator against it.
"""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    pattern: str
    replacement: str

    def __str__(self) -> str:
        return f"{self.pattern} -> {self.replacement}"


def rewrite(text: str, pattern: str, replacement: str) -> str:
    """Replace the leftmost occurrence of ``pattern`` in ``text`` once; no-op if absent.

    An empty pattern occurs at position 0 (as in Markov algorithms), so the replacement
    is prepended.
    """
    i = text.find(pattern)
    if i < 0:
        return text
    return text[:i] + replacement + text[i + len(pattern):]


def count_occurrences(text: str, pattern: str) -> int:
    """Number of start positions of ``pattern`` in ``text``, overlaps included.

    This is what the data set's ``occurrences`` field means: ``aa`` occurs 3 times in
    ``aaaa``. (``str.count`` would say 2: it skips overlaps.)
    """
    if not pattern:
        raise ValueError("pattern: must be non-empty to count occurrences")
    n, i = 0, text.find(pattern)
    while i >= 0:
        n += 1
        i = text.find(pattern, i + 1)
    return n
