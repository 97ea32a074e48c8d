"""Audio for the short-window fine-tune: Kokoro renderings and real clips, as calls sound.

The fine-tune (:mod:`tierline.dialects.training.train_window`) needs Mandarin audio but no
transcripts: the targets come from the teacher (Whisper base on its 30 s window). Two sources:

* **Kokoro renderings** of the AISHELL-1 transcripts in ../shared/data except the 60 whose
  recordings are the CER test set (their texts are left out too), spoken by the corpus
  tooling's neural voice (:class:`tierline.nlu.training.asr_corpus.Renderer`; voice and
  speed follow the text hash) and kept clean at 16 kHz (``NAME.npy``, float16) so each
  training pass can choose the line.
* **Real recordings** of ``dialects_more/`` (regional Mandarin and dialects; no speaker is in
  any evaluation set), cut into pieces of 1.5-12 s.

Every clip then goes through a line chosen by its hash: 8 kHz μ-law, 8 kHz A-law (both with
faint line noise) or the 16 kHz original, as calls arrive.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.dialects.training.kokoro_cache import render_to_cache

LINES = ("ulaw", "alaw", "wide")
UNTRANSCRIBED_MANDARIN = ("wenet/gpu_client_mid.wav", "wenet/gpu_client_long.wav",
                          "wenet/ios_demo_test.wav", "funasr/fsmn_vad_example_0.wav")
"""Real Mandarin recordings in ../shared/data with no transcript (so in no CER set)."""
NOISE_DB = -60.0


@dataclass(frozen=True)
class Source:
    """One stretch of training audio.

    Attributes:
        name: Stable id (cache key).
        kind: ``kokoro`` or ``real``.
        text: What Kokoro speaks (kokoro), or the recording's path (real).
        start_s: Start of the piece in the recording (real).
        end_s: End of the piece (real).
    """

    name: str
    kind: str
    text: str
    start_s: float = 0.0
    end_s: float = 0.0

    @property
    def line(self) -> str:
        """The line this clip is heard through (fixed by its name)."""
        return LINES[_hash(self.name) % len(LINES)]


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:4], "big")


def aishell_test_texts(data_dir: Path) -> set[str]:
    """The transcripts of the 60 AISHELL clips the CER is measured on."""
    with (data_dir / "aishell1_sample" / "selected_60.tsv").open(encoding="utf-8") as f:
        return {r["transcript"] for r in csv.DictReader(f, delimiter="\t")}


def kokoro_sources(data_dir: Path, n: int) -> list[Source]:
    """Up to ``n`` AISHELL-1 transcripts to render, in hash order, test texts left out."""
    held_out = aishell_test_texts(data_dir)
    with (data_dir / "aishell1_sample" / "all_1000_transcripts.tsv").open(encoding="utf-8") as f:
        texts = sorted({r["transcript"] for r in csv.DictReader(f, delimiter="\t")} - held_out,
                       key=lambda t: _hash("win|" + t))
    return [Source("k" + hashlib.sha1(t.encode("utf-8")).hexdigest()[:10], "kokoro", t)
            for t in texts[:n]]


def real_sources(data_dir: Path, seed: int = 7) -> list[Source]:
    """Pieces of 1.5-12 s of every ``dialects_more`` recording and of the untranscribed
    Mandarin clips (seeded cut points)."""
    import soundfile as sf

    root = data_dir / "dialects_more"
    rng = np.random.default_rng(seed)
    out = []
    paths = []
    if (root / "manifest.tsv").is_file():
        with (root / "manifest.tsv").open(encoding="utf-8") as f:
            paths = [root / r["path"] for r in csv.DictReader(f, delimiter="\t")]
    paths += [data_dir / p for p in UNTRANSCRIBED_MANDARIN]
    for path in paths:
        if not path.is_file():
            continue
        total = sf.info(str(path)).duration
        start = 0.0
        while total - start >= 1.5:
            length = min(total - start, float(rng.uniform(1.5, 12.0)))
            key = f"{path.relative_to(data_dir)}|{start:.2f}"
            out.append(Source("r" + hashlib.sha1(key.encode()).hexdigest()[:10], "real",
                              str(path), start, start + length))
            start += length
    return out


def render_kokoro(sources: Sequence[Source], audio_dir: Path, threads: int,
                  log: Callable[[str], None]) -> None:
    """Speak the Kokoro sources not yet in ``audio_dir`` (``NAME.npy``, clean 16 kHz)."""
    render_to_cache([(s.name, s.text) for s in sources if s.kind == "kokoro"], audio_dir,
                    threads, log, dtype=np.float16, every=20)


def line(audio16k: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """``audio16k`` as heard through a line: ``ulaw``/``alaw`` (8 kHz G.711 with faint
    noise) or ``wide`` (unchanged)."""
    if kind == "wide":
        return audio16k.astype(np.float32)
    from tierline.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
    from tierline.audio.io import resample

    rng = np.random.default_rng(seed)
    noisy = audio16k * 0.7 + rng.normal(0, 10 ** (NOISE_DB / 20), audio16k.shape)
    narrow = resample(np.clip(noisy, -1, 1).astype(np.float32), 16_000, 8_000)
    pcm = np.clip(narrow * 32768.0, -32768, 32767).astype(np.int16)
    coded = (ulaw_decode(ulaw_encode(pcm)) if kind == "ulaw"
             else alaw_decode(alaw_encode(pcm))).astype(np.float32) / 32768.0
    wide = resample(coded, 8_000, 16_000)
    out = np.zeros(len(audio16k), dtype=np.float32)
    out[: min(len(out), len(wide))] = wide[: len(out)]
    return out


def load_source(source: Source, audio_dir: Path) -> np.ndarray:
    """The clip's audio through its line, float32 16 kHz (empty when Kokoro could not speak
    the text)."""
    if source.kind == "kokoro":
        audio = np.load(audio_dir / f"{source.name}.npy").astype(np.float32)
    else:
        from tierline.audio.io import load_audio

        whole = load_audio(Path(source.text))
        audio = whole[int(source.start_s * 16_000): int(source.end_s * 16_000)]
    if not audio.size:
        return audio.astype(np.float32)
    return line(audio, source.line, _hash(source.name))
