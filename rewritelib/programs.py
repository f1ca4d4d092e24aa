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

from . import encoding
from .config import ConfigError
from .encoding import RULE_SEP
from .instructions import draw_distinct, random_strings
from .rules import count_occurrences, rewrite

def prompt_text(program: list[tuple[str, str]], text: str) -> str:
    """``x1>y1;x2>y2|text=``: one rule reads as the paper's prompt, ``x>y|text=``."""
    return encoding.prompt_text(*joined(program), text)


def joined(program: list[tuple[str, str]]) -> tuple[str, str]:
    """A program as one example's (pattern, replacement) fields: ``x1;x2``, ``y1;y2``, the
    form the data files hold (a single rule is the paper's example, unchanged)."""
    return RULE_SEP.join(x for x, _ in program), RULE_SEP.join(y for _, y in program)


def split_program(pattern: str, replacement: str) -> list[tuple[str, str]]:
    return list(zip(pattern.split(RULE_SEP), replacement.split(RULE_SEP)))


def step(program: list[tuple[str, str]], text: str) -> tuple[str, int]:
    """(output, position of the rule that fired, -1 for none): one step of the Markov
    algorithm (the tests hold it to markov.MarkovAlgorithm.step on every example)."""
    for position, (x, y) in enumerate(program):
        if x in text:
            return rewrite(text, x, y), position
    return text, -1


def draw_programs(rng, n, m, pattern_length: tuple[int, int], alphabet: str,
                  taken: set) -> list[list[tuple[str, str]]]:
    """n programs of m rules each (m: an int, or one length per program); every pattern and
    replacement new to ``taken`` (and added to it)."""
    sizes = np.full(n, m) if np.isscalar(m) else np.asarray(m)
    draw = lambda k: random_strings(rng, k, pattern_length, alphabet)  # noqa: E731
    patterns = draw_distinct(draw, int(sizes.sum()), taken, "patterns")
    replacements = draw_distinct(draw, int(sizes.sum()), taken, "replacements")
    ends = np.cumsum(sizes).tolist()
    return [list(zip(patterns[a:b], replacements[a:b])) for a, b in zip([0] + ends[:-1], ends)]


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
        if all((count_occurrences(z, x) == 1) if i in wanted else (x not in z)  # overlaps count
               for i, (x, _) in enumerate(program)):
            return z
    raise ConfigError(f"input_length: could not build an input holding exactly rules {wanted} of a "
                      f"{len(program)}-rule program in {input_length} letters over {len(alphabet)}; "
                      "use longer patterns or inputs, or a larger alphabet")


def program_groups(cols: dict) -> dict[str, dict]:
    """Masks over a split's examples (columns pattern, replacement, input) for E7's
    breakdowns: ``by_fired`` (the position of the rule that fires, -1 none), ``by_conflict``
    (has-op inputs that also hold a later rule's pattern, where only the order decides, and
    those that do not) and ``by_program_length`` (m)."""
    fired, conflict, m = [], [], []
    for x, y, z in zip(cols["pattern"], cols["replacement"], cols["input"]):
        program = split_program(x, y)
        f = step(program, z)[1]
        fired.append(f)
        conflict.append(f >= 0 and any(p in z for p, _ in program[f + 1:]))
        m.append(len(program))
    fired, conflict, m = np.array(fired), np.array(conflict), np.array(m)
    return {"by_fired": {k: fired == k for k in np.unique(fired).tolist()},
            "by_conflict": {"conflict": conflict, "no conflict": (fired >= 0) & ~conflict},
            "by_program_length": {k: m == k for k in np.unique(m).tolist()}}


@dataclass
class ProgramSplit:
    """One split of E7 data, with what dataset.write_dataset writes (the fields of a single
    rule's example: pattern and replacement hold the program, ``x1;x2`` and ``y1;y2``)."""

    rule_id: np.ndarray  # program ids: training 0..I-1, test I..I+T-1
    pattern: list[str]
    replacement: list[str]
    input: list[str]
    output: list[str]
    is_noop: np.ndarray
    occurrences: np.ndarray  # of the pattern of the rule that fires (0: none fires)
    fired: np.ndarray  # its position in the program, -1 for none
    conflict: np.ndarray

    def __len__(self) -> int:
        return len(self.rule_id)

    @property
    def family(self) -> list[None]:
        return [None] * len(self)

    k = family


def program_split(rng, programs, first_id: int, counts, n_noop: int, conflict_share: float,
                  cfg) -> ProgramSplit:
    """``counts[i]`` examples of program i in a shuffled order, exactly ``n_noop`` of them
    no-ops (as dataset._split does for single rules)."""
    ids = rng.permutation(np.repeat(np.arange(len(programs)), counts))
    noop = np.zeros(len(ids), dtype=bool)
    noop[rng.permutation(len(ids))[:n_noop]] = True
    rows = {k: [] for k in ("pattern", "replacement", "input", "output", "fired", "conflict")}
    for i, is_noop in zip(ids.tolist(), noop.tolist()):
        program = programs[i]
        p = plan(rng, len(program), is_noop, conflict_share)
        text = make_input(rng, program, p, cfg.input_length, cfg.alphabet)
        output, fired = step(program, text)
        for key, value in zip(rows, (*joined(program), text, output, fired, p.also is not None)):
            rows[key].append(value)
    fired = np.array(rows["fired"], dtype=np.int64)
    return ProgramSplit(ids + first_id, rows["pattern"], rows["replacement"], rows["input"],
                        rows["output"], fired < 0, (fired >= 0).astype(np.int64), fired,
                        np.array(rows["conflict"], dtype=bool))


def build_program_dataset(cfg):
    """dataset.build_dataset for programs (cfg.programs): the same random streams, counts
    and budget, with programs in place of rules."""
    from .budget import examples_per_rule
    from .dataset import Dataset, _share, data_streams
    from .instructions import RuleSet

    rng_rules, rng_train, rng_seen, rng_test, _ = data_streams(cfg.seed)
    taken: set = set()
    lengths = [rng_rules.choice(cfg.program_length, size=cfg.n_instructions),
               rng_rules.choice(cfg.test_program_length, size=cfg.test_instructions)]
    train, test = (draw_programs(rng_rules, len(m), m, cfg.pattern_length, cfg.alphabet, taken)
                   for m in lengths)
    counts = examples_per_rule(rng_train, cfg.n_instructions, cfg.train_examples, cfg.skew)
    seen_counts = examples_per_rule(rng_seen, cfg.n_instructions, cfg.seen_examples, None)
    test_counts = examples_per_rule(rng_test, cfg.test_instructions, cfg.test_examples, None)
    q = cfg.conflict_fraction
    splits = {"train": program_split(rng_train, train, 0, counts, cfg.train_noops, q, cfg),
              "seen": program_split(rng_seen, train, 0, seen_counts, _share(cfg.noop_fraction, seen_counts), q, cfg),
              "test": program_split(rng_test, test, cfg.n_instructions, test_counts,
                                    _share(cfg.test_noop_fraction, test_counts), q, cfg)}
    as_rules = lambda ps: RuleSet(*map(list, zip(*map(joined, ps))), [None] * len(ps), [None] * len(ps))  # noqa: E731
    return Dataset(cfg, as_rules(train), as_rules(test), counts, None, splits)
