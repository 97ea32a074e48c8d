"""The do-not-call gate every outbound dial passes (numbers, SIP URIs).

`tierline sip dial` refusing a listed number is in e2e/test_sip_dial_cli.py.
"""

from __future__ import annotations

import pytest

from tierline.agent.dialog.compliance import DncList
from tierline.agent.outbound import DialRefused, dnc_key, permit_dial


@pytest.mark.parametrize(("target", "key"), [
    ("+8613800138000", "13800138000"), ("008613800138000", "13800138000"),
    ("138 0013 8000", "13800138000"), ("sip:+8613800138000@trunk.example", "13800138000"),
    ("sip:13800138000@10.0.0.1:5060;transport=udp", "13800138000"),
    ("010-62345678", "01062345678"), ("sip:agent@pbx.example", "sip:agent@pbx.example"),
])
def test_targets_are_checked_as_the_number_they_dial(target, key):
    assert dnc_key(target) == key


def test_a_listed_number_is_refused_in_every_spelling(tmp_path):
    dnc = DncList(tmp_path / "dnc.sqlite3")
    dnc.add("13800138000")
    for target in ("+8613800138000", "sip:+8613800138000@trunk", "0086 138 0013 8000"):
        with pytest.raises(DialRefused, match="do-not-call"):
            permit_dial(target, dnc)
    assert permit_dial("+8613900139000", dnc) == "13900139000"


def test_garbage_is_no_dial_target(tmp_path):
    with pytest.raises(DialRefused, match="not a phone number"):
        permit_dial("hello", DncList(tmp_path / "dnc.sqlite3"))
