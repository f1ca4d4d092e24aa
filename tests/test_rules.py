"""rewrite() and the Markov interpreter against plainly written references."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rewritelib.markov import MarkovAlgorithm, MarkovRule
from rewritelib.rules import count_occurrences, rewrite

small = st.text(alphabet="abc", max_size=12)


def reference_rewrite(text, pattern, replacement):
    """Scan left to right; the first position where the pattern matches gets replaced."""
    for i in range(len(text) - len(pattern) + 1):
        if all(text[i + j] == pattern[j] for j in range(len(pattern))):
            return text[:i] + replacement + text[i + len(pattern):]
    return text


def reference_count(text, pattern):
    return sum(text[i:i + len(pattern)] == pattern for i in range(len(text) - len(pattern) + 1))


def test_paper_examples():
    assert rewrite("caaba", "aa", "bac") == "cbacba"
    assert rewrite("mississippi", "iss", "art") == "martissippi"
    assert rewrite("canada", "iss", "art") == "canada"


def test_replaces_once_not_all():
    assert rewrite("abab", "ab", "x") == "xab"
    assert rewrite("aaa", "aa", "b") == "ba"


@settings(max_examples=500)
@given(small, small, small)
def test_rewrite_matches_reference(text, pattern, replacement):
    assert rewrite(text, pattern, replacement) == reference_rewrite(text, pattern, replacement)


@settings(max_examples=300)
@given(small, small.filter(bool))
def test_count_matches_reference(text, pattern):
    assert count_occurrences(text, pattern) == reference_count(text, pattern)


@settings(max_examples=300)
@given(small, small.filter(bool), small)
def test_noop_iff_absent(text, pattern, replacement):
    if count_occurrences(text, pattern) == 0:
        assert rewrite(text, pattern, replacement) == text
    else:
        assert len(rewrite(text, pattern, replacement)) == len(text) - len(pattern) + len(replacement)


def test_markov_bubble_sort():
    algo = MarkovAlgorithm([("ba", "ab")])
    res = algo.run("bbaab", keep_trace=True)
    assert res.output == "aabbb" and res.halted
    assert res.steps == len(res.trace) - 1 == 4  # one step per inversion


def test_markov_rule_order_and_terminal():
    # The first applicable rule wins even if a later one matches further left.
    algo = MarkovAlgorithm([("c", "C"), ("a", "A")])
    assert algo.step("ac") == ("aC", algo.rules[0])
    term = MarkovAlgorithm([MarkovRule("a", "b", terminal=True), ("b", "c")])
    res = term.run("aa")
    assert res.output == "ba" and res.steps == 1 and res.halted


def test_markov_step_limit_reports_not_halted():
    res = MarkovAlgorithm([("", "a")], max_steps=5).run("")  # the empty pattern always fires
    assert res.output == "aaaaa" and not res.halted and res.steps == 5


def test_markov_unary_addition():
    # 11+111 -> 11111: move the plus sign right, then drop it.
    algo = MarkovAlgorithm([("+1", "1+"), MarkovRule("+", "", terminal=True)])
    assert algo.run("11+111").output == "11111"
