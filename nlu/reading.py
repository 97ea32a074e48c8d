"""What the trained models read: negation resolved, insult words in a literal sense left out.

The intent and sentiment models read characters and short character pairs; they do not
follow the scope of a negation and they cannot tell an insult from the same word in its
everyday sense. Measured on the shipped models: "我没有不满意" read as complaint 0.70 with
sentiment −0.88, "我不是来投诉的" as complaint 0.97, "我们不得不换系统了" as refusal 0.72,
"我们公司是做垃圾处理设备的" as complaint 0.47 with sentiment −0.89. :func:`model_reading`
rewrites a turn before the models see it, so that the words they key on mean what they say:

- **double negatives** cancel: 不是不想买 → 想买, 领导没有不同意 → 领导同意, 没有不满意 and
  没什么不满 → 挺满意 (not 有没有不… or 是不是不…, which are questions, nor 不是不是, a repeated
  no). The intent model still reads many satisfied turns as complaints ("我对你们的服务很满意"
  came out complaint 0.83): :func:`tierline.nlu.pipeline.Nlu.analyze` moves the complaint
  probability of a turn with positive sentiment to product_question;
- **modal double negatives** (不得不, 不能不, 不会不, 不可不: "must", "will") lose the negators:
  不得不说 → 说, 不得不换 → 换;
- **a denied complaint** (不是来投诉的, 没有要投诉的意思, 不想抱怨) is left out;
- **literal senses** (:func:`literal_spans`): an insult or threat word inside a compound of its
  everyday sense (垃圾处理, 生活垃圾, 滚筒, 报警器, 新媒体, 律师事务所, 投诉工单, 差评率, 废物回收,
  我妈的) is left out, and the anger cues (:func:`tierline.nlu.sentiment.anger_cues`) skip it.

The rewrite only removes or cancels words; a turn without these forms reads unchanged.
"""

from __future__ import annotations

import re

__all__ = ["literal_spans", "model_reading"]

_HAN = r"[\u4e00-\u9fff]"
_DOUBLE = re.compile(
    r"(?<![有是])(?:并没有|没有|没|并不是|不是|并非|也不是|又不是|没说)"
    r"(?:什么|啥|任何|哪里|我|我们|说)?\s*不"
    rf"(?!是)(?={_HAN})")
_MODAL = re.compile(r"不得不|不能不|不可不|不会不")
_DENIED_COMPLAINT = re.compile(
    r"(?:并不是|不是|并非|没有|没|不想|不打算|不会)(?:来|要|想|在|说)?(?:投诉|抱怨|吐槽|找茬|找麻烦)"
    r"(?:的意思|你们|的)?")
_SATISFIED = re.compile(r"满意?")
"""满意 / 满 after a cancelled double negative reads as 挺满意: the sentiment model reads a bare
满意 after a pronoun as negative ("我们满意" −0.51; "我们挺满意" +0.66)."""

# word -> compounds in which it has its everyday, non-insulting sense
_LITERAL: dict[str, str] = {
    "垃圾": r"(?:生活|厨余|建筑|医疗|餐厨|工业|电子|有害|可回收|其他|干|湿|装修|园林|大件)垃圾"
            r"|垃圾(?:处理|分类|回收|桶|站|车|场|袋|焚烧|清运|填埋|发电|转运|中转|清理|收集|箱|房"
            r"|处置|压缩|渗滤|减量|邮件|短信)",
    "滚": r"滚(?:筒|动|轮|珠|石|烫|雪球|存|刀|梯|床|针|压|涂|烫)|(?:翻|打|利|车轮|摇)滚",
    "律师": r"律师(?:事务所|行业|费|资格|执业)|(?:我是|我们是|当|做|作为)(?:一名|一个|个)?律师",
    "法院": r"(?:是|在)法院(?:的|工作|上班)|法院(?:系统|信息化)",
    "媒体": r"(?:新|自|社交|多|融|流|全)媒体"
            r"|媒体(?:公司|行业|运营|投放|平台|资源|广告|矩阵|账号|部)",
    "曝光": r"曝光(?:度|量|率|时间|灯|机|补偿|不足|过度)"
            r"|(?:品牌|产品|增加|提高|更多|获得|广告)曝光",
    "报警": r"报警(?:器|系统|功能|装置|阈值|设置|信息|通知|规则|提醒|模块|电话)"
            r"|(?:自动|超时|异常|设备|监控|温度|烟雾|火灾|故障)报警",
    "投诉": r"投诉(?:管理|处理|工单|模块|功能|率|渠道|电话|系统|流程|量|分类|记录|单)"
            r"|(?:客户|顾客|用户|买家|消费者|处理|受理|减少|降低)(?:的)?投诉",
    "差评": r"差评(?:率|管理|处理|预警|回复)|(?:处理|回复|减少|降低|删除|好评)差评",
    "废物": r"(?:固体|危险|工业|医疗|生活|电子)废物|废物(?:处理|回收|利用|处置|管理)",
    "妈的": r"(?:我|你|他|她|咱|俺)妈的",
    "他妈": r"他妈妈",
    "搞什么": r"搞什么(?:活动|优惠|促销|团购|折扣)",
}
_LITERAL_RE = re.compile("|".join(f"(?P<w{i}>{p})" for i, p in enumerate(_LITERAL.values())))
_LITERAL_WORDS = tuple(_LITERAL)


def literal_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of insult or threat words used in their everyday sense (垃圾 of 垃圾处理)."""
    spans = []
    for m in _LITERAL_RE.finditer(text):
        word = _LITERAL_WORDS[int(m.lastgroup[1:])]  # type: ignore[index]
        at = m.group(0).find(word)
        if at >= 0:
            spans.append((m.start() + at, m.start() + at + len(word)))
    return spans


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start >= last:
            out.append(text[last:start])
            last = end
    out.append(text[last:])
    return "".join(out)


def _cancel_double(text: str) -> str:
    out, last = [], 0
    for m in _DOUBLE.finditer(text):
        out.append(text[last:m.start()])
        last = m.end()
        satisfied = _SATISFIED.match(text, last)
        if satisfied:  # 没有不满意 / 没什么不满 → 挺满意
            out.append("挺满意")
            last = satisfied.end()
    out.append(text[last:])
    return "".join(out)


def model_reading(text: str) -> str:
    """The turn as the intent and sentiment models should read it (see the module docstring).

    Args:
        text: A normalised turn (:func:`tierline.nlu.pipeline.normalize`).

    Returns:
        The rewritten turn; unchanged when it holds none of the forms above.
    """
    if not text:
        return text
    text = _cut(text, literal_spans(text))
    text = _DENIED_COMPLAINT.sub("", text)
    text = _MODAL.sub("", text)
    return _cancel_double(text)
