"""RTP (RFC 3550) packets, RFC 4733 telephone events, and a jitter buffer.

The jitter buffer orders packets by sequence number and hands out audio on the receiver's own
20 ms clock: it waits until ``depth`` packets are queued before starting (and after running
dry), skips a lost packet once later ones are waiting, drops duplicates and packets that come
after their turn, and never holds more than ``max_packets`` (a flood costs a bounded queue).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tierline.core.errors import TierlineError

HEADER = struct.Struct("!BBHII")
DTMF_EVENTS = "0123456789*#ABCD"


class RtpError(TierlineError, ValueError):
    """A datagram that is not an RTP version 2 packet."""


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet.

    Attributes:
        pt: Payload type.
        seq: Sequence number (16 bit).
        timestamp: Media timestamp (32 bit).
        ssrc: Synchronisation source.
        marker: Marker bit.
        payload: The payload bytes.
    """

    pt: int
    seq: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes

    def to_bytes(self) -> bytes:
        return HEADER.pack(0x80, (0x80 if self.marker else 0) | (self.pt & 0x7F),
                           self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                           self.ssrc) + self.payload


def parse(data: bytes) -> RtpPacket:
    """Read an RTP packet (CSRCs, header extension and padding removed).

    Raises:
        RtpError: too short, not version 2, or inconsistent lengths.
    """
    if len(data) < HEADER.size:
        raise RtpError("RTP packet shorter than its header")
    b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise RtpError("not RTP version 2")
    offset = HEADER.size + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension
        if len(data) < offset + 4:
            raise RtpError("truncated RTP header extension")
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if b0 & 0x20 and end > offset:  # padding
        end -= data[-1]
    if end < offset:
        raise RtpError("RTP lengths do not add up")
    return RtpPacket(b1 & 0x7F, seq, ts, ssrc, bool(b1 & 0x80), bytes(data[offset:end]))


@dataclass(frozen=True)
class DtmfEvent:
    """An RFC 4733 telephone-event payload."""

    digit: str
    end: bool
    volume: int
    duration: int


def parse_dtmf(payload: bytes) -> DtmfEvent | None:
    """The DTMF digit of a telephone-event payload (None for non-DTMF events or junk)."""
    if len(payload) < 4:
        return None
    event, flags, duration = struct.unpack_from("!BBH", payload)
    if event >= len(DTMF_EVENTS):
        return None
    return DtmfEvent(DTMF_EVENTS[event], bool(flags & 0x80), flags & 0x3F, duration)


def dtmf_payload(digit: str, end: bool, duration: int, volume: int = 10) -> bytes:
    """A telephone-event payload for ``digit``."""
    return struct.pack("!BBH", DTMF_EVENTS.index(digit), (0x80 if end else 0) | volume,
                       duration & 0xFFFF)


def _newer(a: int, b: int) -> bool:
    """Whether sequence number ``a`` comes after ``b`` (16-bit wrap-around)."""
    return 0 < ((a - b) & 0xFFFF) < 0x8000


class JitterBuffer:
    """Reorders RTP packets and releases them one at a time on the receiver's clock.

    Args:
        depth: Packets to hold before starting playout (and after running dry).
        max_packets: Largest queue; beyond it the oldest packets are dropped.
    """

    def __init__(self, depth: int = 3, max_packets: int = 50) -> None:
        self.depth = max(1, depth)
        self.max_packets = max(self.depth, max_packets)
        self._packets: dict[int, RtpPacket] = {}
        self._next: int | None = None
        self._playing = False
        self.received = 0
        self.late = 0
        self.duplicates = 0
        self.lost = 0
        self.overflow = 0

    def __len__(self) -> int:
        return len(self._packets)

    def reset(self) -> None:
        """Forget every packet (a new SSRC starts over)."""
        self._packets.clear()
        self._next = None
        self._playing = False

    def put(self, packet: RtpPacket) -> None:
        """Queue one packet (late ones and duplicates are dropped and counted)."""
        self.received += 1
        if self._next is not None and packet.seq != self._next and not _newer(packet.seq,
                                                                             self._next):
            self.late += 1
            return
        if packet.seq in self._packets:
            self.duplicates += 1
            return
        self._packets[packet.seq] = packet
        while len(self._packets) > self.max_packets:
            oldest = self._oldest()
            del self._packets[oldest]
            self.overflow += 1
            self._next = (oldest + 1) & 0xFFFF

    def pop(self) -> RtpPacket | None:
        """The next packet in order, or None when the caller must play silence now."""
        if not self._packets:
            self._playing = False
            return None
        if not self._playing:
            if len(self._packets) < self.depth:
                return None
            self._playing = True
            if self._next is None or not self._packets.get(self._next):
                self._next = self._oldest()
        packet = self._packets.pop(self._next, None)  # type: ignore[arg-type]
        if packet is None:
            if len(self._packets) < self.depth:
                return None  # maybe only reordered: wait a tick
            oldest = self._oldest()
            self.lost += (oldest - self._next) & 0xFFFF  # type: ignore[operator]
            packet = self._packets.pop(oldest)
        self._next = (packet.seq + 1) & 0xFFFF
        return packet

    def _oldest(self) -> int:
        # before playout starts, order around the first packet seen (±16k covers reordering)
        ref = ((next(iter(self._packets)) - 0x4000) & 0xFFFF if self._next is None
               else self._next)
        return min(self._packets, key=lambda s: (s - ref) & 0xFFFF)

    def stats(self) -> dict[str, int]:
        return {"received": self.received, "late": self.late, "duplicates": self.duplicates,
                "lost": self.lost, "overflow": self.overflow}
