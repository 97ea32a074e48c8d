"""livekit-agents TTS plugin: offline espeak-ng Mandarin for the bot's prompts.

The text goes through pypinyin (numbered tones, tone sandhi) into espeak-ng's
``cmn-latn-pinyin`` voice (the plain ``cmn`` voice misreads characters), and is resampled to
the telephone rate the configuration asks for (8 or 16 kHz). Any other livekit TTS plugin can
take its place through the worker configuration.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import uuid

import numpy as np
import soundfile as sf
import soxr
from livekit.agents import tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from tierline.core.errors import TierlineError

RATES = (8_000, 16_000)


class TtsError(TierlineError, RuntimeError):
    """espeak-ng is missing or failed."""


def pinyin_of(text: str) -> str:
    """Numbered-tone pinyin that espeak-ng's pinyin voice reads correctly."""
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True,
                                tone_sandhi=True))


async def espeak_pcm(text: str, rate: int, voice: str = "cmn-latn-pinyin",
                     speed_wpm: int = 150) -> np.ndarray:
    """Render ``text`` to int16 mono PCM at ``rate`` with espeak-ng.

    Raises:
        TtsError: espeak-ng is not installed or exits with an error.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TtsError("espeak-ng is not installed (apt-get install espeak-ng)")
    words = pinyin_of(text) if voice == "cmn-latn-pinyin" else text
    proc = await asyncio.create_subprocess_exec(
        exe, "-v", voice, "-s", str(speed_wpm), "--stdout", words,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    wav, err = await proc.communicate()
    if proc.returncode != 0 or not wav:
        raise TtsError(f"espeak-ng failed ({proc.returncode}): {err.decode(errors='replace')}")
    audio, native = sf.read(io.BytesIO(wav), dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if native != rate:
        audio = soxr.resample(audio, native, rate)
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


class EspeakTTS(tts.TTS):
    """Offline Mandarin speech for bot prompts.

    Args:
        sample_rate: 8000 (narrowband line) or 16000 (wideband).
        voice: espeak-ng voice (``cmn-latn-pinyin`` Mandarin, ``yue`` Cantonese).
        speed_wpm: Speaking rate, words per minute.
    """

    def __init__(self, sample_rate: int = 16_000, voice: str = "cmn-latn-pinyin",
                 speed_wpm: int = 150) -> None:
        if sample_rate not in RATES:
            raise ValueError(f"TTS sample rate must be 8000 or 16000, not {sample_rate}")
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False),
                         sample_rate=sample_rate, num_channels=1)
        self.voice = voice
        self.speed_wpm = speed_wpm

    @property
    def model(self) -> str:
        return f"espeak-ng:{self.voice}"

    @property
    def provider(self) -> str:
        return "tierline"

    def synthesize(self, text: str, *,
                   conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
                   ) -> tts.ChunkedStream:
        return _EspeakStream(tts=self, input_text=text, conn_options=conn_options)


class _EspeakStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        owner: EspeakTTS = self._tts  # type: ignore[assignment]
        pcm = await espeak_pcm(self.input_text, owner.sample_rate, owner.voice, owner.speed_wpm)
        output_emitter.initialize(request_id=uuid.uuid4().hex[:12],
                                  sample_rate=owner.sample_rate, num_channels=1,
                                  mime_type="audio/pcm")
        output_emitter.push(pcm.tobytes())
        output_emitter.flush()
