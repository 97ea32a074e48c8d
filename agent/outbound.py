"""The gate every outbound call passes before any network traffic: the do-not-call list.

Calling a number that opted out is a legal problem, so no dialer decides this for itself:
the LiveKit dialer (:meth:`tierline.agent.livekit.telephony.Telephony.dial`), the built-in SIP
endpoint and the campaign runner all call :func:`permit_dial` first, and a refused target
never reaches a socket.

Targets are phone numbers (E.164 ``+8613800138000``, ``0086…``, 11-digit mainland mobiles,
fixed lines) or SIP URIs. A SIP URI whose user part is a phone number is checked as that
number (``sip:+8613800138000@trunk`` is the mobile ``13800138000``); any other URI is
checked as itself, so an address on the list is refused too.
"""

from __future__ import annotations

import re

from tierline.agent.dialog.compliance import DncList, normalize_number
from tierline.core.errors import TierlineError

_SIP = re.compile(r"^sips?:(?P<user>[^@;]+)@", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"^[+\d\s()\-]+$")


class DialRefused(TierlineError):
    """An outbound call that must not be placed (the target opted out, or is no target)."""


def dnc_key(target: str) -> str:
    """The do-not-call key of a dial target: the normalised number, else the lower-case URI.

    Raises:
        DialRefused: the target is neither a phone number nor a SIP URI.
    """
    target = str(target).strip()
    m = _SIP.match(target)
    user = m.group("user") if m else target
    if _PHONE_CHARS.match(user) and sum(c.isdigit() for c in user) >= 3:
        return normalize_number(user)
    if m:
        return target.lower()
    raise DialRefused(f"not a phone number or SIP URI: {target!r}")


def permit_dial(target: str, dnc: DncList | None = None) -> str:
    """Check an outbound target against the do-not-call list; call before dialling.

    Args:
        target: Phone number or SIP URI about to be dialled.
        dnc: The list (default: the CRM database's, ``$TIERLINE_HOME/crm.sqlite3``).

    Returns:
        The target's do-not-call key (the number it was checked as).

    Raises:
        DialRefused: the target is on the list (or is not a dial target at all).
    """
    key = dnc_key(target)
    dnc = dnc or DncList()
    if dnc.contains_key(key):
        raise DialRefused(f"refusing to dial {target}: {key} is on the do-not-call list "
                          f"({dnc.path})")
    return key
