"""The data layer: every example is right, the split is strictly unseen, shares hold."""

import numpy as np
import pytest

from rewritelib.budget import effective_rules, examples_per_rule
from rewritelib.config import ConfigError, DataConfig
from rewritelib.dataset import build_dataset, rules_of, train_counts
from rewritelib.families import _is_primitive, family_capacity, family_pattern
from rewritelib.inputs import encipher
from rewritelib.rules import count_occurrences, rewrite

from conftest import small_config


def check_every_example(ds):
    cfg = ds.config
    for name, split in ds.splits.items():
        for row in split.rows():
            target = rewrite(row["input"], row["pattern"], row["replacement"])
            if ds.cipher:
                target = encipher([target], cfg.alphabet, ds.cipher)[0]
            assert row["output"] == target, (name, row)
            occ = count_occurrences(row["input"], row["pattern"])
            assert row["occurrences"] == occ, (name, row)
            assert row["is_noop"] == (occ == 0)
            assert len(row["input"]) == cfg.input_length
            assert set(row["input"]) <= set(cfg.alphabet)
            lo, hi = cfg.pattern_length
            assert lo <= len(row["pattern"]) <= hi
            lo, hi = cfg.replacement_length
            assert lo <= len(row["replacement"]) <= hi


def test_every_example_is_its_rewrite(small_dataset):
    check_every_example(small_dataset)


@pytest.mark.parametrize("kw", [
    dict(encrypt=True),
    dict(pattern_length=1, replacement_length=1, alphabet="abcdefgh", input_length=6,
         occurrences=1, n_instructions=3, test_instructions=1),
    dict(family="mixed", family_k="2-3", test_family_k=1, pattern_length=6,
         alphabet="abcdefghij", input_length=30),
    dict(occurrences="1,3,5", pattern_length=4, alphabet="abc", input_length=32,
         n_instructions=20, test_instructions=10),
])
def test_every_example_is_its_rewrite_in_hard_corners(kw):
    check_every_example(build_dataset(small_config(**kw)))


def test_paper_scale_defaults_hold_planted_pattern():
    ds = build_dataset(DataConfig(n_instructions=50, budget=2000, test_instructions=50,
                                  test_examples=500, seen_examples=100))
    check_every_example(ds)
    assert all(len(p) == 20 for p in ds.splits["train"].pattern)


def test_test_rules_strictly_unseen_over_many_seeds():
    # A tiny alphabet and short strings make collisions likely if the split leaked.
    for seed in range(40):
        ds = build_dataset(small_config(alphabet="abc", pattern_length="3-4",
                                        replacement_length="3-4", input_length=12, seed=seed,
                                        n_instructions=25, test_instructions=20, budget=600,
                                        occurrences=1,
                                        test_examples=300, seen_examples=60))
        train = set(ds.splits["train"].pattern) | set(ds.splits["train"].replacement)
        test_p, test_r = ds.splits["test"].pattern, ds.splits["test"].replacement
        assert not train & (set(test_p) | set(test_r)), seed
        assert set(ds.splits["train"].rule_id.tolist()).isdisjoint(ds.splits["test"].rule_id.tolist())
        # and the seen split only uses training rules
        assert set(ds.splits["seen"].rule_id.tolist()) <= set(ds.splits["train"].rule_id.tolist())


def test_rules_distinct_and_counts_realized(small_dataset):
    ds = small_dataset
    strings = ds.train_rules.patterns + ds.train_rules.replacements
    assert len(set(strings)) == len(strings)
    realized = np.bincount(ds.splits["train"].rule_id, minlength=ds.config.n_instructions)
    assert (realized == ds.train_counts).all()
    assert ds.train_counts.sum() == ds.config.budget


@pytest.mark.parametrize("f", [0.0, 0.1, 0.37, 0.5, 1.0])
def test_noop_share(f):
    ds = build_dataset(small_config(noop_fraction=f))
    assert abs(ds.splits["train"].is_noop.mean() - f) <= 1 / ds.config.budget
    assert ds.spec()["noop_share"]["train"] == pytest.approx(f, abs=1e-3)


@pytest.mark.parametrize("f", [0.1, 0.3, 0.5])
def test_noops_on_top_keep_the_budget_of_has_op_examples(f):
    """E2's control: the has-op examples number the budget whatever the share; the no-ops are
    added, and make the share of the larger set."""
    ds = build_dataset(small_config(noop_fraction=f, noops_on_top=True, budget=900))
    train = ds.splits["train"]
    assert int((~train.is_noop).sum()) == 900
    assert len(train.is_noop) == 900 + ds.config.noops_added == ds.train_counts.sum()
    assert abs(train.is_noop.mean() - f) <= 1 / len(train.is_noop)
    assert ds.splits["seen"].is_noop.mean() == pytest.approx(f, abs=0.01)  # seen, test: as before
    check_every_example(ds)


def test_noops_on_top_leave_the_other_splits_alone():
    on, off = (build_dataset(small_config(noop_fraction=0.3, noops_on_top=t)) for t in (True, False))
    for name in ("seen", "test"):
        for col in ("input", "output", "pattern"):
            assert getattr(on.splits[name], col) == getattr(off.splits[name], col)
        assert np.array_equal(on.splits[name].is_noop, off.splits[name].is_noop)


def test_at_10_percent_on_top_of_90_percent_is_the_in_budget_data():
    """Why E2-control's grid starts at 30%: its 10% point would repeat E2's examples."""
    e2 = build_dataset(small_config(noop_fraction=0.1, budget=4000))
    control = build_dataset(small_config(noop_fraction=0.1, budget=3600, noops_on_top=True))
    for name in ("train", "seen", "test"):
        a, b = e2.splits[name], control.splits[name]
        assert a.input == b.input and a.output == b.output and a.pattern == b.pattern
        assert np.array_equal(a.is_noop, b.is_noop)


@pytest.mark.parametrize("f", [0.0, 1.0])
def test_noops_on_top_need_a_share_strictly_between_0_and_1(f):
    with pytest.raises(ConfigError, match=r"^noop_fraction: must be in \(0, 1\) with noops_on_top"):
        small_config(noop_fraction=f, noops_on_top=True)


def test_occurrence_set_is_used():
    ds = build_dataset(small_config(occurrences="1,2,4", noop_fraction=0, pattern_length=3,
                                    input_length=24, budget=3000))
    occ = ds.splits["train"].occurrences
    assert set(occ.tolist()) == {1, 2, 4}
    assert all(abs((occ == c).mean() - 1 / 3) < 0.05 for c in (1, 2, 4))


def test_uniform_budget_split():
    counts = examples_per_rule(np.random.default_rng(0), 7, 100, None)
    assert counts.sum() == 100 and set(counts.tolist()) == {14, 15}


@pytest.mark.parametrize("a", [2.0, 1.0, 0.5, 0.1])
def test_skew_follows_power_law(a):
    # Weights X have density a x^(a-1): P(X <= t) = t^a and E[X] = a / (a + 1). With
    # many examples per rule, count / mean count * E[X] estimates each rule's weight.
    counts = examples_per_rule(np.random.default_rng(3), 2000, 2_000_000, a)
    assert counts.sum() == 2_000_000
    rel = counts / counts.mean() * a / (a + 1)
    for t in (0.25, 0.5):
        assert abs((rel <= t).mean() - t ** a) < 0.03, (a, t)


def test_skew_leaves_rare_rules_unseen():
    ds = build_dataset(small_config(skew=0.05, n_instructions=200, budget=2000))
    summary = ds.spec()["train_counts_summary"]
    assert summary["rules_with_examples"] < 150 and summary["top10pct_share"] > 0.5


def test_effective_rules_counts_rules_by_their_share():
    assert effective_rules(np.full(300, 7)) == pytest.approx(300)
    assert effective_rules(np.array([50, 0, 0, 0])) == pytest.approx(1)
    assert effective_rules(np.array([30, 10, 0])) < 2  # two rules seen, one much less
    skewed = examples_per_rule(np.random.default_rng(0), 1000, 20_000, 0.1)
    assert effective_rules(skewed) < 0.6 * (skewed > 0).sum() < 0.6 * 1000


def test_train_counts_are_the_data_sets_counts_without_building_it():
    for skew in (None, 0.2):
        cfg = small_config(skew=skew, n_instructions=60, budget=900, seed=5)
        assert np.array_equal(train_counts(cfg), build_dataset(cfg).train_counts)


def runs(s):
    out, i = [], 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out.append(j - i)
        i = j
    return out


def reads_as(shape, p, k):
    if shape == "repeated":
        r = runs(p)
        return all(x == k for x in r[:-1]) and 1 <= r[-1] <= k
    if shape == "periodic":
        unit = p[:k]
        return p == (unit * len(p))[:len(p)] and _is_primitive(list(unit))
    block = p[:k] + p[:k][::-1]
    return p == (block * len(p))[:len(p)]


@pytest.mark.parametrize("family", ["repeated", "periodic", "mirrored", "mixed"])
def test_family_patterns_have_their_shape(family):
    ds = build_dataset(small_config(family=family, family_k="3-4", test_family_k="1-2",
                                    pattern_length=12, alphabet="abcdefgh", input_length=40))
    shapes = set()
    for split, ks in (("train", {3, 4}), ("test", {1, 2})):
        s = ds.splits[split]
        for p, fam, k in zip(s.pattern, s.family, s.k):
            assert k in ks and reads_as(fam, p, k), (fam, p, k)
            shapes.add(fam)
    assert shapes == ({"repeated", "periodic", "mirrored"} if family == "mixed" else {family})


@pytest.mark.parametrize("family", ["repeated", "periodic", "mirrored", "mixed"])
@pytest.mark.parametrize("a, length, ks", [(3, 5, (1, 2)), (3, 6, (3, 4, 5, 6)), (4, 4, (2, 3, 4, 9)), (2, 2, (3,))])
def test_family_capacity_bounds_what_the_sampler_draws(family, a, length, ks):
    # draw far more patterns than exist: the sampler's distinct patterns are all of them
    rng = np.random.default_rng(0)
    seen = {tuple(family_pattern(rng, family, int(rng.choice(ks)), length, a)[1]) for _ in range(20_000)}
    cap = family_capacity(family, ks, (length, length), a, need=10**9)
    assert len(seen) <= cap
    if family == "repeated":  # counted exactly
        assert len(seen) == cap


def test_a_family_too_small_for_the_rules_is_refused_before_drawing():
    # 6 letters in runs of k = 3-6 make 1,976 patterns over 26 letters (the E4 cpu shape)
    kw = dict(family="repeated", pattern_length=6, input_length=16, family_k="3-6",
              test_family_k="1-2", alphabet="abcdefghijklmnopqrstuvwxyz", budget=20_000)
    DataConfig(n_instructions=1976, test_instructions=100, **kw)
    with pytest.raises(ConfigError, match=r"^n_instructions: .*k 3-6 .*at most 1976.*<= 1976 \(needs 4096\)"):
        DataConfig(n_instructions=4096, test_instructions=100, **kw)
    with pytest.raises(ConfigError, match=r"^n_instructions: .*at most 1976"):  # train + test, same k
        DataConfig(n_instructions=1976, test_instructions=100, **{**kw, "test_family_k": "3-6"})


def test_rules_of_redraws_the_data_sets_rules():
    # analysis of old runs (study.by_test_rule) reads rule ids back through these
    cfg = small_config(family="mixed", family_k="3-4", test_family_k="1-2", pattern_length=12,
                       alphabet="abcdefgh", input_length=40)
    ds, (train, test) = build_dataset(cfg), rules_of(cfg)
    for split, rules, first in (("train", train, 0), ("test", test, len(train))):
        s = ds.splits[split]
        for rid, p, fam, k in zip(s.rule_id.tolist(), s.pattern, s.family, s.k):
            assert (rules.patterns[rid - first], rules.family[rid - first], rules.k[rid - first]) == (p, fam, k)


def test_encryption_is_a_seeded_substitution():
    plain = build_dataset(small_config())
    enc = build_dataset(small_config(encrypt=True))
    assert sorted(enc.cipher) == sorted(enc.config.alphabet) and enc.cipher != enc.config.alphabet
    table = str.maketrans(enc.config.alphabet, enc.cipher)
    assert enc.splits["train"].input == plain.splits["train"].input
    assert enc.splits["train"].output == [o.translate(table) for o in plain.splits["train"].output]


def test_streams_are_independent():
    a = build_dataset(small_config(test_examples=1000))
    b = build_dataset(small_config(test_examples=500))
    assert a.splits["train"].input == b.splits["train"].input
