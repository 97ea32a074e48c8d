"""A recogniser that remembers recent results by audio content, shared within one call.

The endpointer may transcribe an open turn (quantity-aware endpointing, or a speculative final
decode started early in a pause), a transport's STT may transcribe the closed utterance, and
the call session transcribes it again: with one memo per call, Whisper decodes each stretch of
audio once. A request for audio whose decode is still running (the endpointer's speculative
decode, in another thread) waits for that decode instead of starting a second one. A
remembered transcript keeps the ``compute_ms`` of the decode that produced it, so latency
reports stay true.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import Future

import numpy as np

from tierline.dialects.asr import ASR
from tierline.dialects.records import Transcript


def audio_key(audio: np.ndarray) -> bytes:
    """The memo's key for a stretch of audio: a digest of its float32 samples."""
    return hashlib.blake2b(np.ascontiguousarray(audio, dtype=np.float32).tobytes(),
                           digest_size=16).digest()


class MemoASR(ASR):
    """Wraps an :class:`ASR`; identical audio returns the remembered transcript.

    Thread-safe: concurrent requests for the same audio share one decode (the first runs it,
    the others wait for its result, or its error).

    Attributes:
        decodes: Decodes the inner recogniser ran (hits and shared in-flight decodes are not
            counted).
        joined: Requests that waited for a decode already in flight.

    Args:
        inner: The real recogniser.
        size: How many recent results to keep.
    """

    def __init__(self, inner: ASR, size: int = 16) -> None:
        self.inner = inner
        self.streaming = inner.streaming
        self.sample_rate = inner.sample_rate
        self.size = size
        self.decodes = 0
        self.joined = 0
        self._cache: OrderedDict[bytes, Transcript] = OrderedDict()
        self._inflight: dict[bytes, Future[Transcript]] = {}
        self._lock = threading.Lock()

    @property
    def language(self) -> str:
        return self.inner.language

    @property
    def model_dir(self) -> object:
        return getattr(self.inner, "model_dir", type(self.inner).__name__)

    def busy(self) -> bool:
        return self.inner.busy()

    def idle(self) -> bool:
        return self.inner.idle()

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        key = audio_key(audio)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            running = self._inflight.get(key)
            if running is None:
                mine: Future[Transcript] = Future()
                self._inflight[key] = mine
            else:
                self.joined += 1
        if running is not None:
            return running.result()
        try:
            result = self.inner.transcribe(audio, partial)
        except BaseException as exc:
            with self._lock:
                del self._inflight[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            self.decodes += 1
            self._cache[key] = result
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
            del self._inflight[key]
        mine.set_result(result)
        return result
