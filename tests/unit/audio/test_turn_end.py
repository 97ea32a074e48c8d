"""The end-of-turn rule: a plainly finished sentence, never inside a number or on a conjunction."""

from __future__ import annotations

import pytest

from tierline.audio.turn_end import ends_turn


@pytest.mark.parametrize("text", [
    "我想问一下价格。", "能便宜点吗", "多少钱？", "好的吧", "是吗", "好啊", "你们几点下班呢",
    "太贵了！",
])
def test_a_finished_sentence_ends_the_turn(text):
    assert ends_turn(text)


@pytest.mark.parametrize("text", [
    # inside a number, whatever the punctuation Whisper puts where the audio stops
    "我的电话是一三八。", "一三八一一？", "预算大概一百。", "电话是", "大概三十来。",
    # a conjunction or filler: the caller is going on
    "我想问一下然后。", "那个。", "我们公司就是", "价格还有", "我想说嗯", "嗯", "呃。", "啊。",
    # no sign the sentence is over
    "我想问一下价格", "", None,
])
def test_no_early_end_inside_a_number_or_on_a_conjunction(text):
    assert not ends_turn(text)
