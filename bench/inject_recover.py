"""Time to inject and time to recover, through the hub and directly against the tool.

For each adapter (native process-pause, toxiproxy latency, docker container-pause) and each
shape of the hub (production: API + 2 workers + beat on Redis and PostgreSQL; embedded:
``chaoshub up``), ``--runs`` times in a row:

1. ``startRun`` → the fault seen from outside (``inject``: from sending the request, the
   moment a user's clock starts; ``inject_answer``: from the accepted answer);
2. ``abortRun`` → the target clean again (``recover``, ``recover_answer`` likewise), then
   wait for the run's terminal phase (``terminal``: abort sent → ``aborted`` seen);
3. the same action done directly against the tool, one call each way, timed from sending
   it to the same outside observation (``direct_inject``, ``direct_recover``).

The ratio column is hub p50 / direct p50 (the hub's overhead as a factor), both timed from
sending; the "from answer" column shows how much of the hub's time comes after it answers.

Where the hub's time goes, two ways:

- ``split``: for each run, the instants the hub itself stored (its events, on the same
  wall clock) counted from sending ``startRun``: ``checked`` (the run row made: every check,
  discovery and the agent's validate done), ``answered`` (the answer received),
  ``picked_up`` (a worker moved it to ``injecting``), ``injected`` (the agent answered the
  inject) and ``seen`` (the fault seen from outside); likewise ``abort_stored``,
  ``recovering`` and ``recovered`` for the abort, counted from sending ``abortRun``;
- a profile (py-spy, when installed: ``pip install -e '.[bench]'``) of the API and of the
  worker processes over each hub case (embedded: one process is both), its top costs
  printed (``--no-profile`` to skip).

With the native adapter, Chaos Toolkit's CLI runs the same process pause in the same
invocation right after the hubs (:mod:`bench.chaostoolkit`, same ``--runs``;
``--no-chaostoolkit`` to skip), and the speed-up hub p50 / ``chaos run`` p50 is printed.

    python -m bench.inject_recover --runs 200
    python -m bench.inject_recover --adapter native --config embedded --config production --runs 50
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any

from bench import chaostoolkit, common, hubs, profiles, subjects
from bench.common import ms, percentiles, wait_until
from bench.hubs import Hub
from bench.subjects import Subject

START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { code message field } } }"""
ABORT = """mutation($id: ID!) { abortRun(id: $id, reason: "bench") {
  __typename ... on Run { id } ... on Error { code message } } }"""
PHASE = """query($id: ID!) { run(id: $id) { phase error } }"""
EVENTS = """query($id: ID!) { run(id: $id) { events { at kind toPhase } } }"""

METRICS = (
    "inject",
    "inject_answer",
    "recover",
    "recover_answer",
    "terminal",
    "direct_inject",
    "direct_recover",
)
#: the hub's own instants of a run, from sending startRun / abortRun (see the module doc)
SPLIT_INJECT = ("checked", "answered", "picked_up", "injected", "seen")
SPLIT_RECOVER = ("abort_stored", "abort_answered", "recovering", "recovered", "clean")
TIMEOUT = 60.0


class Rejected(Exception):
    """``startRun`` answered an error (on a busy shared host: discovery racing other tests)."""


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def split(
    hub: Hub, run_id: str, start_wall: float, abort_wall: float, outside: dict[str, float]
) -> dict[str, float]:
    """The run's stored instants, in ms from sending startRun (inject) or abortRun (recover);
    ``outside`` holds what the benchmark saw itself, already in those terms."""
    events = hub.gql(EVENTS, id=run_id)["run"]["events"]
    found: dict[str, float] = {}

    def first(name: str, wall: float, match: Any) -> None:
        for e in sorted(events, key=lambda e: e["at"]):
            if match(e):
                found[name] = ms(_at(e["at"]) - wall)
                return

    first("checked", start_wall, lambda e: e["kind"] == "created")
    first("picked_up", start_wall, lambda e: e["toPhase"] == "injecting")
    first("injected", start_wall, lambda e: e["kind"] == "injected")
    first("abort_stored", abort_wall, lambda e: e["kind"] == "desired")
    first("recovering", abort_wall, lambda e: e["toPhase"] == "recovering")
    first("recovered", abort_wall, lambda e: e["kind"] == "recovered")
    return {**found, **outside}


def one_round(
    hub: Hub,
    subject: Subject,
    backend: str,
    samples: dict[str, list[float]],
    splits: dict[str, list[float]] | None = None,
) -> None:
    start_wall = time.time()
    sent = time.perf_counter()
    started = hub.gql(
        START,
        input={
            "faultType": subject.fault_type,
            "backend": backend,
            "params": subject.params,
            "selector": subject.selector(hub),
            "durationSeconds": 600,
        },
    )["startRun"]
    accepted = time.perf_counter()
    if started["__typename"] != "Run":
        raise Rejected(str(started))
    run_id = started["id"]
    seen = wait_until(subject.injected, TIMEOUT, what=f"{subject.fault_type} injected")
    samples["inject"].append(ms(seen - sent))
    samples["inject_answer"].append(ms(seen - accepted))
    outside = {"answered": ms(accepted - sent), "seen": ms(seen - sent)}

    abort_wall = time.time()
    sent = time.perf_counter()
    aborted = hub.gql(ABORT, id=run_id)["abortRun"]
    accepted = time.perf_counter()
    assert aborted["__typename"] == "Run", aborted
    seen = wait_until(subject.clean, TIMEOUT, what=f"{subject.fault_type} recovered")
    samples["recover"].append(ms(seen - sent))
    samples["recover_answer"].append(ms(seen - accepted))
    outside.update({"abort_answered": ms(accepted - sent), "clean": ms(seen - sent)})
    ended = wait_until(
        lambda: hub.gql(PHASE, id=run_id)["run"]["phase"] in ("aborted", "completed", "failed"),
        TIMEOUT,
        interval=0.005,
        what="the run's end",
    )
    samples["terminal"].append(ms(ended - sent))
    phase = hub.gql(PHASE, id=run_id)["run"]
    assert phase["phase"] == "aborted", phase
    if splits is not None:
        for k, v in split(hub, run_id, start_wall, abort_wall, outside).items():
            splits.setdefault(k, []).append(v)

    sent = time.perf_counter()
    subject.direct_inject()
    samples["direct_inject"].append(ms(wait_until(subject.injected, TIMEOUT) - sent))
    sent = time.perf_counter()
    subject.direct_recover()
    samples["direct_recover"].append(ms(wait_until(subject.clean, TIMEOUT) - sent))


def measure(config: str, adapter: str, runs: int, warmup: int, profile: bool) -> dict[str, Any]:
    with subjects.SUBJECTS[adapter]() as subject, hubs.start(config) as hub:
        backend = subject.backend(hub)
        samples: dict[str, list[float]] = {m: [] for m in METRICS}
        splits: dict[str, list[float]] = {}
        for _ in range(warmup):
            one_round(hub, subject, backend, {m: [] for m in METRICS})
        workers = [p.popen.pid for p in hub.procs if p.name.startswith("worker")]
        # sampled until the timed runs end (ended early: the hour is only an upper bound)
        sampling = (
            (profiles.start(hub.api_pid, 3600), [profiles.start(w, 3600) for w in workers])
            if profile
            else None
        )
        load = common.load_average()
        began = time.monotonic()
        rejected: list[str] = []
        done = 0
        while done < runs:
            try:
                one_round(hub, subject, backend, samples, splits)
            except Rejected as exc:
                # counted and shown, not timed; too many means something is really wrong
                rejected.append(str(exc)[:300])
                if len(rejected) > max(10, runs // 10):
                    raise
                continue
            done += 1
            if done % 50 == 0:
                print(f"  {config}/{adapter}: {done}/{runs}", file=sys.stderr, flush=True)
        seconds = round(time.monotonic() - began, 1)
        profiled: dict[str, Any] = {}
        if sampling is not None:
            api, of_workers = sampling
            # embedded: one process is the API and the worker
            what = "api" if workers else "api and worker"
            profiled[what] = profiles.finish(api, now=True)
            if workers:
                profiled["workers"] = profiles.finish_all(of_workers, now=True)
        stats = {m: percentiles(v) for m, v in samples.items()}
        return {
            "config": config,
            "adapter": adapter,
            "fault_type": subject.fault_type,
            "runs": runs,
            "seconds": seconds,
            "load_at_start": load,
            "load_at_end": common.load_average(),
            "rejected_starts": rejected,
            "ms": stats,
            "split_ms": {
                k: percentiles(splits[k]) for k in (*SPLIT_INJECT, *SPLIT_RECOVER) if k in splits
            },
            "profile": profiled,
            "overhead_ratio_p50": {
                "inject": _ratio(stats["inject"]["p50"], stats["direct_inject"]["p50"]),
                "recover": _ratio(stats["recover"]["p50"], stats["direct_recover"]["p50"]),
            },
        }


def _ratio(hub: Any, direct: Any) -> float | None:
    return round(hub / direct, 1) if hub is not None and direct else None


HEADERS = [
    "hub",
    "adapter (fault)",
    "",
    "runs",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "from answer p50 ms",
    "direct p50 ms",
    "direct p99 ms",
    "ratio p50",
]


def rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """The table's rows: inject and recover of each case, beside the direct call."""
    out = []
    for r in results:
        s = dict(r["ms"])
        for kind in ("inject", "recover"):
            if f"{kind}_call" in s:  # written before 8a858e8: the plain name was from the answer
                s[f"{kind}_answer"], s[kind] = s[kind], s.pop(f"{kind}_call")
            out.append(
                [
                    r["config"],
                    f"{r['adapter']} ({r['fault_type']})",
                    kind,
                    s[kind]["n"],
                    s[kind]["p50"],
                    s[kind]["p95"],
                    s[kind]["p99"],
                    s[f"{kind}_answer"]["p50"],
                    s[f"direct_{kind}"]["p50"],
                    s[f"direct_{kind}"]["p99"],
                    r["overhead_ratio_p50"][kind],
                ]
            )
    return out


def render(results: list[dict[str, Any]]) -> str:
    return common.table(HEADERS, rows(results))


def render_split(results: list[dict[str, Any]]) -> str:
    """p50 of each stored instant, in ms from sending (see the module doc)."""
    out = []
    for r in results:
        sp = r.get("split_ms") or {}
        for kind, names in (("inject", SPLIT_INJECT), ("recover", SPLIT_RECOVER)):
            if any(n in sp for n in names):
                out.append(
                    [r["config"], kind]
                    + [f"{n} {sp[n]['p50']}" if n in sp else f"{n} -" for n in names]
                )
    if not out:
        return ""
    return "where the time goes (p50 ms from sending):\n" + common.table(
        ["hub", "", "1", "2", "3", "4", "5"], out
    )


def render_profiles(results: list[dict[str, Any]]) -> str:
    out = []
    for r in results:
        for what, profile in (r.get("profile") or {}).items():
            out.append(profiles.table(profile, f"{r['config']}/{r['adapter']}: {what}"))
    return "\n\n".join(out)


def compare(results: list[dict[str, Any]], ctk: dict[str, Any]) -> str:
    """Hub native inject p50 against ``chaos run`` p50, both from sending, same invocation."""
    theirs = ctk["ms"]["inject"]["p50"]
    lines = [
        f"chaos run ({ctk['chaostoolkit']}), {ctk['runs']} runs: inject p50 {theirs} / p99 "
        f"{ctk['ms']['inject']['p99']} ms, recover p50 {ctk['ms']['recover']['p50']} / p99 "
        f"{ctk['ms']['recover']['p99']} ms"
    ]
    for r in results:
        if r["adapter"] != "native":
            continue
        ours = r["ms"]["inject"]["p50"]
        if ours and theirs:
            lines.append(
                f"hub {r['config']}: inject p50 {ours} ms = {theirs / ours:.1f}x faster than "
                f"chaos run (hub p50 / chaostoolkit p50 = {ours / theirs:.3f})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inject_recover",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=200, help="timed runs per case (default 200)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument(
        "--adapter",
        action="append",
        choices=sorted(subjects.SUBJECTS),
        help="repeatable; default: all three",
    )
    parser.add_argument(
        "--config",
        action="append",
        choices=["production", "embedded"],
        help="repeatable; default: both",
    )
    parser.add_argument("--out", help="results file (default bench/results/inject_recover.json)")
    parser.add_argument(
        "--no-chaostoolkit",
        action="store_true",
        help="skip the Chaos Toolkit comparison (run by default with the native adapter)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles")
    args = parser.parse_args(argv)
    adapters = args.adapter or ["native", "toxiproxy", "docker"]
    configs = args.config or ["production", "embedded"]
    compared = "native" in adapters and not args.no_chaostoolkit
    if compared and not chaostoolkit.available():
        print(
            "chaostoolkit is not installed (pip install -e '.[bench]'); "
            "give --no-chaostoolkit to run without the comparison",
            file=sys.stderr,
        )
        return 2
    profile = not args.no_profile
    if profile and not profiles.available():
        print("py-spy is not installed: no profiles (pip install -e '.[bench]')", file=sys.stderr)
        profile = False
    meta = {"runs": args.runs, "adapters": adapters, "configs": configs}
    out = common.Path(args.out) if args.out else None
    results: list[dict[str, Any]] = []
    for config in configs:
        for adapter in adapters:
            print(f"{config}/{adapter}: {args.runs} runs", file=sys.stderr, flush=True)
            results.append(measure(config, adapter, args.runs, args.warmup, profile))
            # written after every case, so a late failure keeps what was measured
            path = common.save("inject_recover", meta, results, out=out)
    ctk = None
    if compared:
        print(f"chaostoolkit: {args.runs} runs", file=sys.stderr, flush=True)
        load = common.load_average()
        ctk = {**chaostoolkit.measure(args.runs), "load_at_start": load}
        ctk["load_at_end"] = common.load_average()
        path = common.save("inject_recover", meta, results, out=out, extra={"chaostoolkit": ctk})
    print(render(results))
    if split_table := render_split(results):
        print()
        print(split_table)
    if ctk is not None:
        print()
        print(compare(results, ctk))
    if profile:
        print()
        print(render_profiles(results))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
