"""Silero VAD v6 (the ONNX file shipped inside faster-whisper) as a streaming detector.

The model takes 512-sample windows of 16 kHz audio preceded by the previous window's last 64
samples, and carries an LSTM state ``(h, c)`` of shape (1, 1, 128) from window to window
(the same layout faster-whisper's ``SileroVADModel`` uses). It runs with onnxruntime on one
thread; the silero-vad package is not needed (it requires torch). The inference session is
loaded once per process and shared; each :class:`SileroVAD` holds one stream's state.
"""

from __future__ import annotations

import functools
from collections import deque
from pathlib import Path

import numpy as np

from tierline.audio.detector import SpeechDetector
from tierline.audio.errors import AudioError

WINDOW = 512
"""Samples per model decision (32 ms at 16 kHz)."""
CONTEXT = 64
"""Samples of the previous window prepended to each window."""
STATE_SHAPE = (1, 1, 128)
MODEL_FILE = "silero_vad_v6.onnx"
QUIET_PROB = 0.1
"""A window below this probability is plain non-speech."""
WARM_WINDOWS = 31
"""Windows of audio (1 s) the recurrent state is rebuilt from when speech starts after a quiet
stretch at least as long.

Carried through a long silence (a caller on hold) the LSTM state drifts: after 30 s or more
of silence or line noise, the same real clip scored 0.35-0.6 where it scored 0.7-0.9 after
2 s, so a turn was confirmed late (its first words clipped) or not at all. When a window
after such a stretch is no longer quiet, the state is rebuilt from a fresh one over the last
second of audio and the window scored again: whatever the silence before (1 s or an hour),
speech meets the same state. A fresh state every ``DRIFT_RESET_WINDOWS`` quiet windows keeps
the drift itself bounded in between."""
DRIFT_RESET_WINDOWS = 94


def model_path() -> Path:
    """Location of the Silero ONNX file inside the installed faster-whisper.

    Raises:
        AudioError: faster-whisper is not installed or ships no Silero model.
    """
    try:
        from faster_whisper.utils import get_assets_path
    except ImportError:
        raise AudioError("Silero VAD needs faster-whisper (pip install faster-whisper)") from None
    path = Path(get_assets_path()) / MODEL_FILE
    if not path.is_file():
        raise AudioError(f"Silero VAD model not found at {path} (faster-whisper too old?)")
    return path


@functools.lru_cache(maxsize=4)
def load_session(path: str | None = None):
    """One onnxruntime session per model file and process (single-threaded, quiet)."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(path or model_path()), providers=["CPUExecutionProvider"], sess_options=opts
    )


class SileroVAD(SpeechDetector):
    """Streaming Silero speech probability for 20 ms frames.

    Frames are buffered into 32 ms model windows; a frame's probability is that of the most
    recent complete window (so it lags the audio by at most one window).

    Args:
        path: ONNX file; default the one inside faster-whisper.
    """

    window_ms = 32.0
    latency_ms = 64.0

    def __init__(self, path: str | Path | None = None) -> None:
        self._session = load_session(str(path) if path else None)
        self._reset_impl()

    def _reset_impl(self) -> None:
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0
        self._quiet = 0
        self._history: deque[np.ndarray] = deque(maxlen=WARM_WINDOWS)

    def _probability_impl(self, pcm: np.ndarray) -> float:
        samples = pcm.astype(np.float32) / 32768.0
        self.accept(samples)
        return self._last

    def accept(self, samples: np.ndarray) -> list[float]:
        """Feed float32 16 kHz samples of any length; return one probability per new window."""
        buf = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        out = []
        whole = len(buf) // WINDOW * WINDOW
        for start in range(0, whole, WINDOW):
            out.append(self._window(buf[start : start + WINDOW]))
        self._pending = buf[whole:].copy()
        return out

    def _run(self, x: np.ndarray) -> float:
        prob, self._h, self._c = self._session.run(
            None, {"input": x, "h": self._h, "c": self._c}
        )
        return float(np.asarray(prob).reshape(-1)[0])

    def _window(self, window: np.ndarray) -> float:
        x = np.concatenate([self._context, window])[None, :]
        self._context = window[-CONTEXT:].copy()
        prob = self._run(x)
        if prob >= QUIET_PROB and self._quiet >= WARM_WINDOWS:
            # speech after a quiet stretch: meet it with the state one second of that quiet
            # gives a fresh model, not with whatever the whole stretch drifted to
            self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
            self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
            for past in self._history:
                self._run(past)
            prob = self._run(x)
        self._quiet = self._quiet + 1 if prob < QUIET_PROB else 0
        if self._quiet and self._quiet % DRIFT_RESET_WINDOWS == 0:
            self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
            self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._history.append(x)
        self._last = prob
        return self._last


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Silero probabilities of a whole 16 kHz float32 clip, one per 32 ms window.

    The tail shorter than a window is zero-padded.
    """
    vad = SileroVAD()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    pad = -len(audio) % WINDOW
    return np.array(vad.accept(np.concatenate([audio, np.zeros(pad, np.float32)])))
