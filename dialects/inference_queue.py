"""One inference queue per process: a bounded pool of decode slots shared by every call.

Whisper decodes of short windows gain little from a second intra-op thread but a lot from
running two decodes at once (CTranslate2 ``inter_threads``, one thread each). Every recogniser
in a process submits its decodes here: at most ``workers`` run at a time, the rest wait, finals
(a closed turn the caller waits on) before partials (an open turn's look-ahead), and a partial
that has waited ``promote_after_s`` counts as a final, so no call is starved. A transport asks
:meth:`InferenceQueue.full` before taking a new call (SIP 503, LiveKit load report) rather than
letting every call on the box get slow.

When every call runs in a process of its own (the LiveKit worker), each process's queue takes
a box-wide :class:`~tierline.dialects.decode_slots.BoxSlots` (``slots=``): a worker thread
then runs a decode only while it holds one of the box's slots, and publishes its process's
decodes running and waiting for the worker's load report.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tierline.dialects.decode_slots import BoxSlots, Slot

T = TypeVar("T")
log = logging.getLogger(__name__)

WAITING_PER_WORKER = 2
"""Waiting decodes per slot at which the box is full (a new turn would wait about two decode
times): :meth:`InferenceQueue.full` here, the LiveKit worker's load report for a box."""


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
        slots: The box's decode slots shared with other processes: a decode runs only while
            its worker holds one, and every change of this queue's load is published there.
            None (the default): this queue's ``workers`` are the only bound.
    """

    def __init__(self, workers: int = 2, max_waiting: int | None = None,
                 promote_after_s: float = 0.5, slots: BoxSlots | None = None) -> None:
        if workers < 1:
            raise ValueError(f"an inference queue needs at least one worker, not {workers}")
        self.workers = workers
        self.max_waiting = WAITING_PER_WORKER * workers if max_waiting is None else max_waiting
        self.promote_after_s = promote_after_s
        self.slots = slots
        self._claiming = 0  # workers waiting for a box slot, each for one of the waiting jobs
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
            self._publish()
            self._cond.notify()
        return future

    def run(self, fn: Callable[[], T], final: bool = True) -> T:
        """Queue ``fn``, wait for it and return its result (its exception is raised here)."""
        return self.submit(fn, final).result()

    def full(self) -> bool:
        """Whether the box is full: so many decodes wait that a new call should be refused."""
        with self._cond:
            return len(self._jobs) >= self.max_waiting

    def idle(self) -> bool:
        """Whether a decode submitted now would start at once: a worker of this queue is free
        and, with box slots, so is a slot of the box (other processes may hold them all)."""
        with self._cond:
            if self._running + len(self._jobs) >= self.workers:
                return False
        return self.slots is None or self.slots.free()

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

    def _publish(self) -> None:
        """Tell the box this process's load (called holding ``_cond``, so writes keep order)."""
        if self.slots is not None:
            self.slots.publish(self._running, len(self._jobs))

    def _take(self) -> tuple[_Job, Slot | None]:
        """Wait for a job (and, with box slots, for a slot) and take the one to run now."""
        with self._cond:
            while len(self._jobs) <= self._claiming:
                self._cond.wait()
            if self.slots is None:
                self._running += 1
                return self._next(), None
            self._claiming += 1
        slot: Slot | None = None
        try:
            slot = self.slots.acquire()  # outside the lock: other processes hold the box
        except OSError as exc:  # a broken slot directory must not stop the calls' decodes
            log.error("decoding without a box slot: %s", exc)
        with self._cond:
            self._claiming -= 1
            # the best job now, not when the wait began: finals that came meanwhile go first
            job = self._next()
            self._running += 1
            self._publish()
        return job, slot

    def _work(self) -> None:
        while True:
            job, slot = self._take()
            try:
                if job.future.set_running_or_notify_cancel():
                    try:
                        with slot or contextlib.nullcontext():  # freed as soon as fn is done
                            result = job.fn()
                        job.future.set_result(result)
                    except BaseException as exc:  # handed to the waiting caller
                        job.future.set_exception(exc)
            finally:
                if slot is not None:  # a cancelled job's
                    slot.release()
                with self._cond:
                    self._running -= 1
                    self._done += 1
                    self._publish()


_PROCESS_QUEUE: InferenceQueue | None = None
_PROCESS_LOCK = threading.Lock()


def process_queue(workers: int = 2, slots: BoxSlots | None = None) -> InferenceQueue:
    """The process's queue, created with ``workers`` threads (and the box's ``slots``, if
    given) by its first user and shared after (a later caller asking another size gets the
    existing queue: one box, one budget)."""
    global _PROCESS_QUEUE
    with _PROCESS_LOCK:
        if _PROCESS_QUEUE is None:
            _PROCESS_QUEUE = InferenceQueue(workers, slots=slots)
        return _PROCESS_QUEUE
