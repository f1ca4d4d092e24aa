"""E7's data: instructions that are small Markov programs, m ordered rules each.

The paper's instruction is one rule ``x -> y``. Here an instruction is an ordered list of m
rules, and the target is **one step** of the Markov algorithm they form (markov.py): the
first rule, in order, whose pattern occurs in the input, applied at its leftmost occurrence;
the input copied when none occurs. With m = 1 this is the paper's task exactly.

    x1>y1;x2>y2|input=output        the prompt: the rules in order, ";" between them

Inputs are planted so that the model must read the program, not guess it:
- **which rule fires** (its position 0..m-1) is drawn uniformly, so every position fires
  equally often; the rules before it are absent from the input (redrawn until they are);
- a **conflict** input also holds the pattern of a rule after the one that fires: only the
  order of the rules decides which fires, so a model that ignores the order fails it;
- a **no-op** input holds no pattern of the program.

Every string of every rule of every program, training and test, is drawn distinct (as
instructions.py does for single rules): a test program shares no pattern and no replacement
with any training program, so test programs are strictly unseen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ConfigError
from .instructions import draw_distinct, random_strings
from .rules import rewrite

RULE_SEP = ";"  # between the rules of a program in a prompt; in no alphabet


def prompt_text(program: list[tuple[str, str]], text: str) -> str:
    """``x1>y1;x2>y2|text=``: one rule reads as the paper's prompt, ``x>y|text=``."""
    return RULE_SEP.join(f"{x}>{y}" for x, y in program) + f"|{text}="


def step(program: list[tuple[str, str]], text: str) -> tuple[str, int]:
    """(output, position of the rule that fired, -1 for none): one step of the Markov
    algorithm (the tests hold it to markov.MarkovAlgorithm.step on every example)."""
    for position, (x, y) in enumerate(program):
        if x in text:
            return rewrite(text, x, y), position
    return text, -1


def draw_programs(rng, n: int, m: int, pattern_length: tuple[int, int], alphabet: str,
                  taken: set) -> list[list[tuple[str, str]]]:
    """n programs of m rules; every pattern and replacement new to ``taken`` (and added)."""
    draw = lambda k: random_strings(rng, k, pattern_length, alphabet)  # noqa: E731
    patterns = draw_distinct(draw, n * m, taken, "patterns")
    replacements = draw_distinct(draw, n * m, taken, "replacements")
    rules = list(zip(patterns, replacements))
    return [rules[i * m:(i + 1) * m] for i in range(n)]


@dataclass(frozen=True)
class Plan:
    """What one input must hold: the rule that fires (-1: none) and a later rule's pattern
    beside it (a conflict), or None."""

    fire: int
    also: int | None


def plan(rng, m: int, noop: bool, conflict_share: float) -> Plan:
    """Positions uniform over the rules; a conflict with a later rule, where there is one,
    at a rate that makes ``conflict_share`` of all has-op inputs conflicts."""
    if noop:
        return Plan(-1, None)
    fire = int(rng.integers(m))
    if fire < m - 1 and rng.random() < conflict_share * m / (m - 1):
        return Plan(fire, int(rng.integers(fire + 1, m)))
    return Plan(fire, None)


def make_input(rng, program: list[tuple[str, str]], p: Plan, input_length: int, alphabet: str,
               max_tries: int = 1000) -> str:
    """Random letters with the planned patterns planted once each, in a random order at
    places that do not overlap; redrawn until every other pattern of the program is absent
    and the planted ones occur once, so the plan is what the input holds (searched, not
    assumed from the planting)."""
    wanted = [i for i in (p.fire, p.also) if i is not None and i >= 0]
    slack = input_length - sum(len(program[i][0]) for i in wanted)
    if slack < 0:
        raise ConfigError(f"input_length: {input_length} letters cannot hold {len(wanted)} patterns "
                          f"of {sum(len(program[i][0]) for i in wanted)} letters")
    for _ in range(max_tries):
        z = random_strings(rng, 1, (input_length, input_length), alphabet)[0]
        order = [wanted[i] for i in rng.permutation(len(wanted))]
        offsets = np.sort(rng.integers(0, slack + 1, size=len(order)))
        at = 0
        for i, offset in zip(order, offsets.tolist()):
            x = program[i][0]
            start = offset + at
            z = z[:start] + x + z[start + len(x):]
            at += len(x)
        if all((z.count(x) == 1) if i in wanted else (x not in z) for i, (x, _) in enumerate(program)):
            return z
    raise ConfigError(f"input_length: could not build an input holding exactly rules {wanted} of a "
                      f"{len(program)}-rule program in {input_length} letters over {len(alphabet)}; "
                      "use longer patterns or inputs, or a larger alphabet")


def examples(rng, programs: list[list[tuple[str, str]]], counts, noop_share: float, conflict_share: float,
             input_length: int, alphabet: str) -> list[dict]:
    """``counts[i]`` examples of program i: rows with the program, input, output (the oracle's
    step), the position that fired and whether the input is a conflict."""
    rows = []
    for i, (program, count) in enumerate(zip(programs, counts)):
        for _ in range(int(count)):
            p = plan(rng, len(program), rng.random() < noop_share, conflict_share)
            text = make_input(rng, program, p, input_length, alphabet)
            output, fired = step(program, text)
            rows.append({"program_id": i, "patterns": [x for x, _ in program],
                         "replacements": [y for _, y in program], "input": text, "output": output,
                         "fired": fired, "conflict": p.also is not None, "is_noop": fired == -1})
    return rows


def uniform_counts(n: int, budget: int) -> np.ndarray:
    """The budget spread over n programs as evenly as integers allow."""
    return np.full(n, budget // n) + (np.arange(n) < budget % n)
