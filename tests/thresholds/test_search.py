"""How a search decides from its trials: bisection, linear steps, repeats, noise, and the
result saying where the threshold lies (pure functions of the stored trials)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaoshub.thresholds.document import ThresholdSearch, parse_search
from chaoshub.thresholds.search import next_magnitude, result
from tests.thresholds.documents import search_document


def search(top: dict[str, Any] | None = None, **vary: Any) -> ThresholdSearch:
    """The example document varying latency over [0, 1000] to within 50, with ``vary``'s
    fields changed and ``top``'s document fields."""
    base = {"param": "latency", "from": 0, "to": 1000, "resolution": 50, **vary}
    parsed = parse_search(search_document(vary=base, **(top or {})))
    assert parsed is not None
    return parsed


def run(s: ThresholdSearch, holds: Callable[[float, int], bool]) -> list[dict[str, Any]]:
    """Every trial the search asks for, against a service that holds when ``holds(m, n)``
    (``n``: the trial's number)."""
    trials: list[dict[str, Any]] = []
    while (m := next_magnitude(s, trials)) is not None:
        assert len(trials) < 100
        trials.append({"magnitude": m, "outcome": "held" if holds(m, len(trials)) else "broke"})
    return trials


def test_bisection_brackets_the_threshold_within_the_resolution_in_log2_trials() -> None:
    s = search()
    trials = run(s, lambda m, _n: m <= 480)
    said = result(s, trials)
    assert said["found"] and said["noisy"] == []
    assert said["heldMax"] <= 480 < said["brokeMin"]
    assert said["brokeMin"] - said["heldMax"] <= 50
    assert [t["magnitude"] for t in trials[:3]] == [0, 1000, 500]
    assert len(trials) == said["expectedTrials"] == 2 + 5  # log2(1000 / 50) = 4.3


def test_when_even_the_lowest_breaks_or_the_highest_holds_it_says_which() -> None:
    s = search()
    low = result(s, run(s, lambda _m, _n: False))
    assert not low["found"] and low["trials"] == 1 and "even the lowest" in low["message"]
    high = result(s, run(s, lambda _m, _n: True))
    assert not high["found"] and high["trials"] == 2 and "even the highest" in high["message"]


def test_linear_steps_up_until_a_magnitude_breaks() -> None:
    s = search(strategy="linear", step=200)
    trials = run(s, lambda m, _n: m < 500)
    assert [t["magnitude"] for t in trials] == [0, 200, 400, 600]
    said = result(s, trials)
    assert (said["heldMax"], said["brokeMin"], said["found"]) == (400, 600, True)


def test_repeats_that_disagree_are_reported_as_noise_not_smoothed_away() -> None:
    s = search(top={"repeats": 2})
    # the service flips at 500: the second trial there holds
    trials = run(s, lambda m, n: m < 400 or (m == 500 and n % 2 == 1))
    said = result(s, trials)
    assert not said["found"]
    assert any("the 2 trials at 500 disagree (1 held, 1 broke)" in n for n in said["noisy"])
    assert "noisy" in said["message"]


def test_a_lower_magnitude_breaking_where_a_higher_one_held_is_noise() -> None:
    s = search()
    trials = [
        {"magnitude": 0, "outcome": "held"},
        {"magnitude": 1000, "outcome": "broke"},
        {"magnitude": 500, "outcome": "held"},
        {"magnitude": 250, "outcome": "broke"},  # a retest of a lower one broke
    ]
    said = result(s, trials)
    assert said["noisy"] == ["250 broke an objective although 500, higher, held"]
    assert next_magnitude(s, trials) is None


def test_a_repeated_pass_decides_the_same_as_the_first() -> None:
    s = search()
    trials = [{"magnitude": 0, "outcome": "held"}, {"magnitude": 1000, "outcome": "broke"}]
    assert next_magnitude(s, trials) == next_magnitude(s, list(trials)) == 500
