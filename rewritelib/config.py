"""DataConfig: every knob of the data set, validated up front.

Bad values raise :class:`ConfigError` with one line that names the parameter and the
allowed range, before any randomness is drawn or any file is written. The CLI turns that
line into a clean non-zero exit. Field types are pydantic's job (``Int``, ``Float``,
``Bool``, ``Text`` below, shared with TrainConfig and RunConfig); ranges and fields that
go together are checked in ``__post_init__``.
"""

from __future__ import annotations

import functools
import math
import string
from dataclasses import asdict
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Strict, ValidationError
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

FAMILIES = ("none", "repeated", "periodic", "mirrored", "mixed")
MAX_ALPHABET = 62  # letters and digits: the model tokenizers keep punctuation for separators
MAX_PROGRAM = 5  # rules in one E7 program: a prompt of m rules grows by 8 tokens a rule at the cpu shape


class ConfigError(ValueError):
    """A parameter is out of its allowed range. The message is one line for the user."""


class ModelError(ConfigError):
    """A model could not be built or loaded; the message is one line for the user."""


# --- the field types of DataConfig, TrainConfig and RunConfig ------------------------------
# pydantic checks every field's type; each __post_init__ checks only ranges and how the
# fields go together. Python counts a bool as an int, so the number types refuse bools
# first. Bools and text are strict: a config takes only True or False, never "False" (a
# notebook's encrypt="False" is refused, not truthy); the CLI's --grid parses true/false.

def _not_bool(value):
    if isinstance(value, bool):
        raise PydanticCustomError("bool_for_number", "Input should be a number, not true or false")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]  # 20, 20.0, "20" (the data CLI's text); not 1.5, "x"
Float = Annotated[float, BeforeValidator(_not_bool)]  # 0.5, 1, "0.5"; not "x"
Bool = Annotated[bool, Strict()]  # True or False only
Text = Annotated[str, Strict()]  # not 5
# N, "LO-HI", "1,5,10" (parse_range and parse_int_set read them) or integers: a tuple, or
# the list a record's JSON turned it into
IntSpec = Int | Text | tuple[Int, ...]


def config_dataclass(cls):
    """A pydantic dataclass (still a dataclass: fields, asdict, keywords) whose bad input,
    of any field, is one ConfigError line naming the field."""
    cls = dataclass(cls, config=ConfigDict(extra="forbid"))  # a misspelt keyword is refused
    validate = cls.__init__

    @functools.wraps(validate)
    def __init__(self, *args, **kwargs):
        try:
            validate(self, *args, **kwargs)
        except ValidationError as e:
            raise _one_line(e) from None

    cls.__init__ = __init__
    return cls


def _one_line(e: ValidationError) -> ConfigError:
    """One error as "field: must be ... (got X)", like every other ConfigError: the deepest,
    which for a union (IntSpec) is the member that got furthest: [1, "x"] -> "x"."""
    err = max(e.errors(include_url=False), key=lambda err: len(err["loc"]))
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):  # __post_init__ raised it and pydantic wrapped it
        return cause
    name = err["loc"][0] if err["loc"] else "config"
    msg = err["msg"].replace("Input should be", "must be", 1)
    got = "" if err["type"].startswith("missing") else f" (got {err['input']!r})"
    return ConfigError(f"{name}: {msg[0].lower()}{msg[1:]}{got}")


def parse_range(value, name: str) -> tuple[int, int]:
    """``20`` -> (20, 20); ``"10-20"`` or ``(10, 20)`` -> (10, 20)."""
    try:
        if isinstance(value, str):
            lo, _, hi = value.partition("-")
            lo, hi = int(lo), int(hi or lo)
        elif isinstance(value, (tuple, list)):
            lo, hi = (int(v) for v in value)
        else:
            lo = hi = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected an integer N or a range LO-HI (got {value!r})") from None
    if lo > hi:
        raise ConfigError(f"{name}: range LO-HI needs LO <= HI (got {lo}-{hi})")
    return lo, hi


def parse_int_set(value, name: str) -> tuple[int, ...]:
    """``5`` -> (5,); ``"1,5,10"`` -> (1, 5, 10); ``"1-3"`` -> (1, 2, 3)."""
    if isinstance(value, (tuple, list)):
        items = [str(v) for v in value]
    else:
        items = str(value).split(",")
    out: set[int] = set()
    for item in items:
        lo, hi = parse_range(item.strip(), name)
        out.update(range(lo, hi + 1))
    return tuple(sorted(out))


def parse_skew(value) -> float | None:
    """``"uniform"``/None -> None (S = budget / I each); a number -> power-law shape a."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "uniform"):
        return None
    try:
        a = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"skew: expected 'uniform' or a number > 0 (got {value!r})") from None
    if not (a > 0 and math.isfinite(a)):
        raise ConfigError(f"skew: the power-law shape a must be a finite number > 0 (got {value!r})")
    return a


def _check_bounds(name: str, value: int, lo: int, hi: float = math.inf) -> None:
    if not lo <= value <= hi:
        upper = "" if hi == math.inf else f" and <= {hi}"
        raise ConfigError(f"{name}: must be >= {lo}{upper} (got {value})")


def string_capacity(alphabet_size: int, lengths: tuple[int, int], need: int) -> int:
    """How many distinct strings have a length in the range, counted exactly (integers) up
    to ``need``: the count stops once it reaches ``need``, so huge lengths cost nothing."""
    total = 0
    for n in range(lengths[0], lengths[1] + 1):
        if n * math.log2(alphabet_size) > need.bit_length() + 1:  # a**n alone is enough
            return max(total, need)
        total += alphabet_size ** n
        if total >= need:
            return total
    return total


@config_dataclass
class DataConfig:
    """One data set: training rules and examples, plus unseen test rules.

    Defaults follow the paper (inputs of 50 letters, patterns of 20, 26 letters,
    10^6 training examples, no no-ops). ``pattern_length`` and ``replacement_length``
    take N or LO-HI; ``occurrences`` a set such as ``1,5,10,15,20``.
    """

    n_instructions: Int = 1000
    budget: Int = 1_000_000
    noop_fraction: Float = 0.0
    # E2's control: the budget counts has-op examples only and the no-ops come on top, so a
    # larger share adds examples instead of taking has-op ones away
    noops_on_top: Bool = False
    skew: Float | Text | None = None  # None / "uniform", or the power-law shape a > 0
    input_length: Int = 50
    pattern_length: IntSpec = 20
    replacement_length: IntSpec | None = None  # None: drawn like the pattern
    alphabet: Text = string.ascii_lowercase
    occurrences: IntSpec = 1
    test_instructions: Int = 1000
    test_examples: Int = 100_000
    test_noop_fraction: Float | None = None  # None: same as noop_fraction
    test_occurrences: IntSpec | None = None  # None: same as occurrences
    seen_examples: Int = 10_000  # fresh inputs for training rules: accuracy on *seen* rules
    family: Text = "none"
    family_k: IntSpec | None = None  # None: 3-4 (only with a family)
    test_family_k: IntSpec | None = None  # None: same as family_k
    encrypt: Bool = False
    # E7: an instruction is a Markov program of this many ordered rules (a set such as 1,2
    # mixes lengths); the target is one step of it (programs.py). 1: the paper's single rule.
    program_length: IntSpec = 1
    test_program_length: IntSpec | None = None  # None: same as program_length
    conflict_fraction: Float = 0.0  # share of has-op inputs that also hold a later rule's pattern
    seed: Int = 0

    def __post_init__(self):  # after pydantic's type checks: ranges, and the fields together
        for name, lo, hi in (("n_instructions", 1, math.inf), ("budget", 1, math.inf),
                             ("input_length", 1, math.inf), ("test_instructions", 1, math.inf),
                             ("test_examples", 1, math.inf), ("seen_examples", 0, math.inf),
                             ("seed", 0, 2**63 - 1)):
            _check_bounds(name, getattr(self, name), lo, hi)
        if self.budget < self.n_instructions:
            raise ConfigError(f"budget: must be >= n_instructions = {self.n_instructions} "
                              f"so every instruction can have an example (got {self.budget})")
        if self.test_examples < self.test_instructions:
            raise ConfigError(f"test_examples: must be >= test_instructions = "
                              f"{self.test_instructions} (got {self.test_examples})")
        if self.test_noop_fraction is None:
            self.test_noop_fraction = self.noop_fraction
        for name in ("noop_fraction", "test_noop_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # nan too
                raise ConfigError(f"{name}: must be in [0, 1] (got {getattr(self, name)})")
        self._check_noops_on_top()
        self.skew = parse_skew(self.skew)
        self._check_alphabet()
        self._check_lengths()
        self._check_occurrences()
        self._check_family()
        self._check_programs()
        self._check_capacity()

    def _check_noops_on_top(self):
        if self.noops_on_top and not 0.0 < self.noop_fraction < 1.0:
            raise ConfigError(f"noop_fraction: must be in (0, 1) with noops_on_top, which adds "
                              f"budget * share / (1 - share) no-ops (got {self.noop_fraction})")

    @property
    def noops_added(self) -> int:
        """No-op training examples beyond the budget (0 unless ``noops_on_top``): they make
        ``noop_fraction`` of the training set, whose has-op examples number ``budget``."""
        p = self.noop_fraction
        return round(self.budget * p / (1 - p)) if self.noops_on_top else 0

    @property
    def train_examples(self) -> int:
        return self.budget + self.noops_added

    @property
    def train_noops(self) -> int:
        """No-op examples of the training split: on top, exactly those beyond the budget."""
        return self.noops_added if self.noops_on_top else round(self.noop_fraction * self.budget)

    def _check_alphabet(self):
        a = self.alphabet
        if not a.isascii() or not a.isalnum():
            raise ConfigError(f"alphabet: must be ASCII letters and digits only (got {a!r})")
        if len(set(a)) != len(a):
            raise ConfigError(f"alphabet: letters must be distinct (got {a!r})")
        if not 2 <= len(a) <= MAX_ALPHABET:
            raise ConfigError(f"alphabet: needs 2 to {MAX_ALPHABET} letters (got {len(a)})")

    def _check_lengths(self):
        self.pattern_length = parse_range(self.pattern_length, "pattern_length")
        if self.replacement_length is None:
            self.replacement_length = self.pattern_length
        self.replacement_length = parse_range(self.replacement_length, "replacement_length")
        if self.pattern_length[0] < 1:
            raise ConfigError(f"pattern_length: must be >= 1 (got {self.pattern_length[0]})")
        if self.replacement_length[0] < 0:
            raise ConfigError(f"replacement_length: must be >= 0 (got {self.replacement_length[0]})")
        if self.pattern_length[1] > self.input_length:
            raise ConfigError(f"pattern_length: must be <= input_length = {self.input_length} "
                              f"(got {self.pattern_length[1]})")

    def _check_occurrences(self):
        for name in ("occurrences", "test_occurrences"):
            value = getattr(self, name)
            if value is None:
                value = self.occurrences
            counts = parse_int_set(value, name)
            most = self.input_length // self.pattern_length[1]
            if counts[0] < 1 or counts[-1] > most:
                raise ConfigError(
                    f"{name}: each count must be in [1, input_length // pattern_length = {most}] "
                    f"so the planted copies fit without overlap (got {value})")
            setattr(self, name, counts)

    def _check_family(self):
        if self.family not in FAMILIES:
            raise ConfigError(f"family: must be one of {', '.join(FAMILIES)} (got {self.family!r})")
        self.family_k = (3, 4) if self.family_k is None else self.family_k
        if self.test_family_k is None:
            self.test_family_k = self.family_k
        for name in ("family_k", "test_family_k"):
            # a k without a family would do nothing; 3-4, the default, is what records store
            value = getattr(self, name)
            if self.family == "none" and parse_range(value, name) != (3, 4):
                raise ConfigError(f"{name}: only applies with --family (got {value} and "
                                  "family none); pass --family too or drop it")
        for name in ("family_k", "test_family_k"):
            k = parse_range(getattr(self, name), name)
            if self.family != "none" and not 1 <= k[0] <= k[1] <= self.pattern_length[0]:
                raise ConfigError(f"{name}: must lie in [1, pattern_length = "
                                  f"{self.pattern_length[0]}] (got {k[0]}-{k[1]})")
            setattr(self, name, k)

    def _check_programs(self):
        for name in ("program_length", "test_program_length"):
            value = getattr(self, name)
            lengths = parse_int_set(self.program_length if value is None else value, name)
            if not 1 <= lengths[0] <= lengths[-1] <= MAX_PROGRAM:
                raise ConfigError(f"{name}: each must be in [1, {MAX_PROGRAM}] rules (got {value})")
            setattr(self, name, lengths)
        if not 0.0 <= self.conflict_fraction <= 1.0:
            raise ConfigError(f"conflict_fraction: must be in [0, 1] (got {self.conflict_fraction})")
        if not self.programs:
            if self.conflict_fraction:
                raise ConfigError("conflict_fraction: only applies to programs of 2 or more rules "
                                  "(program_length)")
            return
        for name, value, plain in (("family", self.family, "none"), ("encrypt", self.encrypt, False),
                                   ("occurrences", self.occurrences, (1,)),
                                   ("noops_on_top", self.noops_on_top, False)):
            if value != plain:
                raise ConfigError(f"{name}: must be {plain} with programs of several rules "
                                  f"(program_length; got {value})")
        if 2 * self.pattern_length[1] > self.input_length:
            raise ConfigError(f"input_length: must hold two patterns ({2 * self.pattern_length[1]} "
                              f"letters) for a program's conflicts (got {self.input_length})")

    @property
    def programs(self) -> bool:
        """Instructions of several rules somewhere (E7): the data comes from programs.py."""
        return max(self.program_length + self.test_program_length) > 1

    def _check_capacity(self):
        # Every pattern and replacement of every rule is drawn distinct from all the others:
        # that is what makes the test rules strictly unseen. The alphabet must hold that many.
        # (Families hold fewer strings; their sampler says so if it runs dry.)
        rules = (self.n_instructions * max(self.program_length)
                 + self.test_instructions * max(self.test_program_length))  # rules of programs
        a = len(self.alphabet)
        p, r = self.pattern_length, self.replacement_length
        if self.family != "none":
            self._check_family_capacity(a)
        union = (min(p[0], r[0]), max(p[1], r[1]))
        for lengths, need in ((p, rules), (r, rules), (union, 2 * rules)):
            have = string_capacity(a, lengths, need)
            if have < need:
                raise ConfigError(
                    f"n_instructions: n_instructions + test_instructions = {rules} rules need "
                    f"{need} distinct strings but {a} letters with pattern_length {p[0]}-{p[1]} "
                    f"and replacement_length {r[0]}-{r[1]} make only {int(have)}; "
                    "use fewer rules, longer strings or a larger alphabet")

    def _check_family_capacity(self, a: int):
        # A family holds far fewer strings than the alphabet: 6 letters in runs of k = 3-6
        # make 1,976 patterns over 26 letters. Test rules are drawn against the training
        # rules, so both must fit together where their k ranges meet. (Necessary, not
        # sufficient: replacements share the pool too; the sampler still says if it runs dry.)
        from .families import family_capacity

        (k0, k1), (t0, t1) = self.family_k, self.test_family_k
        train_k, test_k = set(range(k0, k1 + 1)), set(range(t0, t1 + 1))
        for name, ks, where, need in (
                ("n_instructions", train_k, f"k {k0}-{k1}", self.n_instructions),
                ("test_instructions", test_k, f"k {t0}-{t1}", self.test_instructions),
                ("n_instructions", train_k | test_k, f"k {k0}-{k1} and {t0}-{t1}",
                 self.n_instructions + self.test_instructions)):
            have = family_capacity(self.family, ks, self.pattern_length, a, need)
            if have < need:
                p0, p1 = self.pattern_length
                raise ConfigError(
                    f"{name}: {self.family} patterns of pattern_length {p0}-{p1} with {where} "
                    f"over {a} letters number at most {have}, so the rules drawn from them must "
                    f"be <= {have} (needs {need}); use fewer rules, a wider k range, longer "
                    "patterns or more letters")

    def to_dict(self) -> dict:
        return asdict(self)
