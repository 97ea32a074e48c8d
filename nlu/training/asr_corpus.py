"""Regenerate the ASR copies of the intent corpus (``nlu/data/intents_asr*.tsv``).

Every selected utterance of ``intents.tsv`` is spoken by a TTS engine, mixed with faint line
noise, sent through an 8 kHz μ-law phone line (:func:`tierline.audio.io.telephone_round_trip`)
and transcribed by our Whisper with the same settings as the replay pipeline. Two engines
make two copies (:data:`tierline.nlu.data.ASR_COPIES`):

- ``espeak`` → ``intents_asr.tsv``: espeak-ng's ``cmn-latn-pinyin`` voice (fed numbered
  pinyin from pypinyin, as ``samples/make_samples.py`` does) at a speaking rate drawn per
  utterance. Robotic; Whisper loses most of it.
- ``kokoro`` → ``intents_asr_kokoro.tsv``: the neural Kokoro-82M model
  (:mod:`tierline.audio.synthetic.kokoro`, the ``corpus`` extra), one of five voices and a speed
  drawn per utterance. Whisper's errors on it are homophones and dropped syllables, as on real
  callers (CER 0.29 on the test split, against 0.68 for espeak-ng and 0.135 for real speech).

The transcripts are committed, so training reproduces from the repository without
re-rendering; this module is only needed to regenerate or extend them. Each utterance costs
about 1 s with espeak-ng and 3.5 s with Kokoro (TTS + Whisper, two threads); runs are
incremental (rows already in the output file are kept and skipped) and bounded by ``--limit``,
so a long run can be split.

Usage::

    nice -n 10 python -m tierline.nlu.training.asr_corpus [--tts espeak|kokoro]
        [--splits train,dev,test | --splits challenge] [--train-percent 100] [--limit N]
        [--threads 2] [--out F] [--no-readings]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tierline.nlu.data import (
    ASR_COPIES,
    SPLITS,
    asr_beams,
    asr_copies,
    copy_file,
    load_challenge,
    load_intents,
    stable_bucket,
)
from tierline.nlu.errors import NluError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tierline.audio.synthetic.kokoro import KokoroMandarin

VOICE = "cmn-latn-pinyin"
RATE_WPM = (125, 175)
"""Speaking rate range (words per minute); each utterance gets a fixed rate from its hash."""
KOKORO_SPEED = (0.85, 1.15)
"""Kokoro speed range; each utterance gets a fixed speed and voice from its hash."""
NOISE_DB = -55.0


def to_pinyin(text: str) -> str:
    """Numbered pinyin (``ni3 hao3``) for espeak-ng's pinyin voice."""
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True,
                                tone_sandhi=True))


def speak(text: str, workdir: Path, wpm: int) -> np.ndarray:
    """Render Mandarin text with espeak-ng; float32 mono at 16 kHz.

    Raises:
        NluError: espeak-ng is missing or fails.
    """
    import soundfile as sf

    from tierline.audio.io import resample
    from tierline.audio.records import PIPELINE_RATE

    if shutil.which("espeak-ng") is None:
        raise NluError("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = workdir / "tts.wav"
    proc = subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(wpm), "-g", "2", "-a", "80", "-w", str(wav),
         to_pinyin(text)], capture_output=True)
    if proc.returncode != 0:
        raise NluError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    audio, rate = sf.read(wav, dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return resample(audio, rate, PIPELINE_RATE)


def utterance_hash(text: str) -> int:
    """The hash that fixes how ``text`` is spoken and sent down the line (voice, speed, rate,
    line noise): the same text always gets the same rendering."""
    return stable_bucket("wpm|" + text, 1 << 30)


def kokoro_voice(h: int) -> int:
    """Index in :data:`tierline.audio.synthetic.kokoro.VOICES` of the voice for hash ``h``."""
    from tierline.audio.synthetic.kokoro import VOICES

    return h % len(VOICES)


class Renderer:
    """Speaks corpus text at 16 kHz with one engine; the voice settings follow the text hash.

    Args:
        tts: A key of :data:`tierline.nlu.data.ASR_COPIES`.
        kokoro: The loaded neural model, required when ``tts`` is ``kokoro``.
    """

    def __init__(self, tts: str, kokoro: KokoroMandarin | None = None) -> None:
        if tts == "kokoro" and kokoro is None:
            raise NluError("the kokoro renderer needs a loaded KokoroMandarin")
        self._kokoro = kokoro if tts == "kokoro" else None

    def __call__(self, text: str, workdir: Path, h: int) -> np.ndarray:
        if self._kokoro is None:
            return speak(text, workdir, RATE_WPM[0] + h % (RATE_WPM[1] - RATE_WPM[0] + 1))
        from tierline.audio.io import resample
        from tierline.audio.records import PIPELINE_RATE
        from tierline.audio.synthetic.kokoro import KOKORO_RATE, VOICES

        lo, hi = KOKORO_SPEED
        speed = lo + (hi - lo) * ((h >> 8) % 1000) / 999
        audio = self._kokoro.speak(text, VOICES[kokoro_voice(h)], speed)
        return resample(audio, KOKORO_RATE, PIPELINE_RATE)


def phone_line(audio16k: np.ndarray, seed: int) -> np.ndarray:
    """Faint line noise, then the 8 kHz μ-law round trip."""
    from tierline.audio.io import telephone_round_trip

    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 10 ** (NOISE_DB / 20), audio16k.shape).astype(np.float32)
    return telephone_round_trip(np.clip(audio16k * 0.7 + noise, -1, 1).astype(np.float32))


def select(splits: tuple[str, ...], train_percent: int) -> list[str]:
    """Corpus texts to render: every row of ``splits``, and a fixed share of ``train``;
    ``("challenge",)`` selects the challenge set instead.

    Test rows come first, then dev, then train, so a bounded run completes the evaluation
    sets before it adds training copies.
    """
    if splits == ("challenge",):
        return [ex.text for ex in load_challenge()]
    rank = {"test": 0, "dev": 1, "train": 2}
    out = []
    for ex in sorted(load_intents(), key=lambda e: rank[e.split]):
        if ex.split not in splits:
            continue
        if ex.split == "train" and stable_bucket("asr|" + ex.text) >= train_percent:
            continue
        out.append(ex.text)
    return out


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tts", choices=sorted(ASR_COPIES), default="espeak")
    parser.add_argument("--splits", default="train,dev,test")
    parser.add_argument("--train-percent", type=int, default=100,
                        help="share of the train split to render (fixed by text hash)")
    parser.add_argument("--limit", type=int, default=0, help="stop after N new utterances")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-readings", action="store_true",
                        help="beam of Whisper base only, without the call-centre decoder's "
                             "readings (train rows: training reads the transcript alone)")
    parser.add_argument("--out", help="output file (default: nlu/data/ + the engine's copy)")
    args = parser.parse_args(argv)
    try:
        splits = tuple(s for s in args.splits.split(",") if s)
        if splits != ("challenge",) and (not splits or any(s not in SPLITS for s in splits)):
            raise NluError(f"--splits takes a comma list of {', '.join(SPLITS)}, "
                           "or challenge alone")
        return _run(args, splits)
    except NluError as exc:
        print(f"asr_corpus: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, splits: tuple[str, ...]) -> int:
    from tierline.dialects.asr import AsrConfig, load_whisper
    from tierline.dialects.models import ModelError

    out = Path(args.out or copy_file(args.tts, splits[0]))
    done = asr_copies(out)
    todo = [t for t in select(splits, args.train_percent) if t not in done]
    if args.limit > 0:
        todo = todo[: args.limit]
    print(f"{len(done)} transcripts kept, {len(todo)} to render", file=sys.stderr)
    if not todo:
        return 0
    try:
        asr = load_whisper(None, AsrConfig(cpu_threads=args.threads),
                           readings=not args.no_readings)
    except ModelError as exc:
        raise NluError(str(exc)) from None
    if args.tts == "kokoro":
        from tierline.audio.synthetic.kokoro import KokoroMandarin

        render = Renderer("kokoro", KokoroMandarin(args.threads))
    else:
        render = Renderer(args.tts)
    new_file = not out.is_file()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, out.open("a", encoding="utf-8") as fh:
        if new_file:
            fh.write("text\tasr\tbeam\n")
        for k, text in enumerate(todo, 1):
            h = utterance_hash(text)
            audio = render(text, Path(tmp), h)
            transcript = asr.transcribe(phone_line(audio, h)) if audio.size else None
            heard = transcript.text if transcript else ""
            beam = transcript.alternatives if transcript else ()
            fh.write(f"{_clean(text)}\t{_clean(heard)}\t{_beam_column(beam)}\n")
            fh.flush()
            if k % 25 == 0 or k == len(todo):
                rate = (time.perf_counter() - t_start) / k
                print(f"{k}/{len(todo)}  {rate:.2f} s/utt  {text} → {heard}", file=sys.stderr)
    _sort_like_corpus(out)
    return 0


def _beam_column(beam: Sequence[tuple[str, float]]) -> str:
    """Final-beam readings as the ``beam`` column: JSON ``[[text, log-probability], ...]``,
    no tabs; empty for no beam (read back by :func:`tierline.nlu.data.asr_beams`)."""
    if not beam:
        return ""
    return json.dumps([[_clean(text), logprob] for text, logprob in beam], ensure_ascii=False)


def _sort_like_corpus(path: Path) -> None:
    """Rewrite the transcript file in corpus order, then challenge order (stable diffs)."""
    order = {e.text: i for i, e in enumerate(load_intents() + load_challenge())}
    rows = asr_copies(path)
    beams = asr_beams(path)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("text\tasr\tbeam\n")
        for text in sorted(rows, key=lambda t: order.get(t, len(order))):
            fh.write(f"{text}\t{rows[text]}\t{_beam_column(beams.get(text, ()))}\n")


if __name__ == "__main__":
    sys.exit(main())
