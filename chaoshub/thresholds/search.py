"""How a threshold search decides: the next magnitude to try, and what the trials so far say.

Both are pure functions of the document and the stored trials, so a pass that is repeated
(a worker killed half-way) decides exactly what the first one would have.

**Bisection** (``strategy: bisect``) first tries ``from`` (if it breaks, even the lowest
magnitude breaks an objective: done) and ``to`` (if it holds, even the highest holds: done);
then it halves the interval between the highest magnitude that held and the lowest that
broke until it is no wider than ``resolution``: ``2 + ceil(log2((to - from) / resolution))``
trials (times ``repeats``). A midpoint of an integer parameter is rounded down.

**Linear** (``strategy: linear``) tries ``from``, ``from + step``, ... up to ``to`` (``to``
itself last), and stops at the first magnitude that broke.

With ``repeats: n`` every magnitude is tried n times; it *held* only if every one held.
A result is **noisy** when the trials disagree: the repeats at one magnitude differ, or a
magnitude broke below one that held. Noise is reported with the magnitudes involved, never
smoothed away; bisection stops at it (its interval no longer means anything).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from chaoshub.thresholds.document import ThresholdSearch

HELD = "held"
BROKE = "broke"


def expected_trials(search: ThresholdSearch) -> int:
    """How many trials the search takes at most (bisection: about log2(range/resolution))."""
    span = search.high - search.low
    if search.strategy == "bisect":
        return search.repeats * (2 + max(0, math.ceil(math.log2(span / search.resolution))))
    assert search.step is not None
    return search.repeats * len(_ladder(search))


def _ladder(search: ThresholdSearch) -> list[float]:
    assert search.step is not None
    out: list[float] = []
    k = 0
    while (m := search.low + k * search.step) < search.high:
        out.append(_round(search, m))
        k += 1
    out.append(_round(search, search.high))
    return sorted(set(out))


def _round(search: ThresholdSearch, value: float) -> float:
    return float(math.floor(value)) if search.integer else value


@dataclass
class Tally:
    """The trials grouped by magnitude."""

    outcomes: dict[float, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, trials: list[dict[str, Any]]) -> Tally:
        t = cls()
        for trial in trials:
            if trial.get("outcome") in (HELD, BROKE):
                t.outcomes.setdefault(float(trial["magnitude"]), []).append(trial["outcome"])
        return t

    def verdict(self, m: float) -> str | None:
        seen = self.outcomes.get(m, [])
        if not seen:
            return None
        return BROKE if BROKE in seen else HELD

    def held(self) -> list[float]:
        return sorted(m for m in self.outcomes if self.verdict(m) == HELD)

    def broke(self) -> list[float]:
        return sorted(m for m in self.outcomes if self.verdict(m) == BROKE)

    def noise(self) -> list[str]:
        said = [
            f"the {len(o)} trials at {m:g} disagree ({o.count(HELD)} held, {o.count(BROKE)} broke)"
            for m, o in sorted(self.outcomes.items())
            if HELD in o and BROKE in o
        ]
        held, broke = self.held(), self.broke()
        if held and broke and broke[0] < held[-1]:
            said.append(f"{broke[0]:g} broke an objective although {held[-1]:g}, higher, held")
        return said


def next_magnitude(search: ThresholdSearch, trials: list[dict[str, Any]]) -> float | None:
    """The magnitude of the next trial, or None when the search is decided."""
    tally = Tally.of(trials)
    if trials:
        last = float(trials[-1]["magnitude"])
        if len(tally.outcomes.get(last, [])) < search.repeats:
            return last
    if tally.noise():
        return None
    if search.strategy == "linear":
        if tally.broke():
            return None
        return next((m for m in _ladder(search) if m not in tally.outcomes), None)
    low, high = _round(search, search.low), _round(search, search.high)
    for end, stop_if in ((low, BROKE), (high, HELD)):
        v = tally.verdict(end)
        if v is None:
            return end
        if v == stop_if:
            return None
    lo, hi = tally.held()[-1], tally.broke()[0]
    if hi - lo <= search.resolution:
        return None
    mid = _round(search, (lo + hi) / 2)
    return mid if lo < mid < hi else None


def result(search: ThresholdSearch, trials: list[dict[str, Any]]) -> dict[str, Any]:
    """What the trials say: the highest magnitude that held every objective, the lowest
    that broke one, whether that brackets a threshold, any noise, and a sentence saying so."""
    tally = Tally.of(trials)
    held, broke = tally.held(), tally.broke()
    noise = tally.noise()
    held_max = held[-1] if held else None
    broke_min = broke[0] if broke else None
    p = search.param
    if broke_min is not None and broke_min <= _round(search, search.low):
        found, message = (
            False,
            (
                f"even the lowest magnitude, {p}={broke_min:g}, broke an objective: "
                "the threshold is below the range"
            ),
        )
    elif held_max is not None and broke_min is None:
        found, message = (
            False,
            (
                f"even the highest magnitude tried, {p}={held_max:g}, held every objective: "
                "the threshold is above the range"
            ),
        )
    elif held_max is not None and broke_min is not None:
        found = True
        message = (
            f"threshold between {p}={held_max:g} (held every objective) and {p}={broke_min:g} "
            f"(broke one): within {broke_min - held_max:g}"
        )
    else:
        found, message = False, "no trial was decided"
    if noise:
        message += "; noisy: " + "; ".join(noise)
    return {
        "found": found and not noise,
        "heldMax": held_max,
        "brokeMin": broke_min,
        "noisy": noise,
        "message": message,
        "trials": len(trials),
        "expectedTrials": expected_trials(search),
        "strategy": search.strategy,
    }
