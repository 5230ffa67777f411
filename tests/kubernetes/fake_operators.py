"""The operators' part, played against the fake API server's store.

:class:`LitmusOperator` does what ``reference/backends-wire.md`` §4.4 to 4.6 says the Litmus
chaos-operator, runner and experiment do: an active ChaosEngine gets the finalizer
``chaosengine.litmuschaos.io/finalizer``, ``engineStatus: initialized``, a runner pod
``<engine>-runner`` labelled ``chaosUID=<uid>`` and a ChaosResult ``<engine>-<experiment>``
in phase ``Running`` with verdict ``Awaited``; when the experiment ends it writes
``Completed`` and the verdict, and the operator sets ``engineStatus: completed`` and flips
``engineState`` to ``stop``; ``engineState: stop`` while initialized (or a deletion)
force-deletes the chaos pods, writes ``Stopped``, marks the experiments
``Forcefully Aborted`` and removes the finalizer. A missing ChaosExperiment gives
``ChaosExperiment Not Found``.

:class:`ChaosMeshController` does what ``reference/platforms-litmus-chaosmesh.md`` §4.2
says the controller-manager does: finalizer ``chaos-mesh/records``; one record per
selected pod (or pod/container), chosen by ``mode``/``value``; the desired phase (``Stop``
when deleting, when the duration is over or when the pause annotation is set; ``Run``
otherwise and always for one-shot actions); records driven toward it with ``Apply`` and
``Recover`` events; the four conditions derived from the records; the finalizer removed
once every record is recovered — unless the test made it stuck.

Both are threads that reconcile every few milliseconds; tests steer them through their
attributes (the verdict a Litmus experiment reaches, how long it runs, which chaos
objects fail to apply, whether the records finalizer is stuck).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fake_store import CHAOS_MESH, LITMUS, ApiError, Kind, Obj, Store, now_iso

ENGINE, EXPERIMENT, RESULT = LITMUS
LITMUS_FINALIZER = "chaosengine.litmuschaos.io/finalizer"
RECORDS_FINALIZER = "chaos-mesh/records"
PAUSE = "experiment.chaos-mesh.org/pause"
ONE_SHOT = {("PodChaos", "pod-kill"), ("PodChaos", "container-kill")}


class _Loop:
    """A daemon thread calling ``reconcile`` until stopped."""

    interval = 0.01

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[BaseException] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.reconcile()
            except ApiError:
                pass  # an object deleted under our feet: the next pass sees it gone
            except Exception as exc:  # surfaced by the fixtures
                self.errors.append(exc)

    def reconcile(self) -> None:
        raise NotImplementedError


@dataclass
class Outcome:
    """How one Litmus experiment ends: its verdict after ``run_seconds`` (None: runs until stopped)."""

    verdict: str = "Pass"  # Pass | Fail | Error
    run_seconds: float | None = None
    probe_success: str = "100"


class LitmusOperator(_Loop):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.default = Outcome()
        self.outcomes: dict[str, Outcome] = {}  # engine name -> outcome
        self.started: dict[str, float] = {}
        self.stuck = False  # never remove the engine finalizer

    def outcome(self, engine: str) -> Outcome:
        return self.outcomes.get(engine, self.default)

    def reconcile(self) -> None:
        for engine in self.store.all(ENGINE):
            self._engine(engine)

    def _engine(self, engine: Obj) -> None:
        meta = engine["metadata"]
        name = meta["name"]
        spec, status = engine.get("spec") or {}, engine.get("status") or {}
        state = spec.get("engineState") or "active"
        experiment = ((spec.get("experiments") or [{}])[0]).get("name", "")
        result_name = f"{name}-{experiment}"
        if meta.get("deletionTimestamp") or (
            state == "stop" and status.get("engineStatus") == "initialized"
        ):
            self._abort(engine, result_name, deleting=bool(meta.get("deletionTimestamp")))
            return
        if state == "active" and not status.get("engineStatus"):
            self._start(engine, experiment, result_name)
            return
        if state == "active" and status.get("engineStatus") == "initialized":
            outcome = self.outcome(name)
            started = self.started.setdefault(name, time.monotonic())
            if (
                outcome.run_seconds is not None
                and time.monotonic() - started >= outcome.run_seconds
            ):
                self._complete(engine, result_name, outcome)

    def _start(self, engine: Obj, experiment: str, result_name: str) -> None:
        meta = engine["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if self.store.find(EXPERIMENT, ns, experiment) is None:

            def not_found(o: Obj) -> Obj:
                o["status"] = {
                    "engineStatus": "initialized",
                    "experiments": [
                        {
                            "name": experiment,
                            "status": "ChaosExperiment Not Found",
                            "verdict": "Awaited",
                        }
                    ],
                }
                return o

            self.store.update(ENGINE, ns, name, not_found)
            return

        def initialized(o: Obj) -> Obj:
            o["metadata"]["finalizers"] = [LITMUS_FINALIZER]
            o["status"] = {
                "engineStatus": "initialized",
                "experiments": [
                    {
                        "name": experiment,
                        "runner": f"{name}-runner",
                        "status": "Running",
                        "verdict": "Awaited",
                        "lastUpdateTime": now_iso(),
                    }
                ],
            }
            return o

        self.store.update(ENGINE, ns, name, initialized)
        self.store.add_pod(
            ns,
            f"{name}-runner",
            {"chaosUID": meta["uid"], "app.kubernetes.io/component": "chaos-runner"},
        )
        self.started[name] = time.monotonic()
        self.store.create(
            RESULT,
            ns,
            {
                "metadata": {"name": result_name, "labels": {"chaosUID": meta["uid"]}},
                "spec": {"engine": name, "experiment": experiment, "instance": ""},
                "status": {
                    "experimentStatus": {
                        "phase": "Running",
                        "verdict": "Awaited",
                        "probeSuccessPercentage": "Awaited",
                    },
                    "history": {
                        "passedRuns": 0,
                        "failedRuns": 0,
                        "stoppedRuns": 0,
                        "targets": [
                            {"name": p, "kind": "deployment", "chaosStatus": "injected"}
                            for p in self._targets(engine)
                        ],
                    },
                },
            },
        )

    def _targets(self, engine: Obj) -> list[str]:
        app = (engine.get("spec") or {}).get("appinfo") or {}
        label = app.get("applabel") or ""
        return sorted(
            n
            for (ns, n), p in self.store.pods.items()
            if ns == app.get("appns")
            and label
            and all(
                p["metadata"]["labels"].get(k) == v
                for k, _, v in (t.partition("=") for t in label.split(","))
            )
        )

    def _set_result(
        self, ns: str, name: str, phase: str, verdict: str, probe: str, **extra: Any
    ) -> None:
        def change(o: Obj) -> Obj:
            o["status"]["experimentStatus"] = {
                "phase": phase,
                "verdict": verdict,
                "probeSuccessPercentage": probe,
                **extra,
            }
            history = o["status"].setdefault("history", {})
            counter = {"Pass": "passedRuns", "Fail": "failedRuns", "Stopped": "stoppedRuns"}.get(
                verdict
            )
            if counter:
                history[counter] = int(history.get(counter, 0)) + 1
            for t in history.get("targets") or []:
                t["chaosStatus"] = "reverted"
            return o

        if self.store.find(RESULT, ns, name) is not None:
            self.store.update(RESULT, ns, name, change)

    def _remove_chaos_pods(self, engine: Obj) -> None:
        uid = engine["metadata"]["uid"]
        self.store.remove_pods(lambda p: p["metadata"]["labels"].get("chaosUID") == uid)

    def _complete(self, engine: Obj, result_name: str, outcome: Outcome) -> None:
        ns, name = engine["metadata"]["namespace"], engine["metadata"]["name"]
        if outcome.verdict == "Error":
            self._set_result(
                ns,
                result_name,
                "Error",
                "Error",
                "0",
                errorOutput={
                    "errorCode": "STATUS_CHECKS_ERROR",
                    "reason": "application pods are not in running state",
                },
            )
        else:
            phase = "Completed" if outcome.verdict == "Pass" else "Completed_With_Probe_Failure"
            self._set_result(ns, result_name, phase, outcome.verdict, outcome.probe_success)
        self._remove_chaos_pods(engine)

        def completed(o: Obj) -> Obj:
            o["spec"]["engineState"] = "stop"
            o["status"]["engineStatus"] = "completed"
            for e in o["status"].get("experiments") or []:
                e["status"], e["verdict"] = "Completed", outcome.verdict
            return o

        self.store.update(ENGINE, ns, name, completed)

    def _abort(self, engine: Obj, result_name: str, *, deleting: bool) -> None:
        ns, name = engine["metadata"]["namespace"], engine["metadata"]["name"]
        status = engine.get("status") or {}
        if status.get("engineStatus") == "initialized":
            self._remove_chaos_pods(engine)
            result = self.store.find(RESULT, ns, result_name)
            if result and result["status"]["experimentStatus"]["phase"] == "Running":
                self._set_result(ns, result_name, "Stopped", "Stopped", "0")

        def stopped(o: Obj) -> Obj:
            st = o.setdefault("status", {})
            if st.get("engineStatus") == "initialized":
                st["engineStatus"] = "stopped"
                for e in st.get("experiments") or []:
                    e["status"], e["verdict"] = "Forcefully Aborted", "Stopped"
            if not self.stuck:
                o["metadata"]["finalizers"] = [
                    f for f in o["metadata"].get("finalizers") or [] if f != LITMUS_FINALIZER
                ]
            return o

        self.store.update(ENGINE, ns, name, stopped)


# -- Chaos Mesh -----------------------------------------------------------------------------------


def _duration_seconds(text: str | None) -> float | None:
    if not text:
        return None
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "").isdigit():
            return float(text[: -len(unit)]) * units[unit]
    raise ValueError(f"bad duration {text!r}")


def _parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


class ChaosMeshController(_Loop):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.fail_apply: set[str] = set()  # object names whose Apply fails
        self.stuck_finalizer = False
        #: targets under an injected record, by object name, as the nodes would see them
        self.effects: dict[str, set[str]] = {}

    def reconcile(self) -> None:
        for kind in CHAOS_MESH:
            if kind.resource not in self.store.kinds:
                continue
            for obj in self.store.all(kind):
                self._object(kind, obj)

    def _select(self, obj: Obj) -> list[str]:
        spec = obj.get("spec") or {}
        selector = spec.get("selector") or {}
        namespaces = selector.get("namespaces") or [obj["metadata"]["namespace"]]
        labels = selector.get("labelSelectors") or {}
        pods = sorted(
            f"{ns}/{name}"
            for (ns, name), p in self.store.pods.items()
            if ns in namespaces
            and p["status"].get("phase") == "Running"
            and all(p["metadata"]["labels"].get(k) == v for k, v in labels.items())
        )
        mode, value = spec.get("mode") or "all", spec.get("value")
        if mode == "one":
            pods = pods[:1]
        elif mode == "fixed":
            pods = pods[: int(value)]
        elif mode in ("fixed-percent", "random-max-percent"):
            pods = pods[: max(1, len(pods) * int(value) // 100)] if pods else []
        containers = spec.get("containerNames") or []
        return [f"{p}/{c}" for p in pods for c in containers] if containers else pods

    def _desired(self, kind: Kind, obj: Obj) -> str:
        meta, spec = obj["metadata"], obj.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return "Stop"
        if (kind.kind, spec.get("action")) in ONE_SHOT:
            return "Run"
        duration = _duration_seconds(spec.get("duration"))
        if (
            duration is not None
            and time.time() >= _parse_time(meta["creationTimestamp"]) + duration
        ):
            return "Stop"
        if (meta.get("annotations") or {}).get(PAUSE) == "true":
            return "Stop"
        return "Run"

    def _object(self, kind: Kind, obj: Obj) -> None:
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        desired = self._desired(kind, obj)
        one_shot = (kind.kind, (obj.get("spec") or {}).get("action")) in ONE_SHOT

        def change(o: Obj) -> Obj:
            m = o["metadata"]
            if not m.get("deletionTimestamp") and RECORDS_FINALIZER not in (
                m.get("finalizers") or []
            ):
                m["finalizers"] = [*(m.get("finalizers") or []), RECORDS_FINALIZER]
            status = o.setdefault("status", {})
            experiment = status.setdefault("experiment", {})
            records = experiment.get("containerRecords")
            if records is None:
                records = [
                    {
                        "id": t,
                        "selectorKey": ".",
                        "phase": "Not Injected",
                        "injectedCount": 0,
                        "recoveredCount": 0,
                        "events": [],
                    }
                    for t in self._select(o)
                ]
                experiment["containerRecords"] = records
            experiment["desiredPhase"] = desired
            for r in records:
                want = "Injected" if desired == "Run" else "Not Injected"
                if r["phase"] == want:
                    continue
                if want == "Injected":
                    if name in self.fail_apply:
                        if not r["events"] or r["events"][-1]["type"] != "Failed":
                            r["events"].append(
                                {
                                    "type": "Failed",
                                    "operation": "Apply",
                                    "message": "fake: the chaos daemon refused to apply",
                                    "timestamp": now_iso(),
                                }
                            )
                        continue
                    r["phase"], r["injectedCount"] = "Injected", r["injectedCount"] + 1
                    r["events"].append(
                        {"type": "Succeeded", "operation": "Apply", "timestamp": now_iso()}
                    )
                    if not one_shot:
                        self.effects.setdefault(name, set()).add(r["id"])
                else:
                    r["phase"], r["recoveredCount"] = "Not Injected", r["recoveredCount"] + 1
                    r["events"].append(
                        {"type": "Succeeded", "operation": "Recover", "timestamp": now_iso()}
                    )
                    self.effects.get(name, set()).discard(r["id"])
            injected = [r["phase"] == "Injected" for r in records]
            status["conditions"] = [
                {"type": "Selected", "status": str(bool(records))},
                {"type": "AllInjected", "status": str(bool(records) and all(injected))},
                {"type": "AllRecovered", "status": str(not any(injected))},
                {
                    "type": "Paused",
                    "status": str((m.get("annotations") or {}).get(PAUSE) == "true"),
                },
            ]
            if m.get("deletionTimestamp") and not any(injected) and not self.stuck_finalizer:
                m["finalizers"] = [f for f in m.get("finalizers") or [] if f != RECORDS_FINALIZER]
            return o

        self.store.update(kind, ns, name, change)
