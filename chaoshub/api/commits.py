"""Group commit: the writes of mutations that arrive together, in one transaction.

A start that has passed every check (:func:`chaoshub.services.runs.prepare`) has only rows
left to write: the run, its targets, its events, its audit entry. Written one start at a
time, each costs a connection, a transaction and a statement per table; under load, the
requests queue on those round trips. Here the writes waiting when a transaction begins
all go into it, and the statements are one per table for all of them:

- alone, a write begins at once (nothing waits for company); while a transaction is being
  written, the writes that arrive wait for it to end and then go together in the next;
- each write is whole or not at all: if the transaction is refused before its commit (a
  write's error, a constraint at the flush), each of its writes is tried again alone in a
  transaction of its own, and the one that fails alone is refused alone (its caller gets
  its own error; nothing of it is stored); if the commit itself fails, the database may
  have applied it, so nothing is tried again and every caller of that transaction gets the
  error (a run that did land is sent on by the reconciler, as any stored pending run);
- after the commit, the same thread hands every run to its worker (the broker) and
  publishes the batch's notices on the bus in one round trip, before any caller is
  answered: the promise "stored, then sent" is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from anyio import to_thread
from sqlalchemy.orm import Session

from chaoshub import metrics
from chaoshub.runtime import Runtime

if TYPE_CHECKING:
    from chaoshub.api.resolvers import Outcome

log = logging.getLogger("chaoshub.api.commits")

#: at most this many writes go into one transaction
MAX_BATCH = 256

#: a write adds its rows to the session and returns what builds its outcome once they
#: are flushed
Write = Callable[[Session], Callable[[], "Outcome"]]


class _CommitFailed(Exception):
    """The commit itself failed: whether the database applied it is not known."""


@dataclass
class _Waiting:
    write: Write
    answer: asyncio.Future[Outcome]


class GroupCommit:
    """One API process's group commit; only its event loop's thread calls :meth:`run`."""

    def __init__(self, runtime: Runtime, dispatch: Callable[[str, str, str], None]) -> None:
        self.runtime = runtime
        self.dispatch = dispatch
        self._waiting: list[_Waiting] = []
        self._flushing: asyncio.Task[None] | None = None
        #: how many transactions and writes so far (what the coalescing achieved)
        self.transactions = 0
        self.writes = 0

    async def run(self, write: Write) -> Outcome:
        """Commit ``write`` (with whatever writes wait beside it); its outcome, or the
        exception it raised when tried alone."""
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(write, answer))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await answer

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                results: list[Outcome | Exception]
                try:
                    results = await to_thread.run_sync(self._commit, [w.write for w in batch])
                except Exception as exc:  # the thread itself failed: every caller is told
                    results = [exc] * len(batch)
                except BaseException:  # cancelled (the API is stopping): told below
                    self._waiting = batch + self._waiting
                    raise
                for waiting, result in zip(batch, results, strict=True):
                    if waiting.answer.done():  # its caller went away; the write stands
                        continue
                    if isinstance(result, Exception):
                        waiting.answer.set_exception(result)
                    else:
                        waiting.answer.set_result(result)
        finally:
            self._flushing = None
            for waiting in self._waiting:  # only when cancelled: nobody is left waiting
                if not waiting.answer.done():
                    waiting.answer.set_exception(RuntimeError("the API is stopping"))
            if self._waiting:
                self._waiting = []

    def _commit(self, writes: list[Write]) -> list[Outcome | Exception]:
        """In a worker thread: all of ``writes`` in one transaction, or each alone."""
        results: list[Outcome | Exception]
        try:
            results = list(self._transaction(writes))
        except _CommitFailed as failed:
            # the database may have applied it: trying again could store every write twice,
            # so each caller is told; a run that did land is found and sent by the reconciler
            log.warning("a commit of %d writes failed: %s", len(writes), failed.__cause__)
            cause = failed.__cause__
            return [cause if isinstance(cause, Exception) else failed] * len(writes)
        except Exception as exc:
            if len(writes) == 1:
                return [exc]
            log.info("a group of %d writes failed (%s); each is tried alone", len(writes), exc)
            results = []
            for write in writes:
                try:
                    results.extend(self._transaction([write]))
                except _CommitFailed as failed:
                    cause = failed.__cause__
                    results.append(cause if isinstance(cause, Exception) else failed)
                except Exception as alone:
                    results.append(alone)
        self._send([r for r in results if not isinstance(r, Exception)])
        return results

    def _transaction(self, writes: list[Write]) -> list[Outcome]:
        """The writes in one transaction. A refusal before the commit (a write's own error,
        a constraint at the flush) rolls everything back; a failing commit itself is
        :class:`_CommitFailed`, whose outcome is unknown."""
        with self.runtime.session() as s:
            finishers = [write(s) for write in writes]
            s.flush()
            outcomes = [finish() for finish in finishers]
            s.flush()
            try:
                s.commit()
            except Exception as exc:
                raise _CommitFailed() from exc
        self.transactions += 1
        self.writes += len(writes)
        metrics.GROUP_COMMITS.inc()
        metrics.GROUP_COMMIT_WRITES.inc(len(writes))
        return outcomes

    def _send(self, outcomes: list[Outcome]) -> None:
        """Hand each stored run to its worker, then publish every notice in one go; a
        failure here costs a pick-up by the reconciler, never a run."""
        for outcome in outcomes:
            for run_id, adapter, reason in outcome.dispatches:
                try:
                    self.dispatch(run_id, adapter, reason)
                except Exception as exc:  # the run is stored; the reconciler will send it
                    log.warning("sending run %s to a worker failed: %s", run_id, exc)
        notices = [n for o in outcomes for n in o.notices]
        if notices:
            self.runtime.bus.publish_many(notices)
