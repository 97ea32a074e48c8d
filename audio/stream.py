"""Re-framing of live audio: any chunk size, any (changing) sample rate → 20 ms 16 kHz frames.

Transports deliver PCM in their own chunk sizes and rates (8 kHz G.711 from SIP, 48 kHz from
WebRTC), and a rate can change mid-call (codec renegotiation). :class:`FrameAssembler`
resamples each chunk with a streaming soxr resampler for the current rate, starts a new
resampler when the rate changes (flushing the old one's tail), and cuts the result into
consecutive :class:`Frame` objects with a continuous timeline.
"""

from __future__ import annotations

import numpy as np
import soxr

from tierline.audio.errors import AudioError
from tierline.audio.g711 import alaw_decode, ulaw_decode
from tierline.audio.io import MAX_RATE, MIN_RATE
from tierline.audio.records import FRAME_MS, PIPELINE_RATE, Frame

FRAME_SAMPLES = PIPELINE_RATE * FRAME_MS // 1000
_DECODERS = {"pcmu": ulaw_decode, "pcma": alaw_decode}


class FrameAssembler:
    """Turns a live stream of PCM chunks into 20 ms frames of 16 kHz int16 audio.

    Args:
        start_s: Call-timeline time of the first sample.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._rate: int | None = None
        self._stream: soxr.ResampleStream | None = None
        self._pending = np.zeros(0, dtype=np.float32)
        self._count = 0
        self._start = start_s

    @property
    def sample_rate(self) -> int | None:
        """Rate of the chunks currently arriving."""
        return self._rate

    def push(self, chunk: np.ndarray | bytes, sample_rate: int,
             encoding: str = "pcm16") -> list[Frame]:
        """Add one chunk; return the frames it completed.

        Args:
            chunk: int16 or float samples (mono), or bytes: little-endian int16 for "pcm16",
                G.711 codes for "pcmu"/"pcma".
            sample_rate: Rate of this chunk, Hz.
            encoding: "pcm16", "pcmu" or "pcma" (bytes only).

        Raises:
            AudioError: Unsupported rate or encoding.
        """
        if not MIN_RATE <= int(sample_rate) <= MAX_RATE:
            raise AudioError(f"unsupported sample rate {sample_rate} Hz")
        x = self._decode(chunk, encoding)
        out: list[Frame] = []
        if sample_rate != self._rate:
            out += self._switch(int(sample_rate))
        resampled = x if self._stream is None else self._stream.resample_chunk(x)
        return out + self._cut(resampled)

    def flush(self) -> list[Frame]:
        """End of stream: drain the resampler and zero-pad the last partial frame."""
        out = self._switch(None)
        if len(self._pending):
            pad = np.zeros(FRAME_SAMPLES - len(self._pending), dtype=np.float32)
            out += self._cut(pad)
        return out

    def _decode(self, chunk: np.ndarray | bytes, encoding: str) -> np.ndarray:
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            if encoding in _DECODERS:
                return _DECODERS[encoding](bytes(chunk)).astype(np.float32) / 32768.0
            if encoding != "pcm16":
                raise AudioError(f"unknown audio encoding {encoding!r}")
            data = bytes(chunk)[: len(chunk) // 2 * 2]
            return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        arr = np.asarray(chunk).reshape(-1)
        if np.issubdtype(arr.dtype, np.integer):
            return arr.astype(np.float32) / 32768.0
        return np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)

    def _switch(self, rate: int | None) -> list[Frame]:
        out: list[Frame] = []
        if self._stream is not None:
            out = self._cut(self._stream.resample_chunk(np.zeros(0, np.float32), last=True))
        self._rate = rate
        self._stream = None
        if rate is not None and rate != PIPELINE_RATE:
            self._stream = soxr.ResampleStream(rate, PIPELINE_RATE, 1, dtype="float32",
                                               quality="HQ")
        return out

    def _cut(self, x: np.ndarray) -> list[Frame]:
        buf = np.concatenate([self._pending, x.astype(np.float32)]) if len(x) else self._pending
        whole = len(buf) // FRAME_SAMPLES * FRAME_SAMPLES
        pcm = np.clip(np.round(buf[:whole] * 32768.0), -32768, 32767).astype(np.int16)
        frames = []
        for off in range(0, whole, FRAME_SAMPLES):
            t = self._start + self._count * FRAME_MS / 1000
            frames.append(Frame(pcm[off : off + FRAME_SAMPLES].copy(), t))
            self._count += 1
        self._pending = buf[whole:].copy()
        return frames
