"""The SIP endpoint's configuration file: the sample parses, wrong values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierline.agent.livekit.config import ConfigError
from tierline.agent.sip.config import load, parse

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "sip.toml"


def test_the_sample_config_parses_and_shares_the_livekit_tables():
    config = load(SAMPLE)
    assert config.trunk.codecs == ("PCMA", "PCMU")
    assert config.transfer.mode == "refer"
    assert config.shared.queue_targets()["senior_sales"].startswith("sip:")
    assert config.shared.dtmf == {"0": "request_human"}
    assert config.allowed("203.0.113.9") and not config.allowed("192.0.2.1")


@pytest.mark.parametrize(("data", "named"), [
    ({"trunk": {"codecs": ["G729"]}}, "codecs"),
    ({"trunk": {"allowed_addresses": ["not-an-ip"]}}, "allowed_addresses"),
    ({"server": {"max_calls": 0}}, "max_calls"),
    ({"server": {"rtp_port_min": 30000, "rtp_port_max": 20000}}, "rtp_port_min"),
    ({"server": {"colour": "blue"}}, "colour"),
    ({"transfer": {"mode": "teleport"}}, "mode"),
    ({"queues": {"vip": {"target": "sip:x@y"}}}, "vip"),
    ({"worker": {}}, "worker"),
])
def test_wrong_values_are_refused_by_name(data, named):
    with pytest.raises(ConfigError, match=named):
        parse(data, "t.toml")


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml")
