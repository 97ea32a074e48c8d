"""One box's decode budget, shared by processes: K slots as locked files, and each process's load.

An :class:`~tierline.dialects.inference_queue.InferenceQueue` bounds the decodes of one process.
A server that runs each call in a process of its own (the LiveKit worker's job processes)
needs a bound for the box: :class:`BoxSlots` is ``K`` files in a directory, and a decode runs
only while its thread holds an exclusive ``flock`` on one of them. The kernel drops the lock
when the process dies, so a crashed call never leaks a slot. Waiters queue on a gate file
(only the thread holding the gate polls the slots), so a busy box is not spun on.

Each process also publishes its decodes running and waiting in a stats file of its own,
written whole on every change (a temporary file renamed over it), next to a lock file it holds
for its life: :func:`box_load` sums the files of live processes and skips those whose lock is
free (the process died, whatever its pid is now used for).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GATE = "gate"
STATS_GLOB = "proc-*.json"


@dataclass(frozen=True)
class BoxLoad:
    """Decodes on the box, summed over the live processes' stats files.

    Attributes:
        processes: Live processes that published their load.
        running: Decodes running (at most the box's slots).
        waiting: Decodes waiting for a slot.
    """

    processes: int
    running: int
    waiting: int


class Slot:
    """One held box slot; :meth:`release` (or the end of a ``with`` block) frees it."""

    def __init__(self, fd: int, index: int) -> None:
        self.index = index
        self._fd: int | None = fd

    def release(self) -> None:
        """Free the slot (closing the file drops its lock); a second call does nothing."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class BoxSlots:
    """``slots`` decode slots in ``directory``, shared by every process that opens them.

    Args:
        directory: The box's slot directory (created if missing); every process of one
            budget must name the same directory and the same ``slots``.
        slots: Decodes the box runs at once.
        poll_s: How often the thread at the head of the queue tries the slots again (5 ms:
            under 2 % of a core while it waits, measured here).
    """

    def __init__(self, directory: str | Path, slots: int, poll_s: float = 0.005) -> None:
        if slots < 1:
            raise ValueError(f"a decode budget needs at least one slot, not {slots}")
        self.directory = Path(directory)
        self.slots = slots
        self.poll_s = poll_s
        self.directory.mkdir(parents=True, exist_ok=True)
        self._paths = [self.directory / f"slot-{i}" for i in range(slots)]
        self._publish_lock = threading.Lock()
        self._alive: tuple[int, int] | None = None  # (pid, fd of the held life lock)

    def try_acquire(self) -> Slot | None:
        """A free slot, or None when all are held."""
        return self._take(lambda fds: _lock_one(fds))

    def acquire(self) -> Slot:
        """A slot, waiting as long as the box is full."""
        return self._take(self._wait_for_one)

    def free(self) -> bool:
        """Whether a slot is free now (taken and let go at once)."""
        slot = self.try_acquire()
        if slot is None:
            return False
        slot.release()
        return True

    def _take(self, lock: Callable[[list[int]], int | None]) -> Slot | None:
        """Open the slot files (each open a lock of its own, even within this process), lock
        one with ``lock`` and keep only that one open."""
        fds: list[int] = []
        index = None
        try:
            for path in self._paths:
                fds.append(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            index = lock(fds)
        finally:
            for i, fd in enumerate(fds):
                if i != index:
                    os.close(fd)
        return None if index is None else Slot(fds[index], index)

    def _wait_for_one(self, fds: list[int]) -> int:
        index = _lock_one(fds)
        if index is not None:
            return index
        gate = os.open(self.directory / GATE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(gate, fcntl.LOCK_EX)  # the kernel queues the other waiters here
            while (index := _lock_one(fds)) is None:
                time.sleep(self.poll_s)
            return index
        finally:
            os.close(gate)

    def publish(self, running: int, waiting: int) -> None:
        """Write this process's decodes running and waiting (never raises: a stats file that
        cannot be written must not cost a decode; logged)."""
        try:
            with self._publish_lock:
                pid = self._hold_life_lock()
                data = json.dumps({"pid": pid, "running": running, "waiting": waiting,
                                   "slots": self.slots, "time": time.time()})
                tmp = self.directory / f".proc-{pid}.json.tmp"
                tmp.write_text(data, encoding="utf-8")
                os.replace(tmp, self.directory / f"proc-{pid}.json")
        except OSError as exc:
            log.warning("decode stats not written to %s: %s", self.directory, exc)

    def _hold_life_lock(self) -> int:
        """Lock this process's life file (once per process, again after a fork). A reader
        may have removed a dead namesake's file meanwhile: lock the file the path names."""
        pid = os.getpid()
        if self._alive is None or self._alive[0] != pid:
            path = self.directory / f"proc-{pid}.lock"
            while True:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_ino == os.fstat(fd).st_ino:
                        break
                os.close(fd)
            self._alive = (pid, fd)
        return pid


def _lock_one(fds: list[int]) -> int | None:
    """The index of the first of ``fds`` locked now, or None when all are held."""
    for index, fd in enumerate(fds):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        return index
    return None


def _alive(stats: Path) -> bool:
    """Whether the process of a stats file lives (holds its life file); a dead one's files
    are removed, under the life file's lock so that a new process of the same pid waits."""
    lock = stats.with_suffix(".lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return True
    try:
        for path in (stats, lock):
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        os.close(fd)
    return False


def box_load(directory: str | Path) -> BoxLoad:
    """The decodes on the box: the stats files of ``directory``'s live processes, summed
    (none when the directory does not exist; a file of a dead process is removed)."""
    processes = running = waiting = 0
    directory = Path(directory)
    if not directory.is_dir():
        return BoxLoad(0, 0, 0)
    for stats in directory.glob(STATS_GLOB):
        if not _alive(stats):
            continue
        try:
            data = json.loads(stats.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # removed or replaced as we read it
        processes += 1
        running += int(data.get("running", 0))
        waiting += int(data.get("waiting", 0))
    return BoxLoad(processes, running, waiting)
