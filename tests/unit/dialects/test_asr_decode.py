"""WhisperASR's decode logic on a fake CTranslate2 runtime: windows, guards, languages, text.

The real model's behaviour is checked in test_asr_dynamic.py; here every model call is
scripted, so each rule (window length, loop fallback, no-speech drop, language choice, prompt
fallback, readings, U+FFFD repair, encoder states) is pinned down on its own.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from tierline.dialects.asr import DOMAIN_PROMPT, AsrConfig, WhisperASR, repair_text
from tierline.dialects.inference_queue import InferenceQueue
from tierline.dialects.memo import MemoASR
from tierline.dialects.whisper_ct2 import Beam, split_pieces, window_frames

TS = 1000  # <|0.00|>
EOT = 500


class FakeRuntime:
    """Stands in for :class:`WhisperRuntime`: characters are tokens, beams are scripted.

    ``script(frames, prompt, reader)`` returns the text (or a :class:`Beam`) a decode gives.
    """

    def __init__(self, script, heard=(("zh", 0.97), ("en", 0.02)), reader: bool = False):
        self.script = script
        self.heard = list(heard)
        self.model = SimpleNamespace(is_multilingual=True)
        self.reader = object() if reader else None
        self.languages = frozenset({"zh", "en", "ja"})
        self.tokenizer = SimpleNamespace(timestamp_begin=TS, eot=EOT)
        self.vocab: list[str] = []
        self.encoded: list[int] = []
        self.decodes: list[tuple[int, str, str | None, bool]] = []

    def ids(self, text: str) -> tuple[int, ...]:
        for c in text:
            if c not in self.vocab:
                self.vocab.append(c)
        return tuple(self.vocab.index(c) for c in text)

    def mel(self, audio):
        return np.zeros((80, len(audio) // 160), dtype=np.float32)

    def encode(self, mel, frames):
        self.encoded.append(frames)
        return np.ones((1, frames // 2, 4), dtype=np.float32)

    def detect_language(self, encoded):
        return self.heard

    def prompt(self, language, previous, timestamps=True):
        return [language, previous]

    def generate(self, encoded, prompt, *, beam_size, hypotheses, max_new,
                 repetition_penalty, reader=False):
        frames = encoded.shape[1] * 2
        self.decodes.append((frames, prompt[0], prompt[1], reader))
        out = self.script(frames, prompt[1], reader)
        if isinstance(out, Beam):
            return out
        texts = out if isinstance(out, list) else [out]
        end = TS + min(frames // 2, 1500) - 1
        seqs = tuple((TS, *self.ids(t), end) for t in texts)
        return Beam(seqs, tuple(-0.1 * (i + 1) for i in range(len(seqs))), 0.05,
                    capped=len(seqs[0]) >= max_new)

    def start(self, encoded, prompt, **options):
        """A beam started beside another: decoded when collected (decodes keep their order)."""
        return SimpleNamespace(result=lambda: self.generate(encoded, prompt, **options))

    def text(self, tokens):
        return "".join(self.vocab[t] for t in tokens if t < EOT)


def make(script, config: AsrConfig | None = None, **kwargs) -> tuple[WhisperASR, FakeRuntime]:
    runtime = FakeRuntime(script, **kwargs)
    asr = WhisperASR("/nowhere", config or AsrConfig(t2s=False),
                     queue=InferenceQueue(1), runtime=runtime)
    return asr, runtime


def seconds(s: float) -> np.ndarray:
    return np.full(int(s * 16000), 0.01, dtype=np.float32)


# -- windows ---------------------------------------------------------------------------------

def test_window_frames_follow_the_turn_plus_margin():
    assert window_frames(250, "dynamic", 50) == 300
    assert window_frames(251, "dynamic", 50) == 302  # even, for the stride-2 convolution
    assert window_frames(2990, "dynamic", 50) == 3000
    assert window_frames(250, "fixed", 50) == 3000


def test_a_turn_is_encoded_on_a_window_cut_to_its_length():
    asr, rt = make(lambda frames, prompt, reader: "你好")
    recognition = asr.recognise(seconds(2.0))
    assert rt.encoded == [300]  # 2 s + 1 s of silence
    t = recognition.transcript
    assert (t.text, t.window_s) == ("你好", 3.0)
    assert t.window_s <= 2.0 + asr.config.margin_s
    assert recognition.states.frames.shape == (100, 4)  # the audio's frames, not the margin
    assert recognition.states.pooled().shape == (4,)


def test_the_fixed_window_pads_every_turn_to_30_s():
    asr, rt = make(lambda frames, prompt, reader: "你好",
                   AsrConfig(t2s=False, window="fixed"))
    assert asr.transcribe(seconds(2.0)).window_s == 30.0
    assert rt.encoded == [3000]


def test_a_long_turn_is_read_in_30_s_windows():
    asr, rt = make(lambda frames, prompt, reader: "一" if frames == 3000 else "二")
    t = asr.transcribe(seconds(40.0))
    assert rt.encoded == [3000, 1100]
    assert t.text == "一二" and t.alternatives == ()  # readings only for a one-window turn


def test_pieces_split_at_timestamp_pairs_and_leave_an_unfinished_one():
    tokens = (TS, 1, 2, TS + 50, TS + 50, 3, 4, TS + 100, TS + 120, 5)
    pieces, consumed = split_pieces(tokens, TS, 0.0, 400)
    assert [(p.start_s, p.end_s) for p in pieces] == [(0.0, 1.0), (1.0, 2.0)]
    assert consumed == 200  # the unfinished piece starts again at 2.0 s
    pieces, consumed = split_pieces((TS, 1, TS + 90), TS, 1.0, 400)
    assert (pieces[0].start_s, pieces[0].end_s, consumed) == (1.0, 2.8, 400)


# -- guards ----------------------------------------------------------------------------------

def test_a_dynamic_decode_that_loops_is_decoded_again_on_the_30_s_window():
    asr, rt = make(lambda frames, prompt, reader: "我们的" if frames == 3000 else "好" * 40)
    t = asr.transcribe(seconds(3.0))
    assert rt.encoded == [400, 3000]
    assert t.text == "我们的" and asr.fallbacks == 1


def test_without_the_fallback_a_loop_is_dropped():
    asr, rt = make(lambda frames, prompt, reader: "好" * 40,
                   AsrConfig(t2s=False, fixed_fallback=False))
    assert asr.transcribe(seconds(3.0)).text == ""
    assert rt.encoded == [400]


def test_a_decode_that_hits_the_length_bound_falls_back_too():
    def script(frames, prompt, reader):
        if frames == 3000:
            return "对"
        return Beam(((TS, *rt.ids("一二三四五六七八九十")),), (-0.2,), 0.05, capped=True)

    asr, rt = make(script)
    assert asr.transcribe(seconds(1.0)).text == "对"


def test_what_whisper_rates_as_silence_is_dropped():
    asr, rt = make(lambda frames, prompt, reader: Beam(((TS, *rt.ids("再次"), TS + 40),),
                                                      (-0.3,), 0.75))
    t = asr.transcribe(seconds(2.0))
    assert (t.text, t.confidence, t.no_speech_prob) == ("", 0.0, 0.75)


@pytest.mark.parametrize("plain", ["转人工。", "呃。", ""])
def test_a_prompt_echo_is_decoded_again_without_the_prompt(plain: str):
    asr, rt = make(lambda frames, prompt, reader: "转人工。" if prompt else plain,
                   AsrConfig(t2s=False, initial_prompt=DOMAIN_PROMPT))
    # A caller who really said 转人工 keeps it; an echo over a cough or silence is dropped.
    assert asr.transcribe(seconds(1.0)).text == plain
    assert [d[2] for d in rt.decodes] == [DOMAIN_PROMPT, None]


def test_a_transcript_with_no_echo_is_decoded_once():
    asr, rt = make(lambda frames, prompt, reader: "我们的预算是七十万。" if prompt
                   else "我们的遇算是七十万。",
                   AsrConfig(t2s=False, initial_prompt=DOMAIN_PROMPT))
    assert asr.transcribe(seconds(1.0)).text == "我们的预算是七十万。"
    assert [d[2] for d in rt.decodes] == [DOMAIN_PROMPT]


# -- text --------------------------------------------------------------------------------------

def test_no_replacement_character_reaches_a_transcript():
    asr, _ = make(lambda frames, prompt, reader: ["预算\ufffd七十万", "预算\ufffd", "\ufffd"])
    t = asr.transcribe(seconds(2.0))
    assert t.text == "预算七十万"
    assert all("\ufffd" not in h.text for h in t.alternatives)
    assert repair_text("好\ufffd的\x00") == "好的"
    assert repair_text("a\ud800b") == "a?b"  # a lone surrogate cannot be stored as UTF-8


def test_the_beam_and_the_second_decoders_readings_come_from_one_encode():
    asr, rt = make(lambda frames, prompt, reader: ["坐席", "做席"] if reader
                   else ["坐起", "坐席", "作息"], reader=True)
    t = asr.transcribe(seconds(2.0))
    assert rt.encoded == [300]
    assert [h.text for h in t.alternatives] == ["坐起", "坐席", "作息", "坐席", "做席"]
    assert t.text == "坐起"
    best_only, _ = make(lambda frames, prompt, reader: ["坐起"],
                        AsrConfig(t2s=False, alternatives=1))
    assert best_only.transcribe(seconds(2.0)).alternatives == ()  # one reading: no beam


# -- languages ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("heard", "language", "prob"), [
    ((("zh", 0.97), ("en", 0.02)), "zh", 0.97),
    ((("en", 0.91), ("zh", 0.08)), "en", 0.91),   # confidently English
    ((("en", 0.45), ("zh", 0.40)), "zh", 0.40),   # not confident: Mandarin as before
    ((("en", 0.65), ("zh", 0.30)), "zh", 0.30),   # below the 0.7 the call centre needs
    ((("ja", 0.92), ("zh", 0.05)), "zh", 0.05),   # not a language the call centre switches to
])
def test_the_language_is_detected_per_turn(heard, language, prob):
    asr, rt = make(lambda frames, prompt, reader: "hello", heard=heard)
    t = asr.transcribe(seconds(1.0))
    assert (t.language, t.language_prob) == (language, prob)
    assert 0.0 <= t.language_prob <= 1.0
    assert t.languages[0] == heard[0]
    assert rt.decodes[0][1] == language


def test_without_detection_the_language_is_the_configured_one():
    asr, _ = make(lambda frames, prompt, reader: "你好", heard=(("en", 0.99),),
                  config=AsrConfig(t2s=False, detect_language=False))
    t = asr.transcribe(seconds(1.0))
    assert (t.language, t.language_prob, t.languages) == ("zh", None, ())


# -- hooks -------------------------------------------------------------------------------------

def test_the_encoder_states_of_the_decode_come_with_its_transcript():
    """What a dialect identifier reads (dialects/call_dialect.py): no second encode."""
    asr, rt = make(lambda frames, prompt, reader: "你好")
    r = asr.recognise(seconds(2.0))
    assert r.transcript.text == "你好" and r.transcript.dialect is None
    assert r.states.frames.shape == (100, 4) and r.states.window == "dynamic"
    assert rt.encoded == [300]  # no second encode


def test_partials_go_to_the_queue_as_partials():
    asr, _ = make(lambda frames, prompt, reader: "你好")
    asked = []
    real = asr.queue.run
    asr.queue.run = lambda fn, final=True: asked.append(final) or real(fn, final)
    memo = MemoASR(asr)
    memo.transcribe(seconds(1.0), partial=True)
    memo.transcribe(seconds(2.0))
    assert asked == [False, True]
    assert not memo.busy()


def test_config_rejects_an_unknown_window():
    with pytest.raises(ValueError, match="window"):
        AsrConfig(window="elastic")
    assert replace(AsrConfig(), cpu_threads=2, workers=None).parallel == 2
    assert AsrConfig(cpu_threads=4, workers=2).threads_per_decode == 2


def test_words_a_short_window_calls_silence_are_checked_on_the_30_s_window():
    def script(frames, prompt, reader):
        ids = (TS, *rt.ids("无论提出任何要求"), TS + 100)
        return Beam((ids,), (-0.3,), 0.3 if frames == 3000 else 0.68)

    asr, rt = make(script)
    t = asr.transcribe(seconds(2.0))
    assert rt.encoded == [300, 3000] and t.text == "无论提出任何要求"
    silent, rt = make(lambda frames, prompt, reader: Beam(((TS, TS + 10),), (-0.3,), 0.9))
    assert silent.transcribe(seconds(2.0)).text == "" and rt.encoded == [300]  # no words
