"""Phone numbers: one stored form (E.164), the 11-digit mainland form, and masks for display.

Accepted spellings: ``+86 138-0013-8000``, ``008613800138000``, ``8613800138000``,
``13800138000``, fixed lines with their area code (``010-62345678`` → ``+861062345678``), and
other countries in E.164 (``+44 20 7946 0958``). Full-width digits and separators are read
too (``１３８００１３８０００``).
"""

from __future__ import annotations

import re
import unicodedata

from tierline.core.errors import TierlineError

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_FIXED = re.compile(r"^0[1-9]\d{8,10}$")  # area code + local number, 10-12 digits
_ALLOWED = re.compile(r"^\+?[\d\s\-().]+$")
_DIGIT_RUN = re.compile(r"(?<!\d)(\+?\d[\d\s\-]{5,}\d)(?!\d)")


class PhoneError(TierlineError, ValueError):
    """Not a phone number Tierline can store."""


def normalize_phone(raw: str) -> str:
    """The E.164 form of a number.

    Raises:
        PhoneError: letters, too few or too many digits, or an impossible mainland number.
    """
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        raise PhoneError("empty phone number")
    if not _ALLOWED.match(text):
        raise PhoneError(f"not a phone number: {_shown(raw)}")
    plus = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if digits.startswith("00"):
        plus, digits = True, digits[2:]
    if not plus and digits.startswith("86") and _MOBILE.match(digits[2:]):
        plus = True
    if plus:
        if digits.startswith("86"):
            national = digits[2:]
            if _MOBILE.match(national) or _FIXED.match("0" + national):
                return "+" + digits
            raise PhoneError(f"not a mainland China number: {_shown(raw)}")
        if 8 <= len(digits) <= 15 and digits[0] != "0":
            return "+" + digits
        raise PhoneError(f"not an international number: {_shown(raw)}")
    if _MOBILE.match(digits):
        return "+86" + digits
    if _FIXED.match(digits):
        return "+86" + digits[1:]
    raise PhoneError(f"not a phone number (11-digit mobile, area code + number, or "
                     f"+country code): {_shown(raw)}")


def mainland(e164: str) -> str:
    """The national form of a +86 number (``13800138000``, ``01062345678``); other
    countries stay E.164."""
    if e164.startswith("+86"):
        national = e164[3:]
        return national if _MOBILE.match(national) else "0" + national
    return e164


def mask(number: str | None) -> str | None:
    """A number with its middle hidden: ``+86 138****8000``, ``010****5678`` (None stays
    None). Only the first three and the last four digits of the national number show, and
    nothing of a short one but its last two."""
    if not number:
        return number
    digits = re.sub(r"\D", "", number)
    prefix = ""
    if number.strip().startswith("+86") or (digits.startswith("86") and len(digits) == 13):
        prefix, digits = "+86 ", digits[2:]
    elif number.strip().startswith("+"):
        prefix, digits = "+", digits
    if len(digits) >= 10:
        return prefix + digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return prefix + "*" * max(0, len(digits) - 2) + digits[-2:]


def mask_text(text: str) -> str:
    """Free text (an utterance, a log line) with every run of 7 or more digits masked."""

    def hide(m: re.Match) -> str:
        run = m.group(1)
        digits = sum(c.isdigit() for c in run)
        return mask(run) if digits >= 7 else run

    return _DIGIT_RUN.sub(hide, text)


def _shown(raw: str) -> str:
    """A rejected number for a message: masked when it has digits enough to be one."""
    text = str(raw)
    if sum(c.isdigit() for c in text) >= 5:
        return repr(mask(text))
    return repr(text[:20])
