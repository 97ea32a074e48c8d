"""One RTP leg of a call: a UDP socket, a 20 ms clock, audio in and out, DTMF events.

Every 20 ms the clock takes 160 samples (8 kHz) from the jitter buffer — silence when the
line is quiet or packets are missing — and hands them to ``on_audio``; and it sends the next
160 samples of what the bot says (a prompt, the bridged agent, or silence) as one G.711
packet. The line therefore runs continuously, as a phone line does: the endpointer sees the
silence after the caller's last word even when the peer stops sending.

Packets from any address other than the one the SDP named are ignored and counted (unless
``latch`` lets the first packet's source become the peer, for callers behind NAT), and so are
payload types that were not negotiated.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from tierline.agent.sip.rtp import JitterBuffer, RtpError, RtpPacket, parse, parse_dtmf
from tierline.agent.sip.sdp import Negotiated
from tierline.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

logger = logging.getLogger("tierline.sip")

RATE = 8000
TICK_S = 0.020
TICK = RATE * 20 // 1000  # 160 samples
SILENCE = np.zeros(TICK, dtype=np.int16)
_DECODE = {"PCMA": alaw_decode, "PCMU": ulaw_decode}
_ENCODE = {"PCMA": alaw_encode, "PCMU": ulaw_encode}


class Player:
    """What a leg sends: queued prompts first, then the bridged audio, else silence."""

    def __init__(self) -> None:
        self._prompts: deque[tuple[str, np.ndarray, asyncio.Future]] = deque()
        self._pos = 0
        self.bridge: deque[np.ndarray] = deque(maxlen=25)  # ≤ 0.5 s of the other leg
        self.playing: str | None = None
        self.on_start: Callable[[str], None] | None = None
        self.on_end: Callable[[str, bool], None] | None = None

    def play(self, prompt_id: str, pcm: np.ndarray) -> asyncio.Future:
        """Queue ``pcm`` (int16, 8 kHz); the future is True when it played out, False if
        stopped."""
        done = asyncio.get_running_loop().create_future()
        self._prompts.append((prompt_id, pcm.astype(np.int16, copy=False), done))
        return done

    def stop(self) -> None:
        """Stop the prompt playing now and drop the queued ones (barge-in)."""
        while self._prompts:
            prompt_id, _, done = self._prompts.popleft()
            self._finish(prompt_id, done, False)
        self._pos = 0

    def next_frame(self) -> np.ndarray:
        """The next 160 samples to send."""
        while self._prompts:
            prompt_id, pcm, done = self._prompts[0]
            if self._pos == 0 and self.playing != prompt_id:
                self.playing = prompt_id
                if self.on_start is not None:
                    self.on_start(prompt_id)
            if self._pos < len(pcm):
                chunk = pcm[self._pos : self._pos + TICK]
                self._pos += TICK
                if len(chunk) < TICK:
                    chunk = np.concatenate([chunk, SILENCE[: TICK - len(chunk)]])
                return chunk
            self._prompts.popleft()
            self._pos = 0
            self._finish(prompt_id, done, True)
        if self.bridge:
            return self.bridge.popleft()
        return SILENCE

    def _finish(self, prompt_id: str, done: asyncio.Future, played: bool) -> None:
        if self.playing == prompt_id:
            self.playing = None
        if not done.done():
            done.set_result(played)
        if self.on_end is not None:
            self.on_end(prompt_id, played)


class RtpLeg(asyncio.DatagramProtocol):
    """RTP to and from one peer.

    Args:
        on_audio: Called every 20 ms with the received 160 samples (int16) and the
            ``time.perf_counter()`` of the tick.
        on_digit: Called with each DTMF digit (RFC 4733 telephone-event).
        on_sent: Called every 20 ms with the 160 samples sent (for the recording).
        jitter_depth: Packets buffered before playout.
        latch: Accept RTP from the first source that sends (NAT); default: only from the SDP
            address.
    """

    def __init__(self, on_audio: Callable[[np.ndarray, float], None],
                 on_digit: Callable[[str], None] | None = None,
                 on_sent: Callable[[np.ndarray], None] | None = None,
                 jitter_depth: int = 3, latch: bool = False) -> None:
        self.on_audio = on_audio
        self.on_digit = on_digit
        self.on_sent = on_sent
        self.latch = latch
        self.jitter = JitterBuffer(jitter_depth)
        self.player = Player()
        self.negotiated: Negotiated | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._remote_ssrc: int | None = None
        self._fifo = np.zeros(0, dtype=np.int16)
        self._last_dtmf: tuple[int, int] | None = None
        self._clock: asyncio.Task | None = None
        self._marker = True
        self.last_rx = time.monotonic()
        self.started = time.monotonic()
        self.rejected_source = 0
        self.rejected_pt = 0
        self.malformed = 0
        self.packets_in = 0
        self.packets_out = 0
        self.underruns = 0
        self.digits: list[str] = []
        self.muted = False

    # ------------------------------------------------------------------ set-up
    async def open(self, host: str, ports: tuple[int, int]) -> int:
        """Bind an even port in ``ports`` (inclusive); return it."""
        loop = asyncio.get_running_loop()
        first, last = ports
        start = first + (secrets.randbelow(max(1, (last - first) // 2)) * 2)
        span = list(range(start, last + 1, 2)) + list(range(first, start, 2))
        for port in span:
            try:
                self.transport, _ = await loop.create_datagram_endpoint(
                    lambda: self, local_addr=(host, port))
            except OSError:
                continue
            self.port = port
            return port
        raise OSError(f"no free RTP port in {first}-{last}")

    def connect(self, negotiated: Negotiated) -> None:
        """Send to and accept from the negotiated peer, with its codec."""
        self.negotiated = negotiated
        self.last_rx = time.monotonic()

    def start(self) -> None:
        """Start the 20 ms clock."""
        if self._clock is None:
            self._clock = asyncio.create_task(self._run())

    def close(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
        self.player.stop()
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ receiving
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        neg = self.negotiated
        if neg is None:
            return
        if addr != neg.remote:
            if not self.latch:
                self.rejected_source += 1
                return
            self.negotiated = Negotiated(neg.codec, neg.dtmf_pt, addr, neg.direction)
            self.latch = False
        try:
            packet = parse(data)
        except RtpError:
            self.malformed += 1
            return
        self.packets_in += 1
        self.last_rx = time.monotonic()
        if neg.dtmf_pt is not None and packet.pt == neg.dtmf_pt:
            self._dtmf(packet)
        elif packet.pt == neg.codec.pt:
            if packet.ssrc != self._remote_ssrc:
                if self._remote_ssrc is not None:
                    self.jitter.reset()
                self._remote_ssrc = packet.ssrc
            self.jitter.put(packet)
        else:
            self.rejected_pt += 1

    def _dtmf(self, packet: RtpPacket) -> None:
        """One digit per event: the first packet of a new (SSRC, timestamp) reports it."""
        event = parse_dtmf(packet.payload)
        if event is None:
            return
        key = (packet.ssrc, packet.timestamp)
        if key == self._last_dtmf:
            return
        self._last_dtmf = key
        self.digits.append(event.digit)
        if self.on_digit is not None:
            self.on_digit(event.digit)

    # ------------------------------------------------------------------ the clock
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            next_tick += TICK_S
            delay = next_tick - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:  # the loop stalled: do not burst more than 200 ms
                next_tick = loop.time()
            try:
                self._tick()
            except Exception:
                logger.exception("RTP tick failed")

    def _tick(self) -> None:
        self.on_audio(self._receive_frame(), time.perf_counter())
        self._send_frame(self.player.next_frame())

    def _receive_frame(self) -> np.ndarray:
        neg = self.negotiated
        while len(self._fifo) < TICK and neg is not None:
            packet = self.jitter.pop()
            if packet is None:
                break
            decoded = _DECODE[neg.codec.name](packet.payload)
            self._fifo = np.concatenate([self._fifo, decoded])
        if len(self._fifo) >= TICK:
            out, self._fifo = self._fifo[:TICK], self._fifo[TICK:]
            return out
        if time.monotonic() - self.last_rx < 0.2:
            self.underruns += 1  # the peer is sending, but not in time: silence goes in
        out = np.concatenate([self._fifo, SILENCE[: TICK - len(self._fifo)]])
        self._fifo = self._fifo[:0]
        return out

    def _send_frame(self, pcm: np.ndarray) -> None:
        neg = self.negotiated
        if neg is None or self.transport is None or self.transport.is_closing():
            return
        if self.muted:
            pcm = SILENCE
        payload = _ENCODE[neg.codec.name](pcm).tobytes()
        packet = RtpPacket(neg.codec.pt, self._seq, self._ts, self.ssrc, self._marker, payload)
        self._marker = False
        self.transport.sendto(packet.to_bytes(), neg.remote)
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + TICK) & 0xFFFFFFFF
        self.packets_out += 1
        if self.on_sent is not None:
            self.on_sent(pcm)

    def stats(self) -> dict[str, int]:
        return {"packets_in": self.packets_in, "packets_out": self.packets_out,
                "rejected_source": self.rejected_source, "rejected_pt": self.rejected_pt,
                "malformed": self.malformed, "underruns": self.underruns,
                **self.jitter.stats()}
