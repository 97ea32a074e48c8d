"""The shipped end-of-turn model on words written for this test (not its training rows)."""

from __future__ import annotations

import json

import pytest

from tierline.audio.errors import AudioError
from tierline.audio.turn_end_model import TurnEndModel, bare, features, load_turn_end_model

FINISHED = ["那就先这样吧", "你们几点下班啊", "我下周再打给你", "好的谢谢你", "这个价格太贵了",
            "我们不需要", "能不能再便宜一点呢", "麻烦帮我转一下人工"]
UNFINISHED = ["我想问一下你们那个", "因为我们公司的", "如果价格合适的话", "我们大概有",
              "然后", "我的电话是一三八", "预算是", "我们这边主要是想"]


@pytest.fixture(scope="module")
def model() -> TurnEndModel:
    return load_turn_end_model()


def test_thresholds_are_ordered(model: TurnEndModel):
    assert 0 < model.hold_below <= model.close_at < 1
    assert model.weights and model.trained_on


def test_finished_words_score_above_unfinished_ones(model: TurnEndModel):
    done = [model.complete(t) for t in FINISHED]
    open_ = [model.complete(t) for t in UNFINISHED]
    # ranking: most finished turns above most unfinished ones (AUC on these 64 pairs)
    pairs = sum(d > u for d in done for u in open_) / (len(done) * len(open_))
    assert pairs >= 0.85, (done, open_)
    assert sum(model.unfinished(t) for t in UNFINISHED) >= 6
    # held out at training, 10 % of finished turns are held; two of these eight are
    # (我下周再打给你, 这个价格太贵了: sentences that end on a verb phrase, not a particle)
    assert sum(model.unfinished(t) for t in FINISHED) <= 2


@pytest.mark.parametrize("text", ["我的电话是一三八", "预算大概一百", "电话是"])
def test_never_finished_inside_a_number(model: TurnEndModel, text: str):
    assert not model.finished(text)


def test_punctuation_does_not_change_the_reading(model: TurnEndModel):
    for text in FINISHED + UNFINISHED:
        assert model.complete(text + "。") == pytest.approx(model.complete(text))
        assert bare(text + "，。 ") == text


def test_no_words_is_not_finished(model: TurnEndModel):
    assert model.complete("") == 0.0 and model.complete("。") == 0.0
    assert not model.unfinished("") and not model.finished(None)


def test_digits_are_one_class():
    assert features("预算五十万") == features("预算80万")


def test_a_broken_model_file_is_one_clear_error(tmp_path):
    path = tmp_path / "turn_end.json"
    path.write_text(json.dumps({"bias": 0.1}), encoding="utf-8")
    with pytest.raises(AudioError, match="end-of-turn model"):
        load_turn_end_model(path)
