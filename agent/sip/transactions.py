"""SIP transactions over UDP (RFC 3261 §17): our requests are retransmitted, theirs de-duplicated.

UDP loses datagrams, so a request we send is sent again until a response arrives: an INVITE
at T1, 2·T1, 4·T1, … until a provisional or final response (Timer A) and given up after 64·T1
(Timer B: a 408 is reported); any other request doubles its interval up to T2 and keeps going
after a provisional (Timer E), given up after 64·T1 (Timer F).

A request the peer retransmits (same top-Via branch and method) is answered with the response
already sent instead of reaching the call logic again: an INVITE retransmitted before our 200
OK never starts a second call. Final responses to an INVITE are retransmitted until the ACK
arrives (2xx: RFC 3261 §13.3.1.4; others: Timer G), and the ACK for a 2xx is sent again when
the peer retransmits that 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tierline.agent.sip.message import SipMessage, response

logger = logging.getLogger("tierline.sip")

Send = Callable[[bytes, tuple[str, int]], None]


@dataclass(frozen=True)
class Timers:
    """RFC 3261 timer values, seconds (T1 = RTT estimate, T2 = longest retransmit interval)."""

    t1: float = 0.5
    t2: float = 4.0

    @property
    def timeout(self) -> float:
        """64·T1: Timers B, F and H."""
        return 64 * self.t1


@dataclass
class _Client:
    request: SipMessage
    addr: tuple[str, int]
    future: asyncio.Future
    on_provisional: Callable[[SipMessage], None] | None
    task: asyncio.Task | None = None
    got_provisional: bool = False
    sent: int = 0


@dataclass
class _Server:
    method: str
    addr: tuple[str, int]
    created: float = field(default_factory=time.monotonic)
    last: bytes | None = None
    final: int | None = None
    retransmit: asyncio.Task | None = None
    request: SipMessage | None = None


class Transactions:
    """Client and server transaction state of one user agent.

    Args:
        send: Writes one datagram.
        timers: T1/T2.
        on_unacked: Called with the Call-ID when our 2xx to an INVITE got no ACK in 64·T1.
    """

    def __init__(self, send: Send, timers: Timers | None = None,
                 on_unacked: Callable[[str], None] | None = None) -> None:
        self.send = send
        self.timers = timers or Timers()
        self.on_unacked = on_unacked
        self._clients: dict[str, _Client] = {}
        self._servers: dict[tuple[str, str], _Server] = {}
        self._acks: dict[tuple[str, int], tuple[bytes, tuple[str, int], float]] = {}
        self.retransmissions = 0
        self.absorbed = 0

    # ------------------------------------------------------------------ client side
    async def request(self, msg: SipMessage, addr: tuple[str, int],
                      on_provisional: Callable[[SipMessage], None] | None = None,
                      ) -> SipMessage:
        """Send ``msg`` until it is answered; return the final response (408 on timeout).

        A non-2xx final response to an INVITE is acknowledged here; a 2xx is left to the
        dialog, which sends its ACK with :meth:`send_ack`.
        """
        loop = asyncio.get_running_loop()
        client = _Client(msg, addr, loop.create_future(), on_provisional)
        self._clients[msg.branch] = client
        client.task = asyncio.create_task(self._retransmit(client))
        try:
            return await client.future
        finally:
            client.task.cancel()
            self._clients.pop(msg.branch, None)

    async def _retransmit(self, client: _Client) -> None:
        data = client.request.to_bytes()
        invite = client.request.method == "INVITE"
        interval, waited = self.timers.t1, 0.0
        while True:
            if not (invite and client.got_provisional):
                self.send(data, client.addr)
                client.sent += 1
                if client.sent > 1:
                    self.retransmissions += 1
            await asyncio.sleep(interval)
            waited += interval
            if waited >= self.timers.timeout and not (invite and client.got_provisional):
                break
            if invite and client.got_provisional and waited >= 300:
                break  # an INVITE that rings for 5 minutes is abandoned by the caller's timer
            if invite and not client.got_provisional:
                interval *= 2  # Timer A doubles without bound until Timer B
            else:  # Timer E; and a ringing INVITE only waits, T2 at a time
                interval = min(interval * 2, self.timers.t2)
        if not client.future.done():
            client.future.set_result(response(client.request, 408, "Request Timeout"))

    def on_response(self, msg: SipMessage, addr: tuple[str, int]) -> bool:
        """Route a response to its client transaction; False when none matches."""
        client = self._clients.get(msg.branch)
        if client is None or client.request.cseq[1] != msg.cseq[1]:
            key = (msg.call_id, msg.cseq[0])
            if msg.cseq[1] == "INVITE" and 200 <= (msg.status or 0) < 300 and key in self._acks:
                data, ack_addr, _ = self._acks[key]
                self.send(data, ack_addr)  # the 2xx came again: our ACK was lost
                return True
            return False
        status = msg.status or 0
        if status < 200:
            client.got_provisional = True
            if client.on_provisional is not None:
                client.on_provisional(msg)
            return True
        if client.request.method == "INVITE" and status >= 300:
            self.send(_ack_for_failure(client.request, msg).to_bytes(), client.addr)
        if not client.future.done():
            client.future.set_result(msg)
        return True

    def send_ack(self, ack: SipMessage, addr: tuple[str, int]) -> None:
        """Send the ACK of a 2xx and remember it for the peer's 2xx retransmissions."""
        data = ack.to_bytes()
        self._acks[(ack.call_id, ack.cseq[0])] = (data, addr, time.monotonic())
        self.send(data, addr)

    # ------------------------------------------------------------------ server side
    def seen(self, msg: SipMessage, addr: tuple[str, int]) -> bool:
        """Whether ``msg`` is a retransmission of a request already received.

        A retransmission is answered with the last response sent (if any) and must not go
        further. A new request opens a server transaction and returns False.
        """
        self._expire()
        key = (msg.branch, "INVITE" if msg.method == "ACK" else msg.method or "")
        server = self._servers.get(key)
        if msg.method == "ACK":
            if server is not None and server.final is not None and server.final >= 300:
                self._stop(server)  # ACK of our failure response: absorbed
                return True
            return False  # ACK of a 2xx: a new transaction, for the dialog
        if server is not None:
            self.absorbed += 1
            if server.last is not None:
                self.send(server.last, addr)
            return True
        self._servers[key] = _Server(msg.method or "", addr, request=msg)
        return False

    def respond(self, request: SipMessage, resp: SipMessage,
                addr: tuple[str, int]) -> None:
        """Send ``resp`` to ``request`` and keep it for retransmissions of the request.

        A final response to an INVITE is retransmitted until the ACK (or 64·T1).
        """
        data = resp.to_bytes()
        key = (request.branch, request.method or "")
        server = self._servers.setdefault(key, _Server(request.method or "", addr,
                                                       request=request))
        server.last = data
        self.send(data, addr)
        if request.method == "INVITE" and (resp.status or 0) >= 200 and server.final is None:
            server.final = resp.status
            call_id = request.call_id if (resp.status or 0) < 300 else None
            server.retransmit = asyncio.ensure_future(self._repeat(data, addr, call_id))

    def final_status(self, request: SipMessage) -> int | None:
        """The final status already sent to ``request`` (None while it is pending)."""
        server = self._servers.get((request.branch, request.method or ""))
        return server.final if server else None

    def invite_for(self, cancel: SipMessage) -> SipMessage | None:
        """The INVITE a CANCEL refers to (same branch), if known."""
        server = self._servers.get((cancel.branch, "INVITE"))
        return server.request if server else None

    def acked(self, call_id: str, cseq: int) -> None:
        """The ACK of our 2xx arrived: stop retransmitting the 2xx."""
        for server in self._servers.values():
            req = server.request
            if (req is not None and req.method == "INVITE" and req.call_id == call_id
                    and req.cseq[0] == cseq):
                self._stop(server)

    async def _repeat(self, data: bytes, addr: tuple[str, int], call_id: str | None) -> None:
        """Retransmit a final response until cancelled by the ACK; a 2xx never ACKed is
        reported (the call is torn down, RFC 3261 §13.3.1.4)."""
        interval, waited = self.timers.t1, 0.0
        while waited < self.timers.timeout:
            await asyncio.sleep(interval)
            waited += interval
            self.send(data, addr)
            self.retransmissions += 1
            interval = min(interval * 2, self.timers.t2)
        if call_id is not None and self.on_unacked is not None:
            self.on_unacked(call_id)

    def unacked(self, call_id: str, cseq: int) -> bool:
        """Whether our final response to that INVITE is still waiting for its ACK."""
        for server in self._servers.values():
            req = server.request
            if (req is not None and req.method == "INVITE" and req.call_id == call_id
                    and req.cseq[0] == cseq and server.retransmit is not None):
                return not server.retransmit.done()
        return False

    def _stop(self, server: _Server) -> None:
        if server.retransmit is not None:
            server.retransmit.cancel()

    def _expire(self) -> None:
        now = time.monotonic()
        keep = self.timers.timeout + 5
        for key in [k for k, s in self._servers.items() if now - s.created > keep]:
            self._stop(self._servers.pop(key))
        for key in [k for k, v in self._acks.items() if now - v[2] > keep]:
            del self._acks[key]

    def close(self) -> None:
        for server in self._servers.values():
            self._stop(server)
        for client in self._clients.values():
            if client.task is not None:
                client.task.cancel()
            if not client.future.done():
                with contextlib.suppress(asyncio.InvalidStateError):
                    client.future.set_result(response(client.request, 408, "Request Timeout"))


def _ack_for_failure(invite: SipMessage, resp: SipMessage) -> SipMessage:
    """The ACK of a non-2xx final response: same branch and Request-URI (RFC 3261 §17.1.1.3)."""
    ack = SipMessage(method="ACK", uri=invite.uri)
    ack.headers = [("Via", invite.get_all("via")[0]), ("Max-Forwards", "70"),
                   ("From", invite.get("from") or ""), ("To", resp.get("to") or ""),
                   ("Call-ID", invite.call_id), ("CSeq", f"{invite.cseq[0]} ACK")]
    ack.headers += [("Route", r) for r in invite.get_all("route")]
    return ack
