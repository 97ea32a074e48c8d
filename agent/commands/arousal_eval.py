"""`tierline arousal-eval`: how well vocal arousal tracks labelled or controlled arousal.

Three measurements, none of which tuned the arousal model (its weights come from the
literature, its priors from AISHELL):

* ``--emotion-dir`` — clips with continuous arousal labels (e.g.
  ../shared/data/pyaudioanalysis_speechEmotion: arousal.csv + wav/): Spearman correlation of
  our arousal (each clip a new caller, so population priors only) with the labels, and of each
  prosodic feature alone.
* ``--pairs`` — paired synthetic turns: the same sentence rendered by espeak-ng calm and
  agitated (faster, louder, higher); accuracy of "agitated scores higher", on a first turn and
  after one calm turn of the same voice, and how often moderately negative words become angry.
* ``--speech-dir`` — real voices with simulated agitation: AISHELL clips vs the same clip
  sped up 20 %, raised 2 semitones and 6 dB louder, after one other clip of the same speaker.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tierline.agent.clikit import UsageError, emit

SENTENCES = [
    "你们的系统今天又打不开了", "我上周就反映过这个问题", "到底什么时候能修好",
    "我们每天都要用这个功能", "客服电话一直打不通", "这个月的账单也不对",
    "你们给我一个明确的答复", "我已经等了三天了",
]
MODERATE_NEGATIVE = (-0.8, 0.0)
"""Sentiment and word anger of the paired sentences for the label test: negative, no threats."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arousal-eval", help="agreement of vocal arousal with labels and pairs")
    p.add_argument("--emotion-dir", metavar="DIR",
                   help="folder with arousal.csv (file,arousal) and wav/ clips")
    p.add_argument("--pairs", action="store_true",
                   help="paired espeak-ng turns, calm vs agitated (needs espeak-ng)")
    p.add_argument("--speech-dir", metavar="DIR",
                   help="folder of real speech WAVs for simulated-agitation pairs")
    p.add_argument("--json", metavar="OUT|-", help="write one JSON object per measurement")
    p.set_defaults(func=run)


def _labelled(folder: Path) -> dict:
    import numpy as np
    from scipy.stats import spearmanr

    from tierline.audio.arousal import CallerVoice, features
    from tierline.audio.io import load_audio, telephone_round_trip

    labels_path = folder / "arousal.csv"
    if not labels_path.is_file():
        raise UsageError(f"{folder}: arousal.csv not found")
    with open(labels_path, encoding="utf-8") as fh:
        rows = [(r[0], float(r[1])) for r in csv.reader(fh) if len(r) >= 2 and r[1].strip()]
    ours, truth, phone, feats = [], [], [], []
    for name, label in rows:
        path = folder / "wav" / name
        if not path.is_file():
            raise UsageError(f"{folder}: clip listed in arousal.csv not found: {path}")
        audio = load_audio(path)
        ours.append(CallerVoice().observe(audio).arousal)
        phone.append(CallerVoice().observe(telephone_round_trip(audio)).arousal)
        feats.append(features(CallerVoice().observe(audio).prosody))
        truth.append(label)
    out = {"measure": "labelled arousal", "data": str(folder), "n": len(truth),
           "spearman": round(float(spearmanr(ours, truth)[0]), 3),
           "p_value": f"{float(spearmanr(ours, truth)[1]):.1e}",
           "spearman_8k_telephone": round(float(spearmanr(phone, truth)[0]), 3)}
    for name in ("pitch", "pitch_range", "level", "effort", "rate", "pauses"):
        pairs = [(f[name], t) for f, t in zip(feats, truth, strict=True) if name in f]
        if len(pairs) > 5:
            x, y = np.array(pairs).T
            out[f"feature_{name}"] = round(float(spearmanr(x, y)[0]), 3)
    return out


def _pairs() -> dict:
    from tierline.audio.arousal import CallerVoice
    from tierline.audio.emotion import fuse_emotion

    calm_style = {"speed": 140, "amplitude": 80, "pitch": 50}
    agitated_style = {"speed": 190, "amplitude": 180, "pitch": 80}
    first_wins = relative_wins = 0
    flips = calm_angry = 0
    gaps = []
    baseline = _espeak("你好，我想咨询一下", **calm_style)
    for text in SENTENCES:
        calm, agitated = _espeak(text, **calm_style), _espeak(text, **agitated_style)
        a_calm = CallerVoice().observe(calm, text=text).arousal
        a_agit = CallerVoice().observe(agitated, text=text).arousal
        first_wins += a_agit > a_calm
        scores = {}
        for style, audio in (("calm", calm), ("agitated", agitated)):
            voice = CallerVoice()
            voice.observe(baseline, text="你好，我想咨询一下")
            v = voice.observe(audio, text=text)
            scores[style] = (v.arousal, fuse_emotion(v, *MODERATE_NEGATIVE, 0.0).label)
        relative_wins += scores["agitated"][0] > scores["calm"][0]
        gaps.append(scores["agitated"][0] - scores["calm"][0])
        flips += scores["agitated"][1] == "angry"
        calm_angry += scores["calm"][1] == "angry"
    n = len(SENTENCES)
    return {"measure": "paired synthetic turns (espeak-ng)", "n_pairs": n,
            "calm": calm_style, "agitated": agitated_style,
            "accuracy_first_turn": round(first_wins / n, 3),
            "accuracy_after_calm_turn": round(relative_wins / n, 3),
            "mean_arousal_gap_after_calm_turn": round(sum(gaps) / n, 3),
            "angry_when_agitated": f"{flips}/{n}", "angry_when_calm": f"{calm_angry}/{n}"}


def _espeak(text: str, speed: int, amplitude: int, pitch: int):
    from tierline.audio.synthetic import espeak

    if not espeak.available():
        raise UsageError("--pairs needs espeak-ng (apt-get install espeak-ng)")
    return espeak.render(text, speed, amplitude, pitch)


def agitate(audio, rate: int = 16000):
    """Simulated agitation of a real voice: 20 % faster, +2 semitones, +6 dB."""
    import librosa
    import numpy as np

    faster = librosa.effects.time_stretch(audio, rate=1.2)
    higher = librosa.effects.pitch_shift(faster, sr=rate, n_steps=2.0)
    return np.clip(higher * 2.0, -1, 1).astype(np.float32)


def _simulated(folder: Path) -> dict:
    from tierline.audio.arousal import CallerVoice
    from tierline.audio.io import load_audio, telephone_round_trip

    paths = sorted(folder.glob("*.wav"))
    if len(paths) < 2:
        raise UsageError(f"{folder}: need at least 2 WAV clips")
    by_speaker: dict[str, list[Path]] = {}
    for p in paths:
        by_speaker.setdefault(p.stem[:11], []).append(p)
    wins = n = 0
    gaps = []
    for clips in by_speaker.values():
        for prev, cur in zip(clips, clips[1:], strict=False):
            base = telephone_round_trip(load_audio(prev))
            audio = load_audio(cur)
            scores = []
            for variant in (audio, agitate(audio)):
                voice = CallerVoice()
                voice.observe(base)
                scores.append(voice.observe(telephone_round_trip(variant)).arousal)
            wins += scores[1] > scores[0]
            gaps.append(scores[1] - scores[0])
            n += 1
    return {"measure": "real voices, simulated agitation (+20% rate, +2 st, +6 dB)",
            "data": str(folder), "n_pairs": n, "accuracy": round(wins / n, 3),
            "mean_arousal_gap": round(sum(gaps) / n, 3)}


def run(args: argparse.Namespace) -> int:
    if not (args.emotion_dir or args.pairs or args.speech_dir):
        raise UsageError("give --emotion-dir DIR, --pairs and/or --speech-dir DIR")
    for folder in (args.emotion_dir, args.speech_dir):
        if folder and not Path(folder).is_dir():
            raise UsageError(f"folder not found: {folder}")
    out = None
    if args.json:
        from tierline.agent.clikit import open_out

        out, _ = open_out(args.json)
    table = sys.stderr if args.json == "-" else sys.stdout
    jobs = []
    if args.emotion_dir:
        jobs.append(lambda: _labelled(Path(args.emotion_dir)))
    if args.pairs:
        jobs.append(_pairs)
    if args.speech_dir:
        jobs.append(lambda: _simulated(Path(args.speech_dir)))
    for job in jobs:
        result = job()
        print("  ".join(f"{k}={v}" for k, v in result.items()), file=table, flush=True)
        emit(out, result)
    if out is not None and args.json != "-":
        out.close()
    return 0
