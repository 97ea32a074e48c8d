"""MemoASR shares one decode between concurrent requests for the same audio."""

from __future__ import annotations

import threading

import numpy as np

from tierline.dialects.asr import ASR
from tierline.dialects.memo import MemoASR
from tierline.dialects.records import Transcript


class GatedASR(ASR):
    """Counts decodes; each decode blocks until ``release`` is set."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail = fail
        self._lock = threading.Lock()

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        with self._lock:
            self.calls += 1
        self.started.set()
        assert self.release.wait(5)
        if self.fail:
            raise RuntimeError("decoder broke")
        return Transcript(f"len{len(audio)}", "zh", None, 0.0, 0.0, 1.0, 12.0)


def _in_thread(memo: MemoASR, audio: np.ndarray, out: list) -> threading.Thread:
    def run() -> None:
        try:
            out.append(memo.transcribe(audio))
        except RuntimeError as exc:
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_joined(memo: MemoASR, n: int) -> None:
    for _ in range(500):
        if memo.joined >= n:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the second request never joined the running decode")


def test_a_request_during_a_running_decode_waits_for_it():
    inner = GatedASR()
    memo = MemoASR(inner)
    audio = np.ones(1600, np.float32)
    first: list = []
    thread = _in_thread(memo, audio, first)
    assert inner.started.wait(5)
    second: list = []
    waiter = _in_thread(memo, audio.copy(), second)
    _wait_joined(memo, 1)
    inner.release.set()
    thread.join(5)
    waiter.join(5)
    assert inner.calls == 1 and memo.decodes == 1
    assert first[0] == second[0] and first[0].text == "len1600"
    assert memo.transcribe(audio) == first[0]  # and it is remembered
    assert inner.calls == 1


def test_different_audio_is_not_shared():
    inner = GatedASR()
    inner.release.set()
    memo = MemoASR(inner)
    a = memo.transcribe(np.ones(1600, np.float32))
    b = memo.transcribe(np.ones(1620, np.float32))
    assert (a.text, b.text) == ("len1600", "len1620")
    assert inner.calls == 2 and memo.joined == 0


def test_a_failed_decode_reaches_its_waiters_and_is_not_remembered():
    inner = GatedASR(fail=True)
    memo = MemoASR(inner)
    audio = np.ones(800, np.float32)
    first: list = []
    second: list = []
    thread = _in_thread(memo, audio, first)
    assert inner.started.wait(5)
    waiter = _in_thread(memo, audio, second)
    _wait_joined(memo, 1)
    inner.release.set()
    thread.join(5)
    waiter.join(5)
    assert isinstance(first[0], RuntimeError) and second[0] is first[0]
    inner.fail = False
    assert memo.transcribe(audio).text == "len800"  # tried again, not a remembered error
    assert inner.calls == 2


def test_many_threads_one_decode():
    n = 4
    inner = GatedASR()
    memo = MemoASR(inner)
    audio = np.full(320, 0.5, np.float32)
    outs: list = []
    threads = [_in_thread(memo, audio, outs)]
    assert inner.started.wait(5)
    threads += [_in_thread(memo, audio, outs) for _ in range(n - 1)]
    _wait_joined(memo, n - 1)
    inner.release.set()
    for t in threads:
        t.join(5)
    assert inner.calls == 1 and len({o.text for o in outs}) == 1 and len(outs) == n
