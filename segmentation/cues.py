"""Words that tell an existing customer's expansion from a renewal on the same terms.

The NLU reads "合同快到期了，我们续一年" and "我们想再加一批账号" alike (purchase_intent, no
number), yet ARCHITECTURE.md tiers the first medium (routine renewal) and the second high
(expanding / renewing bigger). With nothing else to go on, a tier model trained on NLU
evidence splits the difference, and which side it lands on changes from one training seed to
the next. These two word lists are that missing evidence; the model weighs them with the rest
(a churning "合同到期就不续了" also says 到期 and stays churn_risk).
"""

from __future__ import annotations

import re

EXPANSION = re.compile(
    r"扩容|扩大|扩展|升级|加购|增购|翻.?倍|分公司|子公司|分店|新开|新增|多开|再开|再加|再买"
    r"|加(一批|一些|几个|点|些)?(账号|帐号|坐席|席位|名额|模块|门店|人)"
)
"""More users, stores, modules or a higher edition than before."""

RENEWAL = re.compile(
    r"续(约|费|签|上|订|用|一年|两年|年)|到期|接着用|继续用|照样用|还用你们|老样子|照旧|不变"
    r"|跟去年一样|按原来"
)
"""Carrying the current contract on."""


def says_expansion(text: str) -> bool:
    """Whether ``text`` asks for more than the caller has now."""
    return EXPANSION.search(text) is not None


def says_renewal(text: str) -> bool:
    """Whether ``text`` talks about carrying the contract on."""
    return RENEWAL.search(text) is not None
