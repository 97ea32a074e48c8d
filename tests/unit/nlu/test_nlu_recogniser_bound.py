"""The noisy copies split by how much the recogniser lost (nlu.evaluation.recogniser_bound)."""

from __future__ import annotations

import math

import pytest

from tierline.nlu.data import Example, load_challenge, load_noisy_intents, load_noisy_pairs
from tierline.nlu.evaluation.evaluate import predict, predict_beams
from tierline.nlu.evaluation.recogniser_bound import CER_EDGES, recogniser_bound, turn_cer
from tierline.nlu.evaluation.scores import score
from tierline.nlu.intents import FakeIntentClassifier


def _pair(said: str, heard: str, label: str):
    return Example(said, label, "test"), Example(heard, label, "test", "asr")


FAKE = FakeIntentClassifier({"我要投诉你们": "complaint", "我想买一套系统": "purchase_intent",
                             "价格是多少": "price_inquiry"})


def _bound(pairs):
    """The bound of FAKE's readings, as nlu-eval makes them."""
    return recogniser_bound(pairs, predict_beams(FAKE, [noisy for _, noisy in pairs]),
                            predict(FAKE, [clean.text for clean, _ in pairs]))


def test_numerals_and_punctuation_are_not_recogniser_errors() -> None:
    assert turn_cer("预算三十万", "预算30万。") == (0, 5)
    assert turn_cer("我要投诉你们", "") == (6, 6)


def test_a_copy_heard_word_for_word_has_nothing_to_bound() -> None:
    pairs = [_pair("我要投诉你们", "我要投诉你们", "complaint"),
             _pair("价格是多少", "价格是多少", "price_inquiry"),
             _pair("随便聊聊", "随便聊聊", "other")]
    b = _bound(pairs)
    assert b.cer == 0.0
    assert b.bands[0].turns == 3 and all(band.turns == 0 for band in b.bands[1:])
    assert b.macro_f1_heard == b.macro_f1_clean
    assert all(f1 == b.macro_f1_clean for _, f1 in b.ceilings)


def test_a_lost_turn_counts_in_its_band_and_in_the_ceilings_above_it() -> None:
    pairs = [_pair("我要投诉你们", "我要投诉你们", "complaint"),
             _pair("我想买一套系统", "我想买一套戏痛", "purchase_intent"),  # CER 2/7
             _pair("价格是多少", "", "price_inquiry")]                  # CER 1: all lost
    b = _bound(pairs)
    assert [band.turns for band in b.bands] == [1, 1, 0, 1]
    assert [band.right_heard for band in b.bands] == [1, 0, 0, 0]
    assert [band.right_clean for band in b.bands] == [1, 1, 0, 1]
    assert b.bands[-1].high == math.inf and b.bands[-1].to_dict()["high"] is None
    truth = ["complaint", "purchase_intent", "price_inquiry"]
    assert b.macro_f1_heard == score(truth, ["complaint", "other", "other"]).macro_f1
    # below 0.25 nothing changes; below 0.5 and 0.75 the misheard purchase is read as said
    # and the empty turn stays lost
    assert [e for e, _ in b.ceilings] == list(CER_EDGES)
    assert b.ceilings[0][1] == b.macro_f1_heard
    fixed = score(truth, ["complaint", "purchase_intent", "other"]).macro_f1
    assert b.ceilings[1][1] == b.ceilings[2][1] == fixed
    assert b.cer == pytest.approx((0 + 2 + 5) / (6 + 7 + 5))


def test_no_pairs_or_missing_readings_is_an_error() -> None:
    with pytest.raises(ValueError):
        recogniser_bound([], [], [])
    with pytest.raises(ValueError):
        recogniser_bound([_pair("价格是多少", "价格是多少", "price_inquiry")], [], ["other"])


@pytest.mark.parametrize("copy", ["espeak", "kokoro"])
def test_pairs_are_the_copies_beside_their_utterances(copy: str) -> None:
    pairs = load_noisy_pairs("test", copy)
    assert [noisy for _, noisy in pairs] == load_noisy_intents("test", copy)
    assert all(clean.label == noisy.label and clean.split == noisy.split == "test"
               for clean, noisy in pairs)


@pytest.mark.parametrize("copy", ["espeak", "kokoro"])
def test_the_challenge_set_has_both_copies_with_beams(copy: str) -> None:
    pairs = load_noisy_pairs("challenge", copy)
    assert [clean for clean, _ in pairs] == load_challenge()
    assert all(noisy.split == "challenge" and noisy.source == "asr" for _, noisy in pairs)
    heard = [noisy for _, noisy in pairs if noisy.text]  # espeak-ng: some turns heard as nothing
    assert len(heard) >= 0.85 * len(pairs)
    assert sum(len(noisy.beam) > 1 and noisy.beam[0][0] == noisy.text for noisy in heard
               ) >= 0.9 * len(heard)
