"""E7's data layer: Markov programs of m ordered rules, one step of the algorithm as target."""

import collections

import numpy as np
import pytest

from rewritelib import programs as P
from rewritelib.config import ConfigError
from rewritelib.markov import MarkovAlgorithm
from rewritelib.rules import rewrite

ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def build(m, n=200, budget=3000, noop=0.2, conflict=0.3, seed=0, length=10):
    rng = np.random.default_rng(seed)
    taken = set()
    train = P.draw_programs(rng, n, m, (3, 3), ALPHABET, taken)
    test = P.draw_programs(rng, 50, m, (3, 3), ALPHABET, taken)
    rows = P.examples(rng, train, P.uniform_counts(n, budget), noop, conflict, length, ALPHABET)
    return train, test, rows


@pytest.mark.parametrize("m", [1, 2, 3])
def test_every_target_is_one_step_of_the_markov_algorithm(m):
    _, _, rows = build(m)
    for r in rows:
        program = list(zip(r["patterns"], r["replacements"]))
        out, fired = MarkovAlgorithm(program).step(r["input"])
        assert r["output"] == out
        assert (r["fired"] == -1) == (fired is None) and r["is_noop"] == (fired is None)
        if fired is not None:
            assert program[r["fired"]] == (fired.pattern, fired.replacement)


def test_one_rule_is_the_papers_task():
    _, _, rows = build(1)
    for r in rows:
        assert r["output"] == rewrite(r["input"], r["patterns"][0], r["replacements"][0])
    assert P.prompt_text([("aa", "bac")], "caaba") == "aa>bac|caaba="


def test_positions_fire_equally_often_and_conflicts_are_real():
    m, budget = 3, 6000
    _, _, rows = build(m, n=300, budget=budget, noop=0.25, conflict=0.3)
    has_op = [r for r in rows if not r["is_noop"]]
    fired = collections.Counter(r["fired"] for r in has_op)
    assert set(fired) == {0, 1, 2}
    assert max(fired.values()) - min(fired.values()) < 0.1 * len(has_op) / m
    assert abs(sum(r["conflict"] for r in has_op) / len(has_op) - 0.3) < 0.03
    assert abs(len(has_op) / len(rows) - 0.75) < 0.03
    for r in has_op:
        program = list(zip(r["patterns"], r["replacements"]))
        present = [x in r["input"] for x, _ in program]
        assert not any(present[:r["fired"]])  # no earlier rule could fire
        assert sum(present[r["fired"] + 1:]) == int(r["conflict"])
        if r["conflict"]:  # the order decides: reversed, another rule fires
            assert P.step(program[::-1], r["input"])[0] != r["output"]


def test_test_programs_are_strictly_unseen():
    train, test, _ = build(3)
    seen = {s for program in train for rule in program for s in rule}
    unseen = {s for program in test for rule in program for s in rule}
    assert not seen & unseen
    assert len(seen) == 2 * 3 * len(train)  # every string of every rule distinct


def test_same_seed_same_examples():
    assert build(2, seed=5)[2] == build(2, seed=5)[2]
    assert build(2, seed=5)[2] != build(2, seed=6)[2]


def test_an_input_too_short_for_the_plan_is_one_line():
    program = [("abc", "xyz"), ("def", "uvw")]
    with pytest.raises(ConfigError, match="input_length") as e:
        P.make_input(np.random.default_rng(0), program, P.Plan(0, 1), 5, ALPHABET)
    assert len(str(e.value).splitlines()) == 1
