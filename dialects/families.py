"""The dialect families Tierline tells apart, and their names.

A *family* is what a call centre staffs for: a caller from Chengdu and one from Chongqing both
speak Southwestern Mandarin (``chuan``) and go to the same agents. Regional Mandarin
(Zhongyuan, Ji-Lu) counts as ``mandarin``: its speakers are served by Mandarin agents and
Whisper reads them as Mandarin. :data:`UNKNOWN` is the identifier's answer when it is not sure
or has not heard enough speech yet.
"""

from __future__ import annotations

FAMILIES: tuple[str, ...] = ("mandarin", "yue", "chuan", "wu", "min", "hakka")
"""Every family the configuration and the registry know, in a fixed order."""

UNKNOWN = "unknown"
"""No decision: too little speech, or no family likely enough."""

NAMES: dict[str, str] = {
    "mandarin": "普通话",
    "yue": "粤语",
    "chuan": "四川话",
    "wu": "吴语",
    "min": "闽南话",
    "hakka": "客家话",
    UNKNOWN: "未知",
}
"""How a supervisor or an agent reads the family (summaries, the report)."""


def check_family(name: str) -> str:
    """``name`` when it is a known family, else ValueError naming the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown dialect family {name!r} (known: {', '.join(FAMILIES)})")
    return name
