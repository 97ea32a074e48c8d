"""The process's inference queue: bounded slots, finals before partials, no starvation."""

from __future__ import annotations

import threading

import pytest

from tierline.dialects.inference_queue import InferenceQueue, process_queue


def _blocked(queue: InferenceQueue) -> threading.Event:
    """Occupy every worker of ``queue`` until the returned event is set."""
    release = threading.Event()
    started = threading.Barrier(queue.workers + 1, timeout=5)

    def hold() -> None:
        started.wait()
        release.wait(5)

    for _ in range(queue.workers):
        queue.submit(hold)
    started.wait()
    return release


def test_finals_are_served_before_partials_that_came_first():
    queue = InferenceQueue(workers=1, promote_after_s=60)
    release = _blocked(queue)
    order: list[str] = []
    futures = [queue.submit(lambda name=name: order.append(name), final=final)
               for name, final in (("p1", False), ("f1", True), ("p2", False), ("f2", True))]
    release.set()
    for f in futures:
        f.result(timeout=5)
    assert order == ["f1", "f2", "p1", "p2"]


def test_a_partial_that_waited_long_enough_is_not_starved():
    queue = InferenceQueue(workers=1, promote_after_s=0.0)
    release = _blocked(queue)
    order: list[str] = []
    futures = [queue.submit(lambda name=name: order.append(name), final=final)
               for name, final in (("p1", False), ("f1", True))]
    release.set()
    for f in futures:
        f.result(timeout=5)
    assert order == ["p1", "f1"]  # promoted at once: first come, first served


def test_the_box_is_full_when_enough_decodes_wait():
    queue = InferenceQueue(workers=1, max_waiting=2)
    release = _blocked(queue)
    assert not queue.full()
    waiting = [queue.submit(lambda: None) for _ in range(2)]
    assert queue.full()
    stats = queue.stats()
    assert (stats.running, stats.waiting, stats.load) == (1, 2, 3.0)
    release.set()
    for f in waiting:
        f.result(timeout=5)
    assert not queue.full()


def test_decodes_run_in_parallel_up_to_the_worker_count():
    queue = InferenceQueue(workers=2)
    together = threading.Barrier(2, timeout=5)
    # both jobs pass the barrier only if they run at the same time
    futures = [queue.submit(together.wait) for _ in range(2)]
    assert sorted(f.result(timeout=5) for f in futures) == [0, 1]


def test_a_failing_decode_raises_in_its_caller_and_the_queue_goes_on():
    queue = InferenceQueue(workers=1)

    def boom() -> None:
        raise RuntimeError("decoder broke")

    with pytest.raises(RuntimeError, match="decoder broke"):
        queue.run(boom)
    assert queue.run(lambda: 42) == 42


def test_one_queue_per_process():
    assert process_queue(2) is process_queue(3)
    with pytest.raises(ValueError):
        InferenceQueue(workers=0)
