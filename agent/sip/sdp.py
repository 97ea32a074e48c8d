"""SDP offer/answer (RFC 4566, RFC 3264) for one audio stream: G.711 and telephone-event.

The endpoint speaks PCMA (A-law, payload type 8) and PCMU (μ-law, 0) at 8 kHz, 20 ms packets,
and RFC 4733 telephone-event for DTMF. Answering, it takes the first codec of the offer that
it supports (the caller's preference, RFC 3264 §6.1) — Chinese carriers list PCMA first; an
offer with neither is answered 488. Offering, it lists the configured codecs in order.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from tierline.core.errors import TierlineError

STATIC = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
CODECS = {"PCMU": 0, "PCMA": 8}
DTMF_PT = 101


class SdpError(TierlineError, ValueError):
    """An SDP body that cannot be read, or that offers nothing the endpoint can do (488)."""


@dataclass(frozen=True)
class Codec:
    """A payload type and what it carries."""

    pt: int
    name: str
    rate: int = 8000

    @property
    def encoding(self) -> str:
        """The audio encoding name :class:`~tierline.audio.stream.FrameAssembler` takes."""
        return self.name.lower()


@dataclass
class MediaOffer:
    """The audio part of a session description.

    Attributes:
        address: Connection address (c=).
        port: RTP port (m=); 0 means the stream is refused.
        formats: Payload types in order of preference.
        rtpmap: Payload type → (encoding name, clock rate).
        direction: sendrecv, sendonly, recvonly or inactive.
        ptime: Packet time asked for, ms.
    """

    address: str
    port: int
    formats: list[int] = field(default_factory=list)
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    direction: str = "sendrecv"
    ptime: int = 20

    def codec(self, pt: int) -> tuple[str, int] | None:
        return self.rtpmap.get(pt) or STATIC.get(pt)


@dataclass(frozen=True)
class Negotiated:
    """What both sides agreed on.

    Attributes:
        codec: The audio codec.
        dtmf_pt: Payload type of telephone-event, None when the peer offered none.
        remote: Where to send RTP (address, port).
        direction: The peer's direction attribute.
    """

    codec: Codec
    dtmf_pt: int | None
    remote: tuple[str, int]
    direction: str = "sendrecv"


def parse(body: bytes | str) -> MediaOffer:
    """The first audio stream of an SDP body.

    Raises:
        SdpError: no audio m= line, no connection address, or a bad line.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    session_addr = None
    media: MediaOffer | None = None
    in_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            if media is not None and in_audio:
                break  # only the first audio stream
            parts = value.split()
            in_audio = len(parts) >= 4 and parts[0] == "audio"
            if in_audio:
                if not parts[1].split("/")[0].isdigit():
                    raise SdpError(f"bad m= port {parts[1]!r}")
                formats = [int(p) for p in parts[3:] if p.isdigit()]
                media = MediaOffer(address=session_addr or "", port=int(parts[1].split("/")[0]),
                                   formats=formats)
        elif kind == "c":
            parts = value.split()
            if len(parts) < 3:
                raise SdpError(f"bad c= line {value!r}")
            if media is None:
                session_addr = parts[2].split("/")[0]
            elif in_audio:
                media.address = parts[2].split("/")[0]
        elif kind == "a" and media is not None and in_audio:
            _attribute(media, value)
    if media is None:
        raise SdpError("no audio stream in the offer")
    if not media.address:
        raise SdpError("no connection address in the offer")
    return media


_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_RTPMAP = re.compile(r"^rtpmap:(\d+)\s+([\w.-]+)/(\d+)")


def _attribute(media: MediaOffer, value: str) -> None:
    if value in _DIRECTIONS:
        media.direction = value
    elif m := _RTPMAP.match(value):
        media.rtpmap[int(m.group(1))] = (m.group(2).upper(), int(m.group(3)))
    elif value.startswith("ptime:") and value[6:].strip().isdigit():
        media.ptime = int(value[6:].strip())


def negotiate(offer: MediaOffer, codecs: tuple[str, ...] = ("PCMA", "PCMU")) -> Negotiated:
    """Answer an offer: the first offered codec we support, and telephone-event if offered.

    Args:
        offer: The peer's audio stream.
        codecs: Codecs this endpoint accepts (names from :data:`CODECS`).

    Raises:
        SdpError: no offered codec is acceptable (answer 488).
    """
    wanted = {c.upper() for c in codecs}
    chosen = None
    dtmf = None
    for pt in offer.formats:
        desc = offer.codec(pt)
        if desc is None:
            continue
        name, rate = desc
        if name == "TELEPHONE-EVENT" and rate == 8000 and dtmf is None:
            dtmf = pt
        elif chosen is None and name in wanted and rate == 8000:
            chosen = Codec(pt, name, rate)
    if chosen is None:
        offered = ", ".join("/".join(map(str, offer.codec(pt) or (pt,))) for pt in offer.formats)
        raise SdpError(f"no acceptable codec offered ({offered or 'none'}; we take "
                       f"{', '.join(codecs)})")
    return Negotiated(chosen, dtmf, (offer.address, offer.port), offer.direction)


def build(address: str, port: int, codecs: list[Codec], dtmf_pt: int | None,
          session_id: int | None = None, version: int = 1,
          direction: str = "sendrecv") -> bytes:
    """A session description with one audio stream.

    Args:
        address: Our RTP address.
        port: Our RTP port.
        codecs: Audio codecs, in order of preference (an answer lists exactly one).
        dtmf_pt: telephone-event payload type, or None.
        session_id: o= session id (default: now).
        version: o= version.
        direction: Direction attribute.
    """
    sid = session_id or int(time.time())
    pts = [c.pt for c in codecs] + ([dtmf_pt] if dtmf_pt is not None else [])
    lines = ["v=0", f"o=tierline {sid} {version} IN IP4 {address}", "s=tierline",
             f"c=IN IP4 {address}", "t=0 0",
             f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}"]
    lines += [f"a=rtpmap:{c.pt} {c.name}/{c.rate}" for c in codecs]
    if dtmf_pt is not None:
        lines += [f"a=rtpmap:{dtmf_pt} telephone-event/8000", f"a=fmtp:{dtmf_pt} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def offer_codecs(names: tuple[str, ...]) -> list[Codec]:
    """Our codecs for an offer, in the configured order."""
    return [Codec(CODECS[n.upper()], n.upper()) for n in names]
