"""The committed NLU corpus: size, split hygiene and the noisy-ASR copies."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from helpers import paths

from tierline.nlu.data import (
    ASR_COPIES,
    DATA_DIR,
    SENTIMENT_LABELS,
    SPLITS,
    asr_copies,
    load_intents,
    load_noisy_intents,
    load_sentiment,
)
from tierline.nlu.errors import NluError
from tierline.nlu.vocab import INTENTS

_FILL = re.compile(r"[\s，。！？、,.!?…~～嗯啊呀吧呢哦哎那个就是]+")


def _bigrams(text: str) -> set[str]:
    t = _FILL.sub("", text)
    return {t[i:i + 2] for i in range(len(t) - 1)} or {t}


def test_every_intent_has_sixty_utterances_and_every_split() -> None:
    rows = load_intents()
    per_intent = Counter(e.label for e in rows)
    assert set(per_intent) == set(INTENTS)
    assert min(per_intent.values()) >= 60, per_intent
    per_split = Counter((e.label, e.split) for e in rows)
    for intent in INTENTS:
        for split in SPLITS:
            assert per_split[(intent, split)] >= 5, (intent, split)


def test_no_text_is_in_two_rows() -> None:
    texts = [_FILL.sub("", e.text) for e in load_intents()]
    dupes = [t for t, n in Counter(texts).items() if n > 1]
    assert not dupes


def test_test_split_has_no_near_duplicate_in_train() -> None:
    train = {}
    for e in load_intents("train"):
        train.setdefault(e.label, []).append(_bigrams(e.text))
    leaks = []
    for e in load_intents("test"):
        g = _bigrams(e.text)
        if any(len(g & t) / len(g | t) >= 0.5 for t in train.get(e.label, [])):
            leaks.append(e.text)
    assert not leaks


def test_noisy_copies_follow_the_clean_rows() -> None:
    copies = asr_copies()
    corpus = {e.text for e in load_intents()}
    assert copies, "intents_asr.tsv is missing"
    assert set(copies) <= corpus
    noisy_test = load_noisy_intents("test")
    assert len(noisy_test) == len(load_intents("test")), "every test row needs an ASR copy"
    # Whisper changes most utterances: the copy is not the clean text
    changed = sum(e.text != c for c, e in zip(
        [x.text for x in load_intents("test")], noisy_test, strict=True))
    assert changed / len(noisy_test) > 0.5


def test_kokoro_copy_covers_dev_and_test_and_is_closer_to_what_was_said() -> None:
    corpus = {e.text for e in load_intents()}
    copies = asr_copies(DATA_DIR / ASR_COPIES["kokoro"])
    assert set(copies) <= corpus
    for split in ("dev", "test"):
        assert len(load_noisy_intents(split, "kokoro")) == len(load_intents(split))
    # the neural voice keeps more of the utterance than espeak-ng for most rows
    from tierline.nlu.data import load_heard_intents

    assert len(load_heard_intents("test", "kokoro")) > len(load_heard_intents("test"))


def test_unknown_asr_copy_is_an_nlu_error() -> None:
    with pytest.raises(NluError, match="unknown ASR copy"):
        load_noisy_intents("test", "festival")


def test_sentiment_rows() -> None:
    rows = load_sentiment()
    counts = Counter((e.label, e.split) for e in rows)
    for label in SENTIMENT_LABELS:
        for split in SPLITS:
            assert counts[(label, split)] >= 5


def test_unknown_split_is_an_nlu_error() -> None:
    with pytest.raises(NluError):
        load_intents("validation")


def test_challenge_set_is_separate_from_training_data() -> None:
    from tierline.nlu.data import load_challenge

    rows = load_challenge()
    per_intent = Counter(e.label for e in rows)
    assert set(per_intent) == set(INTENTS) and min(per_intent.values()) >= 35, per_intent
    assert len({e.text for e in rows}) == len(rows)
    train = {e.text.rstrip("。？！") for e in load_intents("train")}
    # a few typical wordings of the first 150 coincide with corpus rows; most must be new
    assert sum(e.text in train for e in rows) <= 10


# Short generic wordings that were in the corpus before this guard and sit between 0.5 and 0.7
# of a sample-call turn ("不需要" vs "我们不需要。"): tolerated, but nothing may join them.
_GENERIC_NEAR_SAMPLES = {
    "我们的合同下个月就到期了，不打算续了", "能按我们的需求改吗", "报表能不能按我们的格式来",
    "能不能按我们的要求做个看板", "别打了，我们不需要", "我们不需要这种系统", "不需要",
    "俺们不需要", "我想体验一下你们的系统",
}


def test_corpus_does_not_copy_the_sample_calls() -> None:
    """The sample calls test generalisation end to end: no corpus row may (nearly) copy a turn."""
    calls = paths.CALLS
    turns = [line.strip() for f in sorted(calls.glob("*.txt"))
             for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(turns) >= 10
    grams = [_bigrams(t) for t in turns]
    close = {}
    for e in load_intents():
        g = _bigrams(e.text)
        worst = max(len(g & t) / len(g | t) for t in grams)
        if worst >= 0.5:
            close[e.text] = round(worst, 2)
    assert all(j < 0.7 for j in close.values()), close
    assert set(close) <= _GENERIC_NEAR_SAMPLES, close


def test_heard_enough_keeps_transcripts_that_kept_a_third() -> None:
    from tierline.nlu.data import heard_enough, load_heard_intents

    assert heard_enough("我们要卖你们的标准弹", "我们要买你们的标准版，十个账号")
    assert not heard_enough("", "能不能免费用一个月")
    assert not heard_enough("努力哦", "你好")  # nothing in common
    assert not heard_enough("谢谢观看", "系统提示权限不足")  # a hallucination
    heard = load_heard_intents("test")
    assert 0 < len(heard) < len(load_noisy_intents("test"))
