"""SIP messages (RFC 3261 §7): parse a datagram, build requests and responses, read headers.

Parsing is strict where a mistake would mislead the endpoint (start line, CSeq, Content-Length,
the five headers every request needs) and lenient elsewhere; anything wrong raises
:class:`SipParseError`, which the user agent answers with 400 (a request) or drops (anything
else) — never a crash.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from tierline.core.errors import TierlineError

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "o": "event",
           "r": "refer-to", "b": "referred-by", "s": "subject", "e": "content-encoding"}
REQUIRED = ("via", "from", "to", "call-id", "cseq")
MAX_MESSAGE = 65_535
_REQUEST_LINE = re.compile(r"^([A-Z][A-Z0-9._!%*+`'~-]*) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")
_CSEQ = re.compile(r"^\s*(\d{1,10})\s+([A-Za-z]+)\s*$")
_URI_IN_BRACKETS = re.compile(r"<([^>]*)>")
REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 415: "Unsupported Media Type", 480: "Temporarily Unavailable",
           481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
           488: "Not Acceptable Here", 489: "Bad Event", 500: "Server Internal Error",
           501: "Not Implemented", 503: "Service Unavailable", 603: "Decline"}


class SipParseError(TierlineError, ValueError):
    """A datagram that is not a well-formed SIP message."""


@dataclass
class SipMessage:
    """One SIP request or response.

    Attributes:
        method: Request method (None for a response).
        uri: Request-URI (None for a response).
        status: Response status code (None for a request).
        reason: Response reason phrase.
        headers: (name, value) pairs in order, names as written.
        body: Message body.
    """

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (case-insensitive, compact forms too)."""
        values = self.get_all(name)
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, comma-separated lists split (Via, Route, ...)."""
        key = _canon(name)
        out: list[str] = []
        for hname, value in self.headers:
            if _canon(hname) == key:
                out.extend(_split_list(value) if key in _LIST_HEADERS else [value])
        return out

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` header by one with ``value``."""
        self.remove(name)
        self.headers.append((name, value))

    def remove(self, name: str) -> None:
        key = _canon(name)
        self.headers = [(n, v) for n, v in self.headers if _canon(n) != key]

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header."""
        return parse_cseq(self.get("cseq") or "")

    @property
    def branch(self) -> str:
        """The branch parameter of the top Via."""
        vias = self.get_all("via")
        return param(vias[0], "branch") or "" if vias else ""

    def to_bytes(self) -> bytes:
        """The wire form, with a Content-Length that matches the body."""
        if self.is_request:
            first = f"{self.method} {self.uri} SIP/2.0"
        else:
            first = f"SIP/2.0 {self.status} {self.reason or REASONS.get(self.status or 0, '')}"
        lines = [first] + [f"{n}: {v}" for n, v in self.headers
                           if _canon(n) != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    def summary(self) -> str:
        """One line for logs (no numbers: URIs are left out)."""
        if self.is_request:
            return f"{self.method} (Call-ID {self.call_id[:24]})"
        return f"{self.status} {self.reason} to {self.cseq[1]} (Call-ID {self.call_id[:24]})"


_LIST_HEADERS = {"via", "route", "record-route", "contact", "allow", "supported"}


def _canon(name: str) -> str:
    key = name.strip().lower()
    return COMPACT.get(key, key)


def _split_list(value: str) -> list[str]:
    """Split a comma-separated header value, respecting <...> and quotes."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def parse(data: bytes, strict: bool = True) -> SipMessage:
    """Parse one datagram.

    Args:
        data: The datagram.
        strict: Check required headers, CSeq and Content-Length (off: read what is there,
            to answer a broken request with 400).

    Raises:
        SipParseError: not SIP, a bad start line, a header without a colon, a missing required
            header, a bad CSeq, or a Content-Length longer than the body.
    """
    if len(data) > MAX_MESSAGE:
        raise SipParseError("message too large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("header is not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)  # keep-alive CRLFs before a message
    if not lines:
        raise SipParseError("empty message")
    msg = SipMessage()
    first = lines[0].strip()
    if m := _REQUEST_LINE.match(first):
        msg.method, msg.uri = m.group(1), m.group(2)
    elif m := _STATUS_LINE.match(first):
        msg.status, msg.reason = int(m.group(1)), m.group(2).strip()
    else:
        raise SipParseError(f"bad start line: {first[:60]!r}")
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and msg.headers:  # folded continuation line
            name, value = msg.headers[-1]
            msg.headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            if not strict:
                continue
            raise SipParseError(f"bad header line: {line[:60]!r}")
        msg.headers.append((name.strip(), value.strip()))
    if not strict:
        msg.body = body
        return msg
    for name in REQUIRED:
        if not msg.get(name):
            raise SipParseError(f"missing {name} header")
    number, method = parse_cseq(msg.get("cseq") or "")
    if msg.is_request and method != msg.method:
        raise SipParseError(f"CSeq method {method} does not match {msg.method}")
    if (length := msg.get("content-length")) is not None:
        if not length.isdigit():
            raise SipParseError(f"bad Content-Length {length!r}")
        if int(length) > len(body):
            raise SipParseError("body shorter than Content-Length")
        body = body[: int(length)]
    msg.body = body
    return msg


def parse_cseq(value: str) -> tuple[int, str]:
    """(number, method) of a CSeq value.

    Raises:
        SipParseError: not "<number> <METHOD>".
    """
    m = _CSEQ.match(value)
    if not m or int(m.group(1)) >= 2**31:
        raise SipParseError(f"bad CSeq {value[:40]!r}")
    return int(m.group(1)), m.group(2).upper()


def param(value: str, name: str) -> str | None:
    """A ``;name=value`` parameter of a header (outside the <URI>), or None."""
    outside = _URI_IN_BRACKETS.sub("", value)
    for part in outside.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name.lower():
            return val.strip().strip('"')
    return None


def uri_of(value: str) -> str:
    """The URI of a name-addr or addr-spec header value (From, To, Contact, Refer-To)."""
    m = _URI_IN_BRACKETS.search(value)
    if m:
        return m.group(1).strip()
    return value.split(";")[0].strip()


def host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """The host and port a ``sip:`` URI points at (URI parameters and headers dropped).

    Raises:
        SipParseError: not a sip/sips URI with a host.
    """
    m = re.match(r"^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;?>]+)(?::(\d+))?", uri.strip(),
                 re.IGNORECASE)
    if not m:
        raise SipParseError(f"not a SIP URI: {uri[:60]!r}")
    host = m.group(1).strip("[]")
    return host, int(m.group(2)) if m.group(2) else default_port


def user_of(uri: str) -> str:
    """The user part of a SIP URI, the number of a tel: URI ("" when there is none)."""
    uri = uri.strip()
    if uri.lower().startswith("tel:"):
        return uri[4:].split(";")[0]
    m = re.match(r"^sips?:([^@;?]*)@", uri, re.IGNORECASE)
    return m.group(1) if m else ""


def via_sent_by(value: str) -> tuple[str, int]:
    """Where responses to a request go: the top Via's received/rport or sent-by."""
    m = re.match(r"^\s*SIP\s*/\s*2\.0\s*/\s*\w+\s+([^;\s]+)", value, re.IGNORECASE)
    if not m:
        raise SipParseError(f"bad Via {value[:60]!r}")
    sent = m.group(1)
    host, _, port = sent.rpartition(":") if sent.count(":") == 1 else (sent, "", "")
    host = host or sent
    received, rport = param(value, "received"), param(value, "rport")
    return (received or host.strip("[]"),
            int(rport) if rport and rport.isdigit() else int(port) if port.isdigit() else 5060)


def new_tag() -> str:
    return secrets.token_hex(4)


def new_branch() -> str:
    """A RFC 3261 branch (magic cookie prefix)."""
    return "z9hG4bK" + secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


def with_tag(value: str, tag: str) -> str:
    """A From/To value with ``;tag=`` set (kept when it already has one)."""
    return value if param(value, "tag") else f"{value};tag={tag}"


def response(request: SipMessage, status: int, reason: str = "", *,
             to_tag: str | None = None, headers: list[tuple[str, str]] | None = None,
             body: bytes = b"", content_type: str | None = None) -> SipMessage:
    """A response to ``request`` (Via, From, To, Call-ID and CSeq copied; RFC 3261 §8.2.6).

    Args:
        request: The request answered.
        status: Status code.
        reason: Reason phrase (default: the standard one).
        to_tag: Tag added to To (not for 100 Trying).
        headers: Extra headers.
        body: Body, e.g. SDP.
        content_type: Its type.
    """
    msg = SipMessage(status=status, reason=reason or REASONS.get(status, ""))
    for via in request.get_all("via"):
        msg.headers.append(("Via", via))
    to = request.get("to") or ""
    if to_tag and status != 100:
        to = with_tag(to, to_tag)
    msg.headers += [("From", request.get("from") or ""), ("To", to),
                    ("Call-ID", request.call_id), ("CSeq", request.get("cseq") or "")]
    msg.headers += headers or []
    if body:
        msg.headers.append(("Content-Type", content_type or "application/sdp"))
        msg.body = body
    return msg


def mask_number(uri: str) -> str:
    """A URI with the phone number in its user part masked but the last 4 digits (for logs and
    records): ``sip:13800138000@host:5060`` → ``sip:*******8000@host:5060``."""
    def mask(user: str) -> str:
        return re.sub(r"\+?\d{5,}", lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:],
                      user)

    scheme, colon, rest = uri.partition(":")
    if not colon:
        return mask(uri)
    user, at, host = rest.partition("@")
    if at:
        return f"{scheme}:{mask(user)}@{host}"
    return f"{scheme}:{mask(rest)}" if scheme.lower() == "tel" else uri


def masked(header: str | None) -> str:
    """The URI of a From/To header with its number masked (records and logs never show the
    whole number)."""
    return mask_number(uri_of(header or ""))
