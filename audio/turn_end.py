"""Does a transcript plainly end a turn? Then the endpointer may close it after a short pause.

A caller who has finished a sentence should not wait the full hangover for the bot. The rule
reads the transcript of the open turn (the speculative final decode, or a streaming
transport's partial): a turn is plainly complete when it ends in sentence-final punctuation
(。？！) or a sentence-final particle (吗, 呢, 吧, ...), and it is never complete while it stops
inside a number (:func:`tierline.audio.quantity.ends_inside_quantity`) or on a conjunction or
filler (然后, 那个, 就是, 嗯...), where callers pause to go on. Plain text rules, no NLU import
(audio is a lower layer).

The endpointer's early close is off by default (``ConfirmConfig.early_close_ms = 0``): on real
speech with pauses (benchmarks/bench_turn_end.py, 30 AISHELL clip pairs, Whisper base) closing
at 300 ms fired at only 3-33 % of real turn ends (Whisper base seldom punctuates Mandarin) while
pauses of 300 / 450 ms inside a sentence were cut off in 23 % / 37 % of turns instead of 13 % /
23 %, and pauses between two sentences in 10 % / 13 % instead of none.
"""

from __future__ import annotations

import re

from tierline.audio.quantity import ends_inside_quantity

_FINAL_PUNCT = re.compile(r"[。？！?!]+$")
_TRAILING = re.compile(r"[\s,，、.。…？！?!\-—~～]+$")
_PARTICLE = re.compile(r"(?<=[\u4e00-\u9fff])[吗嘛呢吧啊呀啦哦喔哈]$")
"""A sentence-final particle after a word (啊 alone is a filler, not an ending)."""
_GOES_ON = re.compile(
    r"(?:然后|而且|但是|可是|不过|所以|因为|如果|要是|还有|或者|还是|以及|并且|另外|比如|"
    r"就是|那个|这个|那么|那就|的话|就是说|也就是|和|跟|与|或|跟你说|我想|我要|是|在|把|给|"
    r"嗯+|呃+|额+|唔+|哎+)$")
"""Conjunctions, fillers and words a sentence cannot end on: the caller is going on."""
_FILLER_ONLY = re.compile(r"^(?:[嗯呃额啊唔哎哦喔]+)$")


def goes_on(text: str | None) -> bool:
    """True when ``text`` stops on a conjunction, filler or word a sentence cannot end on."""
    bare = _TRAILING.sub("", (text or "").strip())
    return bool(bare) and bool(_FILLER_ONLY.match(bare) or _GOES_ON.search(bare))


def ends_turn(text: str | None) -> bool:
    """True when ``text`` plainly ends the caller's turn.

    Examples: "我想问一下价格。" → True; "能便宜点吗" → True; "好的吧" → True;
    "我想问一下然后。" → False (a conjunction, whatever the full stop);
    "我的电话是一三八。" → False (inside a number); "嗯" → False (a filler);
    "我想问一下价格" → False (no sign the sentence is over).

    Args:
        text: Transcript of the open turn (None or empty: False).
    """
    if not text:
        return False
    stripped = text.strip()
    bare = _TRAILING.sub("", stripped)
    if not bare or goes_on(bare):
        return False
    if ends_inside_quantity(stripped) or ends_inside_quantity(bare):
        return False
    return bool(_FINAL_PUNCT.search(stripped) or _PARTICLE.search(bare))
