"""How the end-of-turn trainer makes its examples and sets its thresholds."""

from __future__ import annotations

import random

import pytest

from tierline.audio.training.turn_end import Example, examples_of, fit, thresholds
from tierline.audio.turn_end_model import TurnEndModel

jieba = pytest.importorskip("jieba", reason="the train extra (jieba) is not installed")


def test_sentence_ends_are_complete_and_inner_cuts_are_not():
    turn = "你好，我想问一下价格。能便宜点吗？"
    rows = examples_of(turn, "t", random.Random(0), cuts=10)
    complete = [e.text for e in rows if e.complete]
    assert complete == ["你好，我想问一下价格。", turn]
    cuts = [e.text for e in rows if not e.complete]
    assert cuts and all(turn.startswith(c) and c not in complete for c in cuts)
    assert all(not c.endswith(("。", "？")) for c in cuts)
    assert len({e.held_out for e in rows}) == 1  # a turn is on one side of the split


def test_a_fit_separates_what_it_was_shown_and_thresholds_follow_the_held_out_rows():
    done = ["好的谢谢", "那就这样吧", "我们不要了", "多少钱啊", "可以的"] * 4
    open_ = ["因为我们", "如果你们", "然后那个", "我想问一下", "我们公司的"] * 4
    rows = [Example(t, True, "x", False) for t in done] + \
        [Example(t, False, "x", False) for t in open_]
    weights, bias = fit(rows, min_count=1)
    model = TurnEndModel(weights, bias, 0.5, 0.5)
    assert all(model.complete(t) > 0.5 for t in done)
    assert all(model.complete(t) < 0.5 for t in open_)
    close_at, hold_below = thresholds(model, rows, 0.05, 0.1)
    assert hold_below <= close_at
