"""E7's data layer: Markov programs of m ordered rules, one step of the algorithm as target."""

import collections
from types import SimpleNamespace

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
    counts = np.full(n, budget // n)
    split = P.program_split(rng, train, 0, counts, round(noop * counts.sum()), conflict,
                            SimpleNamespace(input_length=length, alphabet=ALPHABET))
    rows = [{"patterns": x.split(";"), "replacements": y.split(";"), "input": z, "output": out,
             "fired": int(f), "conflict": bool(c), "is_noop": bool(none)}
            for x, y, z, out, f, c, none in zip(split.pattern, split.replacement, split.input, split.output,
                                                split.fired, split.conflict, split.is_noop)]
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


def test_programs_can_fill_every_string_the_shape_holds():
    # E7-m3's last point: 2,829 programs of 3 rules + 100 test ones take 17,574 of the 17,576
    # 3-letter strings; the geometric rounds alone stopped 12 short (the 4,096-draw rounds fix it)
    rng, taken = np.random.default_rng(0), set()
    train = P.draw_programs(rng, 2829, 3, (3, 3), ALPHABET, taken)
    test = P.draw_programs(rng, 100, 3, (3, 3), ALPHABET, taken)
    assert len(taken) == 2 * 3 * (2829 + 100) == 26 ** 3 - 2
    assert {s for p in train + test for rule in p for s in rule} == taken
    with pytest.raises(ConfigError, match="^n_instructions: could not draw 2 distinct replacements \\(got 0\\)"):
        P.draw_programs(rng, 1, 2, (3, 3), ALPHABET, taken)  # 2 strings left: the patterns take them


def test_same_seed_same_examples():
    assert build(2, seed=5)[2] == build(2, seed=5)[2]
    assert build(2, seed=5)[2] != build(2, seed=6)[2]


def test_an_input_too_short_for_the_plan_is_one_line():
    program = [("abc", "xyz"), ("def", "uvw")]
    with pytest.raises(ConfigError, match="input_length") as e:
        P.make_input(np.random.default_rng(0), program, P.Plan(0, 1), 5, ALPHABET)
    assert len(str(e.value).splitlines()) == 1


def tiny_programs(**kw):
    from rewritelib.config import DataConfig

    return DataConfig(**{**dict(n_instructions=40, budget=400, input_length=8, pattern_length=3,
                                test_instructions=10, test_examples=50, seen_examples=20,
                                program_length=3, conflict_fraction=0.3, noop_fraction=0.2), **kw})


def test_a_program_data_set_is_written_read_back_and_verified(tmp_path):
    """dataset.build_dataset gives programs when program_length asks for them; the files hold
    the paper's fields (pattern x1;x2;x3, replacement y1;y2;y3) and the reader verifies every
    example against one step of its program."""
    from rewritelib.dataset import build_dataset, write_dataset
    from rewritelib.examples import alphabet_of, read_data_dir

    ds = build_dataset(tiny_programs())
    data = read_data_dir(write_dataset(ds, tmp_path / "data"))
    assert all(x.count(";") == 2 for x in data["train"]["pattern"])
    assert ";" not in alphabet_of(data)
    lines = (tmp_path / "data" / "train.jsonl").read_text().splitlines()
    bad = lines[0].replace('"output": "', '"output": "z', 1)
    (tmp_path / "data" / "train.jsonl").write_text("\n".join([bad] + lines[1:]) + "\n")
    with pytest.raises(ConfigError, match="train.jsonl line 1: output"):
        read_data_dir(tmp_path / "data")


def test_same_seed_same_program_files(tmp_path):
    from rewritelib.dataset import build_dataset, write_dataset

    a = write_dataset(build_dataset(tiny_programs()), tmp_path / "a")
    b = write_dataset(build_dataset(tiny_programs()), tmp_path / "b")
    for name in ("train.jsonl", "seen.jsonl", "test.jsonl", "spec.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_the_prompt_lists_the_rules_in_order_and_only_programs_add_a_token(tmp_path):
    from rewritelib.encoding import CharTokenizer, prompt_text

    assert prompt_text("ab;cd", "xy;zw", "abcd") == "ab>xy;cd>zw|abcd="
    assert prompt_text("ab", "xy", "abcd") == "ab>xy|abcd="
    plain, programs = CharTokenizer("abcd"), CharTokenizer("abcd", programs=True)
    assert programs.vocab[:-1] == plain.vocab and programs.vocab[-1] == ";"
    enc = programs.encode_examples(["ab;cd"], ["dc;ba"], ["abcd"], ["dccd"])
    assert programs.decode(enc.ids[0, :enc.length[0] - 1]) == "ab>dc;cd>ba|abcd=dccd"
    programs.save(tmp_path / "t.json")
    plain.save(tmp_path / "p.json")
    assert CharTokenizer.load(tmp_path / "t.json").vocab == programs.vocab
    assert "programs" not in (tmp_path / "p.json").read_text()  # as it always was


def test_scores_by_the_rule_that_fires_and_by_conflict():
    from rewritelib.evaluate import summarize

    cols = {"pattern": ["ab;cd", "ab;cd", "ab;cd", "ab;cd"], "replacement": ["x;y"] * 4,
            "input": ["abcd", "zzcd", "zzzz", "abzz"], "rule_id": np.zeros(4, int),
            "is_noop": np.array([False, False, True, False]), "occurrences": np.array([1, 1, 0, 1])}
    m = summarize({"unseen": (np.array([True, False, True, False]), cols)})
    assert m["by_fired"] == {"-1": {"exact_match": 1.0, "n": 1}, "0": {"exact_match": 0.5, "n": 2},
                             "1": {"exact_match": 0.0, "n": 1}}
    assert m["by_conflict"] == {"conflict": {"exact_match": 1.0, "n": 1},
                                "no conflict": {"exact_match": 0.0, "n": 2}}


@pytest.mark.parametrize("kw,field", [
    (dict(program_length=0), "program_length"), (dict(program_length=9), "program_length"),
    (dict(program_length=1, conflict_fraction=0.3), "conflict_fraction"),
    (dict(conflict_fraction=1.5), "conflict_fraction"), (dict(encrypt=True), "encrypt"),
    (dict(input_length=5), "input_length"), (dict(test_program_length="2,7"), "test_program_length")])
def test_bad_program_settings_are_one_line_naming_the_field(kw, field):
    with pytest.raises(ConfigError) as e:
        tiny_programs(**kw)
    assert str(e.value).startswith(f"{field}:") and len(str(e.value).splitlines()) == 1
