"""Does a partial transcript stop inside a number? Then the caller is probably not done.

Callers pause while reading out phone numbers, amounts and counts (一三八，零零一二…;
预算大概是一百…). The endpointer waits longer before closing a turn whose partial transcript
ends inside such a quantity. Plain text rules, no NLU import (audio is a lower layer).
"""

from __future__ import annotations

import re

_DIGITS = "0-9０-９零〇一二两三四五六七八九十百千万亿幺壹贰叁肆伍陆柒捌玖拾佰仟"
_TRAILING_PUNCT = re.compile(r"[\s,，、.。…\-—~～]+$")
_ENDS_IN_NUMBER = re.compile(rf"[{_DIGITS}]$")
_ENDS_IN_CONNECTOR = re.compile(rf"[{_DIGITS}](?:点|块|元|万|千|百|个|来|多|到|至|加)$")
_CUE_TAIL = re.compile(r"(?:电话|手机号?|号码|号是|尾号|预算是?|金额是?|报价是?)[是为:：]?$")
_FINAL_PUNCT = re.compile(r"[？！?!]$")
_WORD_ENDING_IN_NUMERAL = re.compile(
    rf"(?<![{_DIGITS}])(?:统一|之一|唯一|同一|万一|逐一|单一|专一|不一|划一|其一|归一|合一|如一|"
    rf"一一|再三|千万|(?:第|星期|礼拜|周|初)[{_DIGITS}])$")
"""Words that end in a numeral character but are no quantity (统一, 之一, 第一, 千万 as
"by all means", 星期三): the caller is not mid-number. Preceded by a numeral they are part
of one again (三万一, 一千万, 一三八一一)."""


def ends_inside_quantity(text: str | None) -> bool:
    """True when the text stops inside (or right before) a number, phone number or amount.

    Examples: "我的手机号是一三八，" → True; "预算大概一百。" → True (a recogniser puts a
    full stop wherever the audio stops, so it is ignored); "电话是" → True;
    "我们有两百人。" → False; "多少钱？" → False (a question is complete); "你好" → False;
    "我们要统一" / "这是其中之一" / "第一" → False (words, not numbers).

    Args:
        text: Partial transcript so far (None or empty: False).
    """
    if not text:
        return False
    stripped = text.strip()
    if not stripped or _FINAL_PUNCT.search(stripped):
        return False
    tail = _TRAILING_PUNCT.sub("", stripped)
    if not tail:
        return False
    if _CUE_TAIL.search(tail):
        return True
    if _WORD_ENDING_IN_NUMERAL.search(tail):
        return False
    return bool(_ENDS_IN_NUMBER.search(tail) or _ENDS_IN_CONNECTOR.search(tail))
