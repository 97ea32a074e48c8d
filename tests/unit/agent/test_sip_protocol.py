"""The SIP endpoint's protocol pieces on their own: messages, SDP, RTP, the jitter buffer,
transaction retransmission and de-duplication, and the RTP leg's source check (real UDP
sockets on 127.0.0.1, no models)."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

from tierline.agent.sip import sdp
from tierline.agent.sip.media import RtpLeg
from tierline.agent.sip.message import (
    SipParseError,
    host_port,
    mask_number,
    parse,
    response,
    uri_of,
    user_of,
    via_sent_by,
)
from tierline.agent.sip.rtp import JitterBuffer, RtpPacket, dtmf_payload, parse_dtmf
from tierline.agent.sip.rtp import parse as parse_rtp
from tierline.agent.sip.transactions import Timers, Transactions
from tierline.agent.sip.transfer import sip_target, sipfrag_status
from tierline.audio.g711 import alaw_encode

INVITE = (b"INVITE sip:bot@127.0.0.1:5060 SIP/2.0\r\n"
          b"Via: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bK-1;rport\r\n"
          b"v: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-0\r\n"
          b"f: \"Caller\" <sip:13800138000@10.0.0.1:5061>;tag=abc\r\n"
          b"To: <sip:bot@127.0.0.1:5060>\r\n"
          b"i: call-1@10.0.0.1\r\n"
          b"CSeq: 1 INVITE\r\n"
          b"Contact: <sip:caller@10.0.0.1:5061>\r\n"
          b"Content-Type: application/sdp\r\n"
          b"Content-Length: 4\r\n\r\nbody-and-more")


def test_messages_parse_with_compact_headers_and_a_bounded_body():
    msg = parse(INVITE)
    assert (msg.method, msg.call_id, msg.cseq, msg.branch) == ("INVITE", "call-1@10.0.0.1",
                                                               (1, "INVITE"), "z9hG4bK-1")
    assert len(msg.get_all("via")) == 2 and msg.body == b"body"
    assert uri_of(msg.get("from")) == "sip:13800138000@10.0.0.1:5061"
    assert via_sent_by(msg.get("via")) == ("10.0.0.1", 5061)
    resp = response(msg, 200, to_tag="t1")
    again = parse(resp.to_bytes())
    assert again.status == 200 and again.get_all("via") == msg.get_all("via")
    assert again.get("to").endswith(";tag=t1") and again.call_id == msg.call_id


@pytest.mark.parametrize("data", [
    b"", b"hello world", b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a\r\n\r\n",
    INVITE.replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"),
    INVITE.replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"),
    INVITE.replace(b"Content-Length: 4", b"Content-Length: 400"),
    INVITE.replace(b"To: <sip", b"To <sip"),
    b"\xff\xfe" * 40,
])
def test_malformed_messages_raise_one_error_type(data):
    with pytest.raises(SipParseError):
        parse(data)


def test_uri_helpers():
    assert host_port("sip:agent@pbx.example.com:5080;transport=udp") == ("pbx.example.com", 5080)
    assert host_port("sip:pbx.example.com") == ("pbx.example.com", 5060)
    assert user_of("sip:+8613800138000@trunk") == "+8613800138000"
    assert user_of("tel:+861010001000") == "+861010001000"
    assert mask_number("sip:13800138000@10.0.0.1:50000") == "sip:*******8000@10.0.0.1:50000"
    assert sip_target("tel:+8610123", "trunk.example:5060") == "sip:+8610123@trunk.example:5060"
    assert sipfrag_status(b"SIP/2.0 486 Busy Here\r\n") == 486


OFFER = """v=0
o=- 1 1 IN IP4 10.0.0.5
s=-
c=IN IP4 10.0.0.5
t=0 0
m=audio 40000 RTP/AVP 9 0 8 96
a=rtpmap:9 G722/8000
a=rtpmap:96 telephone-event/8000
a=sendrecv
"""


def test_answer_takes_the_callers_first_g711_and_its_telephone_event():
    neg = sdp.negotiate(sdp.parse(OFFER), ("PCMA", "PCMU"))
    assert (neg.codec.name, neg.codec.pt, neg.dtmf_pt, neg.remote) == ("PCMU", 0, 96,
                                                                        ("10.0.0.5", 40000))
    neg = sdp.negotiate(sdp.parse(OFFER), ("PCMA",))
    assert neg.codec.name == "PCMA"
    body = sdp.build("127.0.0.1", 20000, [neg.codec], neg.dtmf_pt).decode()
    assert "m=audio 20000 RTP/AVP 8 96" in body and "a=rtpmap:96 telephone-event/8000" in body


def test_an_offer_without_g711_is_refused():
    with pytest.raises(sdp.SdpError, match="no acceptable codec"):
        sdp.negotiate(sdp.parse(OFFER.replace(" 0 8 96", " 96")))
    with pytest.raises(sdp.SdpError):
        sdp.parse("v=0\r\ns=-\r\n")


def test_rtp_round_trip_and_dtmf_events():
    pkt = RtpPacket(8, 65535, 123456, 0xDEADBEEF, True, b"\xd5" * 160)
    back = parse_rtp(pkt.to_bytes())
    assert back == pkt
    event = parse_dtmf(dtmf_payload("#", end=True, duration=800))
    assert (event.digit, event.end, event.duration) == ("#", True, 800)


def _pkt(seq: int) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, seq * 160, 1, False, bytes([seq & 0xFF]) * 160)


def test_jitter_buffer_reorders_skips_losses_and_drops_late_packets():
    jb = JitterBuffer(depth=3)
    for seq in (65534, 0, 65535):  # reordered across the 16-bit wrap
        jb.put(_pkt(seq))
    assert [jb.pop().seq for _ in range(3)] == [65534, 65535, 0]
    assert jb.pop() is None  # ran dry: silence, and wait for depth again
    for seq in (1, 3, 4, 5):  # 2 is lost
        jb.put(_pkt(seq))
    assert [jb.pop().seq for _ in range(4)] == [1, 3, 4, 5]
    assert jb.lost == 1
    jb.put(_pkt(2))  # arrives after its turn
    assert jb.late == 1 and len(jb) == 0


def test_jitter_buffer_is_bounded_under_a_flood():
    jb = JitterBuffer(depth=3, max_packets=50)
    for seq in range(10_000):
        jb.put(_pkt(seq))
    assert len(jb) == 50 and jb.overflow == 10_000 - 50
    assert jb.pop().seq == 10_000 - 50


def test_requests_are_retransmitted_until_answered_and_time_out_with_408():
    sent: list[bytes] = []

    async def go():
        tx = Transactions(lambda data, addr: sent.append(data), Timers(t1=0.01, t2=0.04))
        msg = parse(INVITE.replace(b"INVITE sip", b"OPTIONS sip").replace(b"1 INVITE",
                                                                         b"1 OPTIONS"))
        return await tx.request(msg, ("127.0.0.1", 9))

    final = asyncio.run(go())
    assert final.status == 408
    assert len(sent) >= 10  # Timer E kept retransmitting until Timer F


def test_a_retransmitted_request_is_answered_again_not_passed_on():
    sent: list[bytes] = []

    async def go():
        tx = Transactions(lambda data, addr: sent.append(data), Timers(t1=0.01))
        invite = parse(INVITE)
        first = tx.seen(invite, ("10.0.0.1", 5061))
        tx.respond(invite, response(invite, 180, to_tag="x"), ("10.0.0.1", 5061))
        second = tx.seen(parse(INVITE), ("10.0.0.1", 5061))
        tx.close()
        return first, second

    assert asyncio.run(go()) == (False, True)
    assert [parse(d).status for d in sent] == [180, 180]


def test_rtp_from_an_unexpected_source_is_ignored():
    async def go():
        heard: list[np.ndarray] = []
        leg = RtpLeg(lambda pcm, _t: heard.append(pcm), jitter_depth=1)
        port = await leg.open("127.0.0.1", (30000, 30999))
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        stranger.bind(("127.0.0.1", 0))
        leg.connect(sdp.Negotiated(sdp.Codec(8, "PCMA"), 101, peer.getsockname()))
        tone = (np.sin(np.arange(160) / 5) * 8000).astype(np.int16)
        payload = alaw_encode(tone).tobytes()
        for seq in range(20):
            stranger.sendto(RtpPacket(8, seq, seq * 160, 7, False, payload).to_bytes(),
                            ("127.0.0.1", port))
        stranger.sendto(b"\x80junk", ("127.0.0.1", port))
        peer.sendto(RtpPacket(101, 1, 0, 9, True, dtmf_payload("5", False, 160)).to_bytes(),
                    ("127.0.0.1", port))
        peer.sendto(RtpPacket(8, 100, 0, 9, False, payload).to_bytes(), ("127.0.0.1", port))
        await asyncio.sleep(0.1)
        leg._tick()
        leg.close()
        peer.close()
        stranger.close()
        return leg, heard

    leg, heard = asyncio.run(go())
    assert leg.rejected_source == 21 and leg.packets_in == 2
    assert leg.digits == ["5"]
    assert np.corrcoef(heard[-1].astype(float), np.sin(np.arange(160) / 5))[0, 1] > 0.99
