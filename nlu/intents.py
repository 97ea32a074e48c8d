"""Intent classifiers: a plugin base class and the first, rule-based implementation.

The keyword classifier scores every one of the 15 intents (``tierline.nlu.vocab.INTENTS``)
from weighted cue phrases, adjusts for negation and question forms, and turns the scores into
probabilities with a softmax. It is the honest first version the trained model (NLU issue)
replaces behind the same :class:`IntentClassifier` interface, and the keyword baseline that
model is measured against.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tierline.nlu.vocab import FALLBACK_INTENT, INTENTS

__all__ = ["FakeIntentClassifier", "IntentClassifier", "KeywordIntentClassifier"]

# Cue phrases per intent with their weight. Longer phrases win over their substrings because
# matching is done longest-first and matched characters are consumed.
_CUES: dict[str, dict[str, float]] = {
    "price_inquiry": {
        "多少钱": 2.5, "价格": 2.0, "价钱": 2.0, "报价": 1.8, "收费": 2.0, "费用": 1.6,
        "怎么卖": 2.2, "怎么收费": 2.5, "贵不贵": 2.2, "什么价": 2.0, "价位": 2.0,
        "一年多少": 2.2, "一个月多少": 2.2, "单价": 2.0, "优惠": 1.3, "折扣": 1.5, "打折": 1.5,
        "便宜点": 1.5, "价目": 2.0, "套餐": 1.2, "年费": 1.8,
    },
    "purchase_intent": {
        "想买": 2.4, "要买": 2.4, "购买": 2.2, "采购": 2.2, "下单": 2.5, "签合同": 2.5,
        "签约": 2.4, "签了": 1.8, "付款": 1.2, "成交": 2.0, "订购": 2.4, "开通": 1.6,
        "我们要了": 2.5, "就定了": 2.2, "定下来": 1.8, "就签": 2.5, "入手": 2.0,
        "上这套": 1.8, "用你们的": 1.5, "续费": 1.2, "升级": 1.4, "扩容": 1.8, "加购": 2.0,
        "合作": 1.2, "报个方案": 1.5, "出个方案": 1.5, "走流程": 1.8,
    },
    "bulk_purchase": {
        "批量": 2.5, "大批": 2.2, "团购": 2.2, "全公司": 2.0, "整个公司": 2.0, "所有门店": 2.2,
        "全部门店": 2.2, "每个门店": 1.8, "集团": 1.6, "分公司": 1.6, "全员": 2.0,
        "大量": 1.8, "几百个": 1.8, "上百个": 1.8, "上千": 1.8, "批采": 2.2, "多个部门": 1.8,
        "部门都要": 1.8, "都要用": 1.4, "需要使用": 0.8,
    },
    "tech_integration": {
        "对接": 2.5, "接口": 2.5, "api": 2.5, "集成": 2.5, "打通": 2.2, "sdk": 2.5,
        "erp": 1.8, "crm": 1.4, "单点登录": 2.2, "数据同步": 2.0, "二次开发": 1.6, "嵌入": 1.6,
        "webhook": 2.5, "私有化部署": 1.8, "本地部署": 1.8, "兼容": 1.4, "导入数据": 1.4,
    },
    "customization": {
        "定制": 2.8, "订制": 2.6, "个性化": 2.0, "按我们的": 1.6, "专门开发": 2.4,
        "量身": 2.2, "改一下": 1.2, "特殊需求": 2.0, "自定义": 1.8, "二次开发": 1.4,
        "比较特殊": 1.2, "单独开发": 2.4,
    },
    "product_question": {
        "功能": 1.6, "能不能": 1.0, "支持": 1.3, "有没有": 1.0, "怎么用": 1.5, "介绍一下": 2.0,
        "了解一下": 1.6, "区别": 1.8, "版本": 1.3, "模块": 1.5, "可以实现": 1.6, "是什么": 1.0,
        "能做": 1.2, "包括哪些": 1.8, "有什么": 1.0, "安全": 1.0, "手机上": 1.2, "多语言": 1.5,
        "听起来": 0.8, "产品": 0.8, "怎么样": 0.8,
    },
    "payment_invoice": {
        "发票": 3.0, "开票": 3.0, "专票": 3.0, "普票": 3.0, "付款方式": 2.8, "对公": 2.5,
        "转账": 2.0, "分期": 2.4, "账期": 2.6, "月付": 2.4, "年付": 2.4, "支付宝": 1.8,
        "微信支付": 1.8, "合同盖章": 2.0, "报销": 2.0, "税点": 2.4, "收据": 2.2, "汇款": 2.2,
    },
    "trial_request": {
        "试用": 3.0, "试一下": 2.4, "试一试": 2.4, "试试": 2.2, "演示": 2.4, "demo": 2.4,
        "体验": 2.0, "测试账号": 2.6, "免费用": 2.2, "先用用": 2.2, "样品": 1.6,
    },
    "tech_support": {
        "登录不了": 2.8, "登不上": 2.8, "打不开": 2.6, "报错": 2.8, "用不了": 2.4, "出错": 2.2,
        "故障": 2.4, "闪退": 2.8, "卡住": 2.2, "密码": 2.0, "忘记": 1.2, "怎么设置": 2.2,
        "不显示": 2.2, "没反应": 2.4, "连不上": 2.6, "bug": 2.4, "无法": 1.6, "崩了": 1.8,
        "数据丢": 2.4, "重置": 2.0, "操作": 1.0, "排查": 2.0, "同步不了": 2.4,
    },
    "complaint": {
        "投诉": 3.0, "太慢": 2.0, "很慢": 1.6, "不满意": 2.6, "没人管": 2.6, "没人理": 2.6,
        "态度": 2.0, "差劲": 2.4, "又崩": 2.4, "一直不好": 2.0, "好几次": 1.6, "说了多少次": 2.8,
        "还没解决": 2.6, "没解决": 2.2, "太差": 2.4, "失望": 2.2, "坑": 1.8, "骗": 2.0,
        "生气": 2.2, "受够": 2.6, "垃圾": 2.2, "敷衍": 2.4, "差评": 2.4, "拖了": 1.8,
        "欺骗": 2.6, "赔偿": 2.2,
    },
    "churn_signal": {
        "不续费": 3.2, "不续了": 3.2, "不再续": 3.0, "退订": 3.0, "取消合同": 3.2,
        "解约": 3.2, "退款": 2.6, "换一家": 3.0, "换掉": 2.4, "换成": 2.2, "换别家": 3.0,
        "转到": 1.6, "到期就不": 3.0, "不打算续": 3.2, "停用": 2.8, "注销": 2.4, "销户": 2.8,
        "别家更便宜": 3.0, "便宜一半": 2.6, "别人家": 1.8, "考虑换": 2.8, "迁走": 2.8,
        "不想用了": 2.8, "不想用": 2.4, "不用了": 1.6, "终止": 2.4, "钉钉": 1.2, "飞书": 1.2,
        "企业微信": 1.2, "到期": 0.5,
    },
    "refusal": {
        "不需要": 3.0, "不感兴趣": 3.0, "没兴趣": 3.0, "不用了": 2.2, "别打了": 3.2,
        "不要再打": 3.2, "不用再打": 3.2, "打错了": 3.0, "不考虑": 2.6, "没需求": 3.0,
        "用不上": 2.6, "算了": 2.2, "太贵了": 1.4, "买不起": 2.6, "不买": 2.8, "已经有了": 2.4,
        "挂了": 2.2, "在忙": 1.8, "没空": 2.2, "没时间": 2.0, "不要": 1.6, "拒绝": 2.4,
        "个人用": 1.6, "自己用用": 1.6, "就我一个人": 1.8,
    },
    "hesitation": {
        "考虑一下": 3.0, "再考虑": 3.0, "想一想": 2.6, "想想": 2.2, "商量": 2.6, "再看看": 2.6,
        "犹豫": 2.8, "不确定": 2.4, "再说吧": 2.4, "回头再": 2.2, "研究一下": 2.2, "比较一下": 2.2,
        "请示": 2.4, "领导": 1.4, "老板": 1.0, "还没定": 2.4, "说不好": 2.0, "可能吧": 2.0,
        "等等看": 2.4, "过段时间": 2.0, "以后再说": 2.6, "不急": 2.0, "嗯": 0.4, "那个": 0.3,
        "这个嘛": 1.6, "看情况": 2.0,
    },
    "request_human": {
        "转人工": 4.0, "人工客服": 4.0, "人工服务": 4.0, "找人工": 4.0, "真人": 3.2,
        "找你们经理": 3.2, "找经理": 3.0, "找领导": 2.8, "客服经理": 2.8, "跟人说": 2.8,
        "让人来": 2.6, "销售来": 2.4, "打电话给我": 1.6, "找个人": 2.8, "你是机器人": 3.0,
        "机器人吗": 3.0, "人工": 3.0, "找一下你们": 1.6,
    },
}
# A negated cue does not count (不需要 is a cue itself; 不想买 cancels 想买).
_NEGATABLE = {"purchase_intent", "trial_request", "customization", "tech_integration",
              "bulk_purchase", "price_inquiry"}
_NEGATION = re.compile(r"(?:不|没|别|不想|不会|不打算|不准备)$")
_QUESTION = re.compile(r"[吗呢？?]|能不能|可不可以|是不是|有没有|怎么|多少|哪些|什么")
_TEMPERATURE = 0.5
_OTHER_PRIOR = 1.0
"""Logit of ``other``: an utterance needs cue evidence above this to get a real intent."""

_CUE_RE = re.compile(
    "|".join(re.escape(c) for c in sorted({c for cues in _CUES.values() for c in cues},
                                          key=len, reverse=True)),
    re.IGNORECASE,
)
_CUE_INTENTS: dict[str, list[tuple[str, float]]] = {}
for _intent, _cues in _CUES.items():
    for _cue, _w in _cues.items():
        _CUE_INTENTS.setdefault(_cue.lower(), []).append((_intent, _w))


class IntentClassifier:
    """Base class of intent classifiers.

    Callers use :meth:`classify`, which validates the text and returns a probability for
    every intent in ``INTENTS`` order; subclasses implement :meth:`_classify_impl`.

    Attributes:
        trained: Whether the classifier was learned from data.
        name: Short name shown in evaluation tables.
    """

    trained: bool = False
    name: str = "base"

    def classify(self, text: str) -> dict[str, float]:
        """Probability of each of the 15 intents.

        Args:
            text: One caller utterance (any string).

        Returns:
            Mapping of every intent label to a probability; the values sum to 1. Empty or
            non-text input gives ``other`` with probability 1.
        """
        if not isinstance(text, str) or not text.strip():
            return {i: float(i == FALLBACK_INTENT) for i in INTENTS}
        scores = self._classify_impl(text)
        total = sum(max(0.0, scores.get(i, 0.0)) for i in INTENTS)
        if not total or math.isnan(total):
            return {i: float(i == FALLBACK_INTENT) for i in INTENTS}
        return {i: max(0.0, scores.get(i, 0.0)) / total for i in INTENTS}

    def _classify_impl(self, text: str) -> dict[str, float]:
        raise NotImplementedError


@dataclass
class FakeIntentClassifier(IntentClassifier):
    """Returns a fixed label for each scripted text (``other`` otherwise); for unit tests."""

    labels: dict[str, str]
    name: str = "fake"

    def _classify_impl(self, text: str) -> dict[str, float]:
        label = self.labels.get(text, FALLBACK_INTENT)
        return {i: 0.9 if i == label else 0.1 / (len(INTENTS) - 1) for i in INTENTS}


class KeywordIntentClassifier(IntentClassifier):
    """Weighted cue phrases → softmax over the 15 intents.

    Rules: cue phrases are matched longest-first without overlap; a cue preceded by a
    negation (不想买, 没打算定制) is dropped for the intents in ``_NEGATABLE``; a question form
    boosts ``price_inquiry`` and ``product_question`` slightly; ``other`` has a fixed prior
    logit so an utterance with weak or no cues stays ``other``.
    """

    name = "keyword"

    def _classify_impl(self, text: str) -> dict[str, float]:
        logits = dict.fromkeys(INTENTS, 0.0)
        logits[FALLBACK_INTENT] = _OTHER_PRIOR
        lowered = text.lower()
        for m in _CUE_RE.finditer(lowered):
            negated = bool(_NEGATION.search(lowered[max(0, m.start() - 3):m.start()]))
            for intent, weight in _CUE_INTENTS[m.group(0)]:
                if negated and intent in _NEGATABLE:
                    continue
                logits[intent] += weight
        if _QUESTION.search(text):
            for intent in ("price_inquiry", "product_question"):
                if logits[intent] > 0:
                    logits[intent] += 0.5
        peak = max(logits.values())
        return {i: math.exp((v - peak) / _TEMPERATURE) for i, v in logits.items()}
