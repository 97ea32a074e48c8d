"""The UDP user agent: receives and sends SIP, keeps dialogs, hands calls to a handler.

:class:`UserAgent` parses every datagram (a broken request is answered 400, anything else
unreadable is dropped and counted), de-duplicates retransmissions (:mod:`.transactions`),
answers CANCEL and OPTIONS itself, and passes everything else to its :class:`Handler`.
:class:`Dialog` builds requests inside a call (BYE, REFER, ACK, re-INVITE answers).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Protocol

from tierline.agent.sip.message import (
    SipMessage,
    SipParseError,
    host_port,
    new_branch,
    new_call_id,
    new_tag,
    param,
    parse,
    response,
    uri_of,
    with_tag,
)
from tierline.agent.sip.transactions import Timers, Transactions

logger = logging.getLogger("tierline.sip")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO"
USER_AGENT = "Tierline"


class Handler(Protocol):
    """What the user agent's owner does with requests (see :class:`~.server.CallManager`)."""

    def on_invite(self, request: SipMessage, addr: tuple[str, int]) -> None: ...

    def on_ack(self, request: SipMessage, addr: tuple[str, int]) -> None: ...

    def on_cancel(self, invite: SipMessage) -> None: ...

    def on_request(self, request: SipMessage, addr: tuple[str, int]) -> None: ...

    def on_ack_timeout(self, call_id: str) -> None: ...


@dataclass
class Dialog:
    """One SIP dialog (RFC 3261 §12), seen from our side.

    Attributes:
        call_id: Call-ID.
        local: Our From/To header value, with our tag.
        remote: The peer's header value, with its tag (once known).
        remote_target: The peer's Contact URI.
        route_set: Route headers for requests in the dialog.
        local_cseq: Our last CSeq number.
        peer: Where in-dialog requests go when there is no route set.
    """

    call_id: str
    local: str
    remote: str
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 0
    peer: tuple[str, int] | None = None

    @property
    def remote_tag(self) -> str:
        return param(self.remote, "tag") or ""

    @property
    def local_tag(self) -> str:
        return param(self.local, "tag") or ""

    def destination(self) -> tuple[str, int]:
        """The address an in-dialog request is sent to (first route, else the target)."""
        if self.route_set and ";lr" in self.route_set[0]:
            return host_port(uri_of(self.route_set[0]))
        if self.peer is not None:
            return self.peer
        return host_port(self.remote_target)

    def request(self, ua: UserAgent, method: str, headers: list[tuple[str, str]] | None = None,
                body: bytes = b"", content_type: str | None = None,
                cseq: int | None = None) -> SipMessage:
        """A request inside the dialog (CSeq advanced unless given, e.g. for ACK)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        msg = SipMessage(method=method, uri=self.remote_target)
        msg.headers = [("Via", ua.via()), ("Max-Forwards", "70"), ("From", self.local),
                       ("To", self.remote), ("Call-ID", self.call_id),
                       ("CSeq", f"{cseq} {method}"), ("Contact", ua.contact()),
                       ("User-Agent", USER_AGENT)]
        msg.headers += [("Route", r) for r in self.route_set]
        msg.headers += headers or []
        if body:
            msg.headers.append(("Content-Type", content_type or "application/sdp"))
            msg.body = body
        return msg

    @classmethod
    def for_uas(cls, invite: SipMessage, local_tag: str, addr: tuple[str, int]) -> Dialog:
        """The dialog an INVITE we answer creates."""
        contact = invite.get("contact")
        return cls(invite.call_id, with_tag(invite.get("to") or "", local_tag),
                   invite.get("from") or "", uri_of(contact) if contact else invite.uri or "",
                   invite.get_all("record-route"), 0, addr if not contact else None)

    @classmethod
    def for_uac(cls, invite: SipMessage, answer: SipMessage) -> Dialog:
        """The dialog a 2xx to our INVITE creates."""
        contact = answer.get("contact")
        return cls(invite.call_id, invite.get("from") or "", answer.get("to") or "",
                   uri_of(contact) if contact else invite.uri or "",
                   list(reversed(answer.get_all("record-route"))), invite.cseq[0])


class UserAgent(asyncio.DatagramProtocol):
    """SIP over UDP on one socket.

    Args:
        handler: Receives calls and in-dialog requests.
        host: Address to bind.
        port: Port to bind (0: any free port).
        advertised: Address put in Via/Contact/SDP (default: ``host``).
        timers: T1/T2.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 5060,
                 advertised: str | None = None, timers: Timers | None = None) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.advertised = advertised or (host if host not in ("0.0.0.0", "") else "127.0.0.1")
        self.transport: asyncio.DatagramTransport | None = None
        self.tx = Transactions(self._send, timers, handler.on_ack_timeout)
        self.malformed = 0
        self.handler_errors = 0

    async def start(self) -> None:
        """Bind the socket."""
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.host, self.port))
        self.port = self.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        self.tx.close()
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ addresses
    def via(self) -> str:
        return f"SIP/2.0/UDP {self.advertised}:{self.port};branch={new_branch()};rport"

    def contact(self) -> str:
        return f"<sip:tierline@{self.advertised}:{self.port}>"

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    # ------------------------------------------------------------------ receiving
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # CRLF keep-alive
        try:
            msg = parse(data)
        except SipParseError as exc:
            self.malformed += 1
            self._bad_request(data, addr, str(exc))
            return
        try:
            if msg.is_request:
                self._on_request(msg, addr)
            elif not self.tx.on_response(msg, addr):
                logger.debug("stray response %s", msg.summary())
        except Exception:  # a bug in one call must not stop the endpoint
            self.handler_errors += 1
            logger.exception("error handling %s", msg.summary())
            if msg.is_request and msg.method != "ACK" and self.tx.final_status(msg) is None:
                self.respond(msg, addr, 500)

    def _bad_request(self, data: bytes, addr: tuple[str, int], why: str) -> None:
        """Answer a malformed request 400 when it has enough to be answered; else drop it."""
        try:
            msg = parse(data, strict=False)
        except SipParseError:
            logger.info("dropped unreadable datagram from %s: %s", addr[0], why)
            return
        if not msg.is_request or msg.method == "ACK" or not msg.get("via"):
            logger.info("dropped malformed message from %s: %s", addr[0], why)
            return
        logger.info("400 to a malformed %s from %s: %s", msg.method, addr[0], why)
        resp = response(msg, 400, "Bad Request", to_tag=new_tag())
        resp.headers.append(("Warning", f'399 tierline "{why[:100]}"'))
        self._send(resp.to_bytes(), addr)

    def _on_request(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        if self.tx.seen(msg, addr):
            return
        method = msg.method
        if method == "ACK":
            self.tx.acked(msg.call_id, msg.cseq[0])
            self.handler.on_ack(msg, addr)
        elif method == "CANCEL":
            self._on_cancel(msg, addr)
        elif method == "INVITE" and not param(msg.get("to") or "", "tag"):
            self.handler.on_invite(msg, addr)
        elif method == "OPTIONS" and not param(msg.get("to") or "", "tag"):
            self.respond(msg, addr, 200, headers=[("Allow", ALLOW), ("Accept",
                                                                     "application/sdp")])
        else:
            self.handler.on_request(msg, addr)

    def _on_cancel(self, cancel: SipMessage, addr: tuple[str, int]) -> None:
        invite = self.tx.invite_for(cancel)
        if invite is None:
            self.respond(cancel, addr, 481)
            return
        self.respond(cancel, addr, 200)
        if self.tx.final_status(invite) is None:
            self.handler.on_cancel(invite)

    # ------------------------------------------------------------------ sending
    def respond(self, request: SipMessage, addr: tuple[str, int], status: int,
                reason: str = "", *, to_tag: str | None = None,
                headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                content_type: str | None = None) -> SipMessage:
        """Answer ``request`` (kept for its retransmissions; INVITE finals until ACKed)."""
        extra = [("User-Agent", USER_AGENT)] + (headers or [])
        if request.method == "INVITE" and 100 < status < 300:
            extra.append(("Contact", self.contact()))
        resp = response(request, status, reason,
                        to_tag=to_tag if to_tag else (new_tag() if status > 100 else None),
                        headers=extra, body=body, content_type=content_type)
        if request.method == "INVITE" and 200 <= status < 300:
            resp.headers += [("Record-Route", r) for r in request.get_all("record-route")]
            resp.headers.append(("Allow", ALLOW))
        self.tx.respond(request, resp, addr)
        return resp

    async def request(self, msg: SipMessage, addr: tuple[str, int], on_provisional=None,
                      ) -> SipMessage:
        """Send a request with retransmissions; the final response (408 when none came)."""
        return await self.tx.request(msg, addr, on_provisional)

    def new_invite(self, target: str, from_uri: str, headers: list[tuple[str, str]],
                   body: bytes) -> SipMessage:
        """An out-of-dialog INVITE to ``target`` (a new Call-ID and From tag)."""
        msg = SipMessage(method="INVITE", uri=target)
        msg.headers = [("Via", self.via()), ("Max-Forwards", "70"),
                       ("From", f"<{from_uri}>;tag={new_tag()}"), ("To", f"<{target}>"),
                       ("Call-ID", new_call_id(self.advertised)), ("CSeq", "1 INVITE"),
                       ("Contact", self.contact()), ("Allow", ALLOW),
                       ("User-Agent", USER_AGENT)]
        msg.headers += headers
        msg.headers.append(("Content-Type", "application/sdp"))
        msg.body = body
        return msg

    def ack_2xx(self, dialog: Dialog, invite: SipMessage) -> None:
        """Acknowledge the 2xx of our INVITE (new branch, same CSeq number)."""
        ack = dialog.request(self, "ACK", cseq=invite.cseq[0])
        self.tx.send_ack(ack, dialog.destination())
