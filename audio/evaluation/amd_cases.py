"""Constructed answered calls with a known answerer, for ``tierline amd-eval``.

* **human** — a real speech excerpt (0.4–2.8 s, cut at a quiet frame) from the shared data
  (AISHELL-1, WenetSpeech Chuan/Yue, WeNet/FunASR clips, dialects_more), then the silence of
  someone waiting; every other case answers the bot with a second excerpt 0.3–0.9 s after
  the bot stops (the bot speaks into the first pause, as the campaign runner does).
* **voicemail** — real telephone prompts of Debian's asterisk-core-sounds-en-wav chained as a
  voicemail box says them ("the person at extension 2 0 4 … is unavailable … please leave
  your message after the tone") and Mandarin voicemail greetings spoken by espeak-ng
  (``cmn-latn-pinyin``), each followed by a beep (asterisk's beep.wav or a 1000/950 Hz tone)
  and the silence of the recording.
* **ivr** — asterisk menu prompts chained, and Mandarin IVR menus ("查询订单请按1 …").

Every case starts after 0.2–1.2 s of line noise and goes through an 8 kHz G.711 round trip
(μ-law via :func:`tierline.audio.io.telephone_round_trip`, or A-law). Sources are split in
two halves by group (a speaker, a recording, a prompt chain, a Mandarin text): groups sorted
by name, alternately ``tune`` and ``test`` within each family, so no speaker or prompt is in
both halves.
"""

from __future__ import annotations

import csv
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tierline.audio.g711 import alaw_decode, alaw_encode
from tierline.audio.io import load_audio, resample, telephone_round_trip

RATE = 8000
SOUNDS = Path("/usr/share/asterisk/sounds/en")
LINE_NOISE_DB = -62.0
TAIL_S = 15.0  # every case is at least this long (the detector's window is shorter)

EN_VOICEMAIL = {
    "vm-unavail-ext": ["vm-theperson", "digits/2", "digits/0", "digits/4", "vm-isunavail",
                       "vm-intro"],
    "vm-onphone-ext": ["vm-theperson", "digits/3", "digits/1", "digits/7", "vm-isonphone",
                       "vm-intro"],
    "vm-intro-only": ["vm-intro"],
    "vm-nobody": ["vm-nobodyavail", "vm-intro"],
    "vm-unavail-short": ["vm-theperson", "digits/5", "digits/5", "vm-isunavail"],
    "vm-ext-unavail": ["extension", "digits/8", "digits/9", "vm-isunavail", "vm-intro"],
    "vm-hello-unavail": ["hello", "vm-theperson", "digits/6", "digits/0", "vm-isunavail",
                         "vm-leavemsg"],
    "vm-onphone-short": ["vm-theperson", "digits/4", "digits/2", "vm-isonphone"],
}
EN_IVR = {
    "ivr-pbx-main": ["basic-pbx-ivr-main"],
    "ivr-vm-options": ["vm-options"],
    "ivr-conf-menu": ["conf-usermenu"],
    "ivr-directory": ["dir-intro", "dir-instr"],
    "ivr-demo": ["demo-instruct"],
    "ivr-privacy": ["privacy-prompt"],
    "ivr-vm-advanced": ["vm-advopts", "vm-opts"],
    "ivr-queue": ["queue-periodic-announce", "queue-thereare", "digits/3",
                  "queue-callswaiting", "queue-holdtime"],
    "ivr-vm-instructions": ["vm-instructions"],
    "ivr-welcome-dir": ["dir-welcome", "dir-usingkeypad", "dir-pls-enter"],
}
ZH_VOICEMAIL = (
    "您拨打的用户暂时无法接通，请在提示音后留言",
    "您好，我现在不方便接听电话，请在嘀声后留言，我会尽快回复您",
    "对不起，您拨打的电话无人接听，请在提示音后留言，留言完毕请挂机",
    "您好，这里是王先生的语音信箱，请留下您的姓名和电话",
    "机主暂时无法接听，请在听到嘀声后开始录音",
    "您好，欢迎使用语音信箱，请在哔声后留言",
)
ZH_IVR = (
    "您好，欢迎致电星辰科技，查询订单请按1，售后服务请按2，人工服务请按0",
    "欢迎致电客户服务中心，话费查询请按1，流量办理请按2，返回上级菜单请按星号键",
    "您好，这里是客户服务热线，本次通话可能会被录音，业务咨询请按1，投诉建议请按2，查询进度请按3",
    "欢迎致电，请直拨分机号，查号请按0，如需帮助请按9",
    "您好，所有座席正忙，请耐心等待，您也可以按1留下电话号码，我们会尽快回电",
    "欢迎致电信用卡中心，个人业务请按1，企业业务请按2，挂失请按3，重听请按9",
)


@dataclass(frozen=True)
class Case:
    """One constructed answered call.

    Attributes:
        name: Unique name (kind, source, variant).
        label: The true answerer: human, voicemail or ivr.
        family: Where the source comes from (aishell, asterisk-en, espeak-zh, ...).
        group: The source group the split is made on (speaker, prompt chain, text).
        split: ``tune`` or ``test``.
        audio: Callee audio, 8 kHz int16, as the line delivers it.
        reply: A second utterance (8 kHz int16) said after the bot speaks, or None.
        codec: ``ulaw`` or ``alaw``.
    """

    name: str
    label: str
    family: str
    group: str
    split: str
    audio: np.ndarray
    reply: np.ndarray | None = None
    codec: str = "ulaw"


def _rng(*keys: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("|".join(map(str, keys)).encode()))


def _line(x: np.ndarray, codec: str) -> np.ndarray:
    """8 kHz float audio → G.711 round trip → int16."""
    if codec == "ulaw":
        wide = resample(x, RATE, 16000)
        x = resample(telephone_round_trip(np.clip(wide, -1, 1)), 16000, RATE)
        return np.clip(x * 32768, -32768, 32767).astype(np.int16)
    pcm = np.clip(x * 32768, -32768, 32767).astype(np.int16)
    return alaw_decode(alaw_encode(pcm))


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return (rng.standard_normal(n) * 10 ** (LINE_NOISE_DB / 20)).astype(np.float32)


def _normalise(x: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.abs(x).max()) if len(x) else 0.0
    return (x / top * peak).astype(np.float32) if top > 0 else x.astype(np.float32)


def _energy(x: np.ndarray) -> np.ndarray:
    n = len(x) // 160
    f = x[: n * 160].reshape(n, 160).astype(np.float64)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def excerpt(x: np.ndarray, length_s: float, start_s: float | None = None) -> np.ndarray:
    """About ``length_s`` of speech from ``x`` (8 kHz float), from its first voiced frame
    (or ``start_s``), ended at the quietest 20 ms frame within ±0.25 s of the wanted end."""
    e = _energy(x)
    if not len(e):
        return x
    voiced = np.flatnonzero(e > e.max() - 30)
    first = int(voiced[0]) if start_s is None else int(start_s * 50)
    want = first + int(length_s * 50)
    lo, hi = max(first + 10, want - 12), min(len(e), want + 13)
    end = lo + int(np.argmin(e[lo:hi])) if hi > lo else min(len(e), want)
    out = x[first * 160 : end * 160].copy()
    fade = min(80, len(out) // 4)
    if fade:
        out[:fade] *= np.linspace(0, 1, fade)
        out[-fade:] *= np.linspace(1, 0, fade)
    return out


def _assemble(parts: list[np.ndarray], lead_s: float, rng: np.random.Generator,
              tail_s: float = TAIL_S) -> np.ndarray:
    body = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    total = max(int((lead_s + tail_s) * RATE), int(lead_s * RATE) + len(body) + RATE * 3)
    out = _noise(total, rng)
    start = int(lead_s * RATE)
    out[start : start + len(body)] += body
    return out


def _split_of(groups: list[str]) -> dict[str, str]:
    """Alternate tune/test over the groups sorted by name."""
    return {g: ("tune" if i % 2 == 0 else "test") for i, g in enumerate(sorted(set(groups)))}


# ------------------------------------------------------------------------------ human
@dataclass(frozen=True)
class SpeechSource:
    path: Path
    family: str
    group: str


def speech_sources(data: Path) -> list[SpeechSource]:
    """Real speech clips of the shared data, with the group (speaker or file) of each."""
    out: list[SpeechSource] = []
    manifest = data / "asr_manifest.tsv"
    if manifest.is_file():
        with manifest.open(encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                path = data / row["path"]
                family = row["path"].split("/")[0]
                if family == "osr_8k_joinly" or not path.is_file():
                    continue  # one long English recording: no greeting-like excerpt
                name = path.stem
                group = name[6:11] if family == "aishell1_sample" else name
                out.append(SpeechSource(path, family, f"{family}/{group}"))
    more = data / "dialects_more" / "manifest.tsv"
    if more.is_file():
        with more.open(encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                path = data / "dialects_more" / row["path"]
                if path.is_file():
                    who = row.get("speaker") or path.stem
                    out.append(SpeechSource(path, f"dialects_more/{row['family']}",
                                            f"dialects_more/{who}"))
    return out


def human_cases(data: Path) -> Iterator[Case]:
    sources = speech_sources(data)
    split = _split_of([s.group for s in sources])
    for i, src in enumerate(sources):
        rng = _rng("human", src.path.name)
        try:
            x = resample(load_audio(src.path), 16000, RATE)
        except Exception:  # an unreadable clip is left out, not fatal
            continue
        x = _normalise(x, float(rng.uniform(0.25, 0.7)))
        length = float(rng.choice([rng.uniform(0.4, 1.2), rng.uniform(1.0, 2.0),
                                   rng.uniform(1.8, 2.8)], p=[0.45, 0.4, 0.15]))
        greeting = excerpt(x, length)
        if len(greeting) < RATE * 0.25:
            continue
        reply = None
        if i % 2 == 1 and len(x) > len(greeting) + RATE:
            rest_start = len(greeting) / RATE + float(rng.uniform(0.0, 0.5))
            reply_audio = excerpt(x, float(rng.uniform(0.8, 2.5)), rest_start)
            if len(reply_audio) >= RATE * 0.4:
                reply = reply_audio
        codec = "alaw" if i % 3 == 0 else "ulaw"
        audio = _assemble([greeting], float(rng.uniform(0.2, 1.0)), rng)
        line_reply = _line(reply, codec) if reply is not None else None
        yield Case(f"human/{src.path.stem}", "human", src.family, src.group, split[src.group],
                   _line(audio, codec), line_reply, codec)


# ------------------------------------------------------------------------------ machines
def _prompt(name: str, sounds: Path) -> np.ndarray:
    path = sounds / f"{name}.wav"
    x = resample(load_audio(path), 16000, RATE)  # load_audio gives 16 kHz float
    return x


def _gap(rng: np.random.Generator, lo: float = 0.05, hi: float = 0.35) -> np.ndarray:
    return np.zeros(int(rng.uniform(lo, hi) * RATE), np.float32)


def _beep(kind: int) -> np.ndarray:
    if kind == 0 and (SOUNDS / "beep.wav").is_file():
        return resample(load_audio(SOUNDS / "beep.wav"), 16000, RATE)
    hz, dur = ((1000.0, 0.5), (950.0, 0.3), (850.0, 0.4))[kind % 3]
    t = np.arange(int(dur * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _espeak(text: str, speed: int) -> np.ndarray:
    from tierline.audio.synthetic.espeak import render

    return resample(render(text, speed=speed), 16000, RATE)  # already through μ-law once


def machine_cases(sounds: Path = SOUNDS, mandarin: bool = True) -> Iterator[Case]:
    """Voicemail and IVR cases from asterisk prompts (and espeak-ng Mandarin)."""
    chains = [("voicemail", "asterisk-en", k, v) for k, v in EN_VOICEMAIL.items()]
    chains += [("ivr", "asterisk-en", k, v) for k, v in EN_IVR.items()]
    split = {**_split_of(list(EN_VOICEMAIL)), **_split_of(list(EN_IVR))}
    for label, family, key, names in chains:
        if not all((sounds / f"{n}.wav").is_file() for n in names):
            continue
        prompts = [_prompt(n, sounds) for n in names]
        for v, codec in enumerate(("ulaw", "alaw")):
            rng = _rng(key, v)
            parts: list[np.ndarray] = []
            for p in prompts:
                parts += [p, _gap(rng)]
            if label == "voicemail":
                parts += [_gap(rng, 0.2, 0.6), _beep(v + len(key))]
            audio = _assemble(parts, float(rng.uniform(0.2, 1.2)), rng)
            yield Case(f"{label}/{key}/{v}", label, family, key, split[key], _line(audio, codec),
                       None, codec)
    if not mandarin:
        return
    texts = [("voicemail", t) for t in ZH_VOICEMAIL] + [("ivr", t) for t in ZH_IVR]
    zh_split = {**_split_of([_text_key(t) for t in ZH_VOICEMAIL]),
                **_split_of([_text_key(t) for t in ZH_IVR])}
    for label, text in texts:
        key = _text_key(text)
        for v, (speed, codec) in enumerate(((150, "ulaw"), (185, "alaw"))):
            rng = _rng(key, v)
            parts = [_normalise(_espeak(text, speed), 0.5)]
            if label == "voicemail":
                parts += [_gap(rng, 0.2, 0.6), _beep(v + 1 + len(text))]
            audio = _assemble(parts, float(rng.uniform(0.2, 1.2)), rng)
            yield Case(f"{label}/zh-{key}/{v}", label, "espeak-zh", f"zh-{key}", zh_split[key],
                       _line(audio, codec), None, codec)


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def all_cases(data: Path | None, sounds: Path = SOUNDS, mandarin: bool = True) -> list[Case]:
    """Every case: humans from ``data`` (when given), machines from ``sounds``."""
    cases = list(human_cases(data)) if data is not None else []
    return cases + list(machine_cases(sounds, mandarin))
