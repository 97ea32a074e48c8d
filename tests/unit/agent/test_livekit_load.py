"""The LiveKit worker's load report: calls, CPU and the decodes waiting for the box's budget,
the last read from the stats files of live job processes (a dead one's ignored)."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from types import SimpleNamespace

import pytest

from tierline.agent.livekit import worker
from tierline.dialects.decode_slots import BoxSlots

CTX = mp.get_context("fork")


class _Cpu:
    def __init__(self) -> None:
        self.use = 0.0

    def cpu_percent(self, interval: float = 0.0) -> float:
        return self.use


@pytest.fixture
def cpu(monkeypatch) -> _Cpu:
    import livekit.agents.utils.hw as hw

    monitor = _Cpu()
    monkeypatch.setattr(hw, "get_cpu_monitor", lambda: monitor)
    return monitor


def _publish(directory, waiting, published) -> None:
    BoxSlots(directory, 2).publish(2, waiting)
    published.set()
    time.sleep(60)  # a live job process, until killed


def _job_process(directory, waiting) -> mp.Process:
    published = CTX.Event()
    proc = CTX.Process(target=_publish, args=(directory, waiting, published))
    proc.start()
    assert published.wait(10)
    return proc


def _calls(n: int) -> SimpleNamespace:
    return SimpleNamespace(active_jobs=[object()] * n)


def test_load_is_the_largest_of_calls_cpu_and_the_decode_backlog(tmp_path, cpu):
    load = worker.make_load_fnc(max_calls=4, slots_dir=tmp_path, slots=2)
    assert load(_calls(1)) == 0.25  # no decodes published yet
    live = _job_process(tmp_path, 3)
    dead = _job_process(tmp_path, 8)
    dead.kill()
    dead.join(10)
    try:
        assert load(_calls(1)) == 0.75  # 3 waiting / (2 per slot x 2 slots); the dead 8 not
        cpu.use = 0.9
        assert load(_calls(1)) == 0.9
        cpu.use = 0.1
        assert load(_calls(4)) == 1.0
        second = _job_process(tmp_path, 2)
        try:
            assert load(_calls(0)) == 1.0  # 5 waiting on the box: full, capped at 1
        finally:
            second.kill()
            second.join(10)
    finally:
        live.kill()
        live.join(10)
    assert load(_calls(0)) == 0.1


def test_without_a_slot_directory_decodes_do_not_count(cpu):
    cpu.use = 0.2
    assert worker.make_load_fnc(max_calls=2)(_calls(0)) == 0.2


def test_the_worker_names_its_slot_directory_and_sweeps_dead_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERLINE_HOME", str(tmp_path))
    gone = CTX.Process(target=int)
    gone.start()
    gone.join(10)
    run = tmp_path / "run"
    (run / f"decode-{gone.pid}").mkdir(parents=True)
    (run / f"decode-{os.getppid()}").mkdir()  # a live process's: kept
    own = worker.decode_slots_dir()
    assert own == run / f"decode-{os.getpid()}"
    assert sorted(p.name for p in run.iterdir()) == [f"decode-{os.getppid()}"]
