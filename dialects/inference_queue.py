"""One inference queue per process: a bounded pool of decode slots shared by every call.

Whisper decodes of short windows gain little from a second intra-op thread but a lot from
running two decodes at once (CTranslate2 ``inter_threads``, one thread each). Every recogniser
in a process submits its decodes here: at most ``workers`` run at a time, the rest wait, finals
(a closed turn the caller waits on) before partials (an open turn's look-ahead), and a partial
that has waited ``promote_after_s`` counts as a final, so no call is starved. A transport asks
:meth:`InferenceQueue.full` before taking a new call (SIP 503, LiveKit load report) rather than
letting every call on the box get slow.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(order=True)
class _Job:
    submitted: float
    seq: int
    final: bool = field(compare=False)
    fn: Callable[[], object] = field(compare=False)
    future: Future = field(compare=False)


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of the queue.

    Attributes:
        workers: Decode slots.
        running: Decodes running now.
        waiting: Decodes waiting for a slot.
        done: Decodes finished since the queue started.
        load: (running + waiting) / workers; above 1 new work waits.
    """

    workers: int
    running: int
    waiting: int
    done: int

    @property
    def load(self) -> float:
        return (self.running + self.waiting) / self.workers


class InferenceQueue:
    """A priority executor with ``workers`` threads.

    Args:
        workers: Decodes run at once (match the model's CTranslate2 ``inter_threads``).
        max_waiting: Waiting decodes at which :meth:`full` says no more calls should be taken
            (default: two per worker, i.e. a new turn would wait about two decode times).
        promote_after_s: A partial waiting this long is served like a final.
    """

    def __init__(self, workers: int = 2, max_waiting: int | None = None,
                 promote_after_s: float = 0.5) -> None:
        if workers < 1:
            raise ValueError(f"an inference queue needs at least one worker, not {workers}")
        self.workers = workers
        self.max_waiting = 2 * workers if max_waiting is None else max_waiting
        self.promote_after_s = promote_after_s
        self._jobs: list[_Job] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._running = 0
        self._done = 0
        self._threads = [threading.Thread(target=self._work, name=f"asr-queue-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T], final: bool = True) -> Future:
        """Queue ``fn`` (a decode) and return its future; ``final=False`` for partials."""
        future: Future = Future()
        with self._cond:
            self._jobs.append(_Job(time.perf_counter(), next(self._seq), final, fn, future))
            self._cond.notify()
        return future

    def run(self, fn: Callable[[], T], final: bool = True) -> T:
        """Queue ``fn``, wait for it and return its result (its exception is raised here)."""
        return self.submit(fn, final).result()

    def full(self) -> bool:
        """Whether the box is full: so many decodes wait that a new call should be refused."""
        with self._cond:
            return len(self._jobs) >= self.max_waiting

    def stats(self) -> QueueStats:
        with self._cond:
            return QueueStats(self.workers, self._running, len(self._jobs), self._done)

    def _next(self) -> _Job:
        """The job to run: the oldest final, or partial waiting long enough; else the oldest
        partial. The queue is short (bounded by the calls on the box), so a scan will do."""
        now = time.perf_counter()
        urgent = [j for j in self._jobs
                  if j.final or now - j.submitted >= self.promote_after_s]
        job = min(urgent or self._jobs)
        self._jobs.remove(job)
        return job

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                job = self._next()
                self._running += 1
            try:
                if job.future.set_running_or_notify_cancel():
                    try:
                        job.future.set_result(job.fn())
                    except BaseException as exc:  # handed to the waiting caller
                        job.future.set_exception(exc)
            finally:
                with self._cond:
                    self._running -= 1
                    self._done += 1


_PROCESS_QUEUE: InferenceQueue | None = None
_PROCESS_LOCK = threading.Lock()


def process_queue(workers: int = 2) -> InferenceQueue:
    """The process's queue, created with ``workers`` slots by its first user and shared after
    (a later caller asking another size gets the existing queue: one box, one budget)."""
    global _PROCESS_QUEUE
    with _PROCESS_LOCK:
        if _PROCESS_QUEUE is None:
            _PROCESS_QUEUE = InferenceQueue(workers)
        return _PROCESS_QUEUE
