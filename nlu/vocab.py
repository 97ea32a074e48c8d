"""Fixed NLU vocabularies shared by the rules, the future trained model and the evaluation.

The names and their order are part of the project contract (see ARCHITECTURE.md); a trained
classifier's output layer is laid out in ``INTENTS`` order.
"""

from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "price_inquiry",
    "purchase_intent",
    "bulk_purchase",
    "tech_integration",
    "customization",
    "product_question",
    "payment_invoice",
    "trial_request",
    "tech_support",
    "complaint",
    "churn_signal",
    "refusal",
    "hesitation",
    "request_human",
    "other",
)
"""The 15 intent labels, in the fixed order."""

FALLBACK_INTENT = "other"
"""Label that wins when no rule (or model evidence) applies."""

ENTITY_FIELDS: tuple[str, ...] = ("budget_cny", "seats", "timeline", "product", "competitor")
"""Entity slots extracted from one utterance."""

PRODUCTS: tuple[str, ...] = ("基础版", "标准版", "专业版", "旗舰版", "企业版", "私有化部署")
"""Edition names recognised as the ``product`` entity."""

COMPETITORS: tuple[str, ...] = (
    "钉钉", "企业微信", "飞书", "Salesforce", "纷享销客", "销售易", "用友", "金蝶",
    "华为云", "阿里云", "腾讯",
)
"""Canonical competitor names recognised as the ``competitor`` entity."""

LANGUAGES: tuple[str, ...] = ("zh", "yue")
"""Languages of the text the NLU was trained for (Whisper's codes): Mandarin, and Cantonese
written in Chinese characters. A turn in another language carries no intent evidence."""
