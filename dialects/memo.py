"""A recogniser that remembers recent results by audio content, shared within one call.

The endpointer may transcribe an open turn (quantity-aware endpointing), a transport's STT
may transcribe the closed utterance, and the call session transcribes it again: with one memo
per call, Whisper decodes each stretch of audio once. A remembered transcript keeps the
``compute_ms`` of the decode that produced it, so latency reports stay true.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from tierline.dialects.asr import ASR
from tierline.dialects.records import Transcript


class MemoASR(ASR):
    """Wraps an :class:`ASR`; identical audio returns the remembered transcript.

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
        self._cache: OrderedDict[bytes, Transcript] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def language(self) -> str:
        return self.inner.language

    @property
    def model_dir(self) -> object:
        return getattr(self.inner, "model_dir", type(self.inner).__name__)

    def busy(self) -> bool:
        return self.inner.busy()

    def _transcribe_impl(self, audio: np.ndarray, partial: bool = False) -> Transcript:
        key = hashlib.blake2b(np.ascontiguousarray(audio, dtype=np.float32).tobytes(),
                              digest_size=16).digest()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        result = self.inner.transcribe(audio, partial)
        with self._lock:
            self.decodes += 1
            self._cache[key] = result
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return result
