"""Selector patterns run on RE2: a pattern that backtracks for ages in Python's ``re`` is
answered at once, and what RE2 cannot run is refused with its reason."""

from __future__ import annotations

import pytest

from chaoshub.patterns import PatternError, compile_pattern


def test_a_catastrophic_pattern_for_a_backtracking_engine_is_answered() -> None:
    # Python's re needs about 2**n steps here; with n = 100000 it would never return
    # (pytest's timeout would fail this test)
    assert compile_pattern(r"(a+)+$").search("a" * 100_000 + "b") is None
    assert compile_pattern(r"(x+x+)+y").search("x" * 50_000) is None


def test_ordinary_patterns_match_as_in_python() -> None:
    assert compile_pattern(r"^web-\d+$").search("web-12")
    assert not compile_pattern(r"^web-\d+$").search("db-12")
    assert compile_pattern(r"sleep\ 600\.5").search("/bin/sleep 600.5")


@pytest.mark.parametrize(
    ("pattern", "says"),
    [("(", "missing )"), ("(?<=a)b", "invalid perl operator"), (r"(a)\1", "invalid escape")],
)
def test_what_re2_cannot_run_is_refused_with_its_reason(pattern: str, says: str) -> None:
    with pytest.raises(PatternError) as err:
        compile_pattern(pattern)
    assert says in str(err.value)
    assert "RE2" in str(err.value)
