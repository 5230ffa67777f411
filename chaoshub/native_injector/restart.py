"""What a previous run of the injector left behind, dealt with at start.

Every record still live on disk is either re-adopted (its lease still holds and the fault
is still in effect) or recovered, with the reason recorded: applied halfway when the
injector died, lease lapsed while it was down, or gone meanwhile. Then every iptables rule
tagged for one of this injector's executions that is no longer live is removed, in the
host's namespace and in every named one; rules tagged by executions this injector never
knew are reported as leftovers and left alone (another injector may own them).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import suppress

from chaoshub.native_injector import system
from chaoshub.native_injector.engine import Injector
from chaoshub.native_injector.faults import FAULTS, netfilter
from chaoshub.native_injector.problems import Problem
from chaoshub.native_injector.state import APPLYING

log = logging.getLogger("chaoshub.injector.restart")


def restore(injector: Injector) -> None:
    """Re-adopt what still holds within its lease; recover everything else."""
    now = time.time()
    for record in injector.store.load_all():
        injector.adopt_record(record)
        if not record.live:
            continue
        fault = FAULTS.get(record.fault)
        if fault is None:
            log.error("record of an unknown fault", extra={"fault": record.fault})
            continue
        if record.state == APPLYING:
            reason = "injector restarted while applying: reverted"
        elif record.expires_at <= now:
            reason = "lease lapsed while the injector was down"
        else:
            try:
                present, native = fault.present(record, injector.ctx)
            except Exception as exc:  # one target that cannot be asked must not stop the rest
                present, native = False, f"cannot tell whether it holds: {exc}"
            if present:
                record.native = f"re-adopted after restart: {native}"
                injector.store.save(record)
                log.info("re-adopted", extra={"execution_id": record.execution_id})
                continue
            reason = f"gone after restart ({native})"
        with suppress(Problem):  # logged; the lease watcher retries
            injector.revert(record, reason, "restart")
    injector.leftovers = sweep_rules(injector)


def sweep_rules(injector: Injector) -> list[str]:
    """Remove this injector's stale tagged rules; describe the ones of unknown executions."""
    namespaces: list[str | None] = [None]
    if os.path.isdir("/run/netns"):
        namespaces += sorted(os.listdir("/run/netns"))
    live = {netfilter.comment(r.execution_id) for r in injector.live()}
    ours = {netfilter.comment(e) for e in injector.records}
    leftovers = []
    for netns in namespaces:
        where = netns or "host"
        try:
            found = {text for _, text in netfilter.rules(netns)}
        except system.CommandFailed:
            continue  # a namespace that went away meanwhile
        for text in sorted(found - live):
            if text in ours:
                netfilter.delete_rules(netns, text)
                log.warning("removed leftover rule", extra={"comment": text, "netns": where})
            else:
                leftovers.append(f"{where}: iptables rule {text}")
                log.warning(
                    "rule of an execution unknown here", extra={"comment": text, "netns": where}
                )
    return leftovers
