"""The box's decode budget across real processes: K slots at most, freed by a killed holder,
each process's load published and summed over the live ones."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time

import pytest

from tierline.dialects.decode_slots import BoxLoad, BoxSlots, box_load
from tierline.dialects.inference_queue import InferenceQueue

CTX = mp.get_context("fork")
HOLD_S = 0.05


def _enter(now, most, lock) -> None:
    with lock:
        now.value += 1
        most.value = max(most.value, now.value)


def _leave(now, lock) -> None:
    with lock:
        now.value -= 1


def _decode_in_slots(directory, slots, rounds, now, most, lock, start) -> None:
    box = BoxSlots(directory, slots)
    start.wait()
    for _ in range(rounds):
        with box.acquire():
            _enter(now, most, lock)
            time.sleep(HOLD_S)
            _leave(now, lock)


def _decode_in_queue(directory, slots, jobs, now, most, lock, start) -> None:
    queue = InferenceQueue(workers=2, slots=BoxSlots(directory, slots) if directory else None)
    start.wait()

    def decode() -> None:
        _enter(now, most, lock)
        time.sleep(HOLD_S)
        _leave(now, lock)

    for future in [queue.submit(decode) for _ in range(jobs)]:
        future.result(timeout=30)


def _hold_forever(directory, held) -> None:
    slot = BoxSlots(directory, 1).acquire()
    held.set()
    time.sleep(60)
    slot.release()


def _publish_and_wait(directory, running, waiting, published) -> None:
    BoxSlots(directory, 2).publish(running, waiting)
    published.set()
    time.sleep(60)  # until killed (a killed waiter would break a shared Event's condition)


def _run(target, *args, count: int) -> None:
    """``count`` processes of ``target(*args, start)``, started together."""
    start = CTX.Barrier(count, timeout=30)
    procs = [CTX.Process(target=target, args=(*args, start)) for _ in range(count)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0


def _counters():
    return CTX.Value("i", 0), CTX.Value("i", 0), CTX.Lock()


def test_four_processes_never_hold_more_than_k_slots(tmp_path):
    now, most, lock = _counters()
    _run(_decode_in_slots, tmp_path, 2, 5, now, most, lock, count=4)
    assert most.value == 2  # never three at once, and the two slots were used together


def test_process_queues_with_box_slots_run_no_more_than_k_decodes(tmp_path):
    now, most, lock = _counters()
    _run(_decode_in_queue, tmp_path, 2, 4, now, most, lock, count=2)
    assert most.value == 2
    now, most, lock = _counters()
    _run(_decode_in_queue, None, 2, 4, now, most, lock, count=2)
    assert most.value == 4  # without the budget each process runs its own two


def test_a_killed_holder_frees_its_slot(tmp_path):
    held = CTX.Event()
    holder = CTX.Process(target=_hold_forever, args=(tmp_path, held))
    holder.start()
    try:
        assert held.wait(10)
        box = BoxSlots(tmp_path, 1)
        assert box.try_acquire() is None
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(10)
    slot = box.try_acquire()
    assert slot is not None
    slot.release()


def test_a_waiter_gets_the_slot_when_the_holder_is_killed(tmp_path):
    held = CTX.Event()
    holder = CTX.Process(target=_hold_forever, args=(tmp_path, held))
    holder.start()
    assert held.wait(10)
    got = []
    waiter = threading.Thread(target=lambda: got.append(BoxSlots(tmp_path, 1).acquire()))
    waiter.start()
    time.sleep(0.1)
    assert not got
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    waiter.join(5)
    assert len(got) == 1
    got[0].release()


def test_live_processes_load_is_summed_and_a_dead_ones_ignored(tmp_path):
    procs = []
    for running, waiting in ((1, 3), (2, 5), (1, 1)):
        published = CTX.Event()
        p = CTX.Process(target=_publish_and_wait,
                        args=(tmp_path, running, waiting, published))
        p.start()
        assert published.wait(10)
        procs.append(p)
    try:
        assert box_load(tmp_path) == BoxLoad(3, 4, 9)
        os.kill(procs[1].pid, signal.SIGKILL)
        procs[1].join(10)
        assert (tmp_path / f"proc-{procs[1].pid}.json").exists()  # its file outlives it
        assert box_load(tmp_path) == BoxLoad(2, 2, 4)
        assert not (tmp_path / f"proc-{procs[1].pid}.json").exists()
    finally:
        for p in procs:
            p.kill()
            p.join(10)
    assert box_load(tmp_path) == BoxLoad(0, 0, 0)
    assert box_load(tmp_path / "none") == BoxLoad(0, 0, 0)


def test_a_queue_publishes_its_load_and_serves_finals_first_after_the_box_wait(tmp_path):
    box = BoxSlots(tmp_path, 1)
    outside = box.try_acquire()  # another process's decode holds the box's only slot
    assert outside is not None
    queue = InferenceQueue(workers=1, promote_after_s=60, slots=BoxSlots(tmp_path, 1))
    order: list[str] = []
    first = queue.submit(lambda: order.append("p1"), final=False)
    time.sleep(0.05)  # the worker now waits for the box with only the partial queued
    second = queue.submit(lambda: order.append("f1"))
    assert box_load(tmp_path) == BoxLoad(1, 0, 2)
    outside.release()
    for f in (first, second):
        f.result(timeout=5)
    assert order == ["f1", "p1"]
    deadline = time.monotonic() + 5  # the worker publishes just after handing the result
    while box_load(tmp_path) != BoxLoad(1, 0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert box_load(tmp_path) == BoxLoad(1, 0, 0)


def test_a_queue_is_idle_only_while_the_box_has_a_free_slot(tmp_path):
    queue = InferenceQueue(workers=2, slots=BoxSlots(tmp_path, 1))
    assert queue.idle()
    outside = BoxSlots(tmp_path, 1).try_acquire()  # the box's only slot, held by a neighbour
    assert outside is not None
    assert not queue.idle()  # this process's workers are free, the box is not
    outside.release()
    assert queue.idle()
    assert InferenceQueue(workers=1).idle()


def test_at_least_one_slot():
    with pytest.raises(ValueError):
        BoxSlots("/nonexistent-never-created", 0)
