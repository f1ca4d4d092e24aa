"""A Markov-algorithm interpreter: ordered rewrite rules applied until none fires.

A Markov algorithm is an ordered list of rules ``x -> y``, some marked *terminal*. One
step scans the rules in order and applies the first whose pattern occurs in the string,
at its leftmost occurrence (exactly :func:`rewritelib.rules.rewrite`). The algorithm
halts after a terminal rule fires, or when no rule applies. The paper's task is a single
step of this; multi-rule instructions build on the interpreter.

    >>> algo = MarkovAlgorithm([("ab", "ba")])      # bubble the b's to the left
    >>> algo.run("aabb").output
    'bbaa'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .rules import rewrite


@dataclass(frozen=True)
class MarkovRule:
    pattern: str
    replacement: str
    terminal: bool = False


@dataclass
class MarkovResult:
    output: str
    steps: int
    halted: bool  # False when the step limit stopped a still-running algorithm
    trace: list[str] = field(default_factory=list)


class MarkovAlgorithm:
    def __init__(self, rules: Iterable, max_steps: int = 1000):
        self.rules = [r if isinstance(r, MarkovRule) else MarkovRule(*r) for r in rules]
        if not self.rules:
            raise ValueError("rules: a Markov algorithm needs at least one rule")
        if max_steps < 1:
            raise ValueError(f"max_steps: must be >= 1 (got {max_steps})")
        self.max_steps = max_steps

    def step(self, text: str) -> tuple[str, MarkovRule | None]:
        """Apply the first applicable rule once; ``(text, None)`` when none applies."""
        for rule in self.rules:
            if rule.pattern in text:
                return rewrite(text, rule.pattern, rule.replacement), rule
        return text, None

    def run(self, text: str, keep_trace: bool = False) -> MarkovResult:
        trace = [text] if keep_trace else []
        for steps in range(self.max_steps):
            text, fired = self.step(text)
            if fired is None:
                return MarkovResult(text, steps, True, trace)
            if keep_trace:
                trace.append(text)
            if fired.terminal:
                return MarkovResult(text, steps + 1, True, trace)
        # Out of steps: say so rather than pretend the output is final.
        return MarkovResult(text, self.max_steps, self.step(text)[1] is None, trace)
