"""Qualification slots of one call: what the caller has told us so far.

Slots (``tierline.agent.dialog.kb.SLOTS``): budget, seats, timeline, decision_maker,
current_system, pain_point. Values come from the NLU entities of a turn (budget_cny, seats —
"就我自己" counts 1 there —, timeline, competitor) and from short cue patterns here; when the bot
has just asked about a slot, a plain answer ("是的", "还没定", "Excel") fills that slot too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tierline.agent.dialog.kb import SLOTS

_NO_BUDGET = re.compile(r"没(?:有|什么)?预算|预算还没|不需要")
_DM_YES = re.compile(r"我说了算|我来定|我定|我决定|我就是(?:老板|负责人|总经理)|"
                     r"我是(?:老板|负责人)|我拍板|我负责")
_DM_NO = re.compile(r"领导|老板(?:定|决定|拍板)|请示|上级|审批|开会(?:讨论|研究|决定|定|商量)"
                    r"|决策层|董事会|总部")
_YES = re.compile(r"^(?:是|对|嗯|没错|当然|是的|对的|可以)")
_NO = re.compile(r"^(?:不是|不对|没有|不)")
_SYSTEM = re.compile(r"excel|表格|纸质|本子|笔记本|自己开发|自研|自己做的|没(?:用|有)(?:什么)?系统",
                     re.IGNORECASE)
_PAIN = re.compile(r"跟进不及时|丢单|效率低|效率太低|混乱|分散|流失|重复录入|统计麻烦|"
                   r"不好管|管不过来|找不到|乱")
_CLAUSE = re.compile(r"[，,。.！!？?；;]")
_PLAN = re.compile(r"上线|用起来|用上|采购|买|部署|启动|开始|签|定下来|落地")
MAX_ANSWER_CHARS = 40


@dataclass
class SlotTracker:
    """Per-call slot values and the questions already asked.

    Attributes:
        values: Slot → value (number for budget/seats, text otherwise; decision_maker is
            ``"caller"`` or ``"someone_else"``).
        asked: Slots the bot has asked about (never asked twice).
    """

    values: dict[str, Any] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def missing(self) -> list[str]:
        """Slots neither filled nor asked, in ``SLOTS`` order."""
        return [s for s in SLOTS if s not in self.values and s not in self.asked]

    def update(self, text: str, entities: Mapping[str, Any],
               pending: str | None = None) -> list[str]:
        """Fill slots from one caller turn.

        Args:
            text: What the caller said.
            entities: NLU entities of the turn (``TurnRecord.entities``).
            pending: Slot the bot asked about in its previous reply, if any.

        Returns:
            Slots filled or changed by this turn.
        """
        text = (text or "").strip()
        found: dict[str, Any] = {}
        if entities.get("budget_cny") is not None:
            found["budget"] = entities["budget_cny"]
        elif pending == "budget" and _NO_BUDGET.search(text):
            found["budget"] = 0
        if entities.get("seats") is not None:
            found["seats"] = entities["seats"]
        if entities.get("timeline") and ("timeline" in (pending, *self.asked)
                                         or _PLAN.search(text)):
            found["timeline"] = entities["timeline"]
        if _DM_YES.search(text):
            found["decision_maker"] = "caller"
        elif _DM_NO.search(text):
            found["decision_maker"] = "someone_else"
        if entities.get("competitor"):
            found["current_system"] = entities["competitor"]
        elif m := _SYSTEM.search(text):
            found["current_system"] = m.group(0)
        if m := _PAIN.search(text):
            found["pain_point"] = _clause(text, m.start())
        # a free-text answer only when the turn said nothing that fills another slot
        if pending and pending not in found and text and (
                not found or pending == "decision_maker"):
            value = _plain_answer(pending, text)
            if value is not None:
                found[pending] = value
        changed = [s for s, v in found.items() if self.values.get(s) != v]
        self.values.update(found)
        return changed


def _clause(text: str, pos: int) -> str:
    start = max((m.end() for m in _CLAUSE.finditer(text, 0, pos)), default=0)
    end = _CLAUSE.search(text, pos)
    return text[start:end.start() if end else len(text)].strip()[:MAX_ANSWER_CHARS]


def _plain_answer(slot: str, text: str) -> Any:
    """Interpret a short answer to the question about ``slot`` (None: not an answer)."""
    if slot == "decision_maker":
        if _NO.search(text):
            return "someone_else"
        if _YES.search(text):
            return "caller"
        return None
    if slot in ("timeline", "current_system", "pain_point"):
        return text[:MAX_ANSWER_CHARS]
    return None
