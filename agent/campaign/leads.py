"""The leads file of a campaign: one callee a row, checked before anything is dialled.

A CSV with a header. ``number`` (or ``phone``) is required: a phone number (E.164, 0086…, an
11-digit mobile, a fixed line) or a SIP URI (``sip:user@host:port``, dialled as is). Optional
columns: ``id`` (the lead's id; default its row number), ``name``, ``tz`` (an IANA zone that
overrides the campaign's for this lead's calling hours), ``customer`` (a customer JSON file,
relative to the CSV) and any CRM feature column (``contract_value``, ``consult_count``, …, see
tierline.segmentation.features), which become the callee's customer profile.

Rows that cannot be dialled are kept and accounted for, never dropped: a malformed number is
``malformed``, a number seen earlier in the file (same do-not-call key, so ``+86 138…`` and
``138…`` are one number) is ``duplicate`` of that lead.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tierline.agent.clikit import UsageError
from tierline.agent.outbound import DialRefused, dnc_key
from tierline.segmentation.features import CustomerError, parse_customer

FEATURES = ("browse_duration", "click_times", "consult_count", "contract_value",
            "renewal_rate", "response_speed", "complaint_count", "referral_count",
            "recency_days", "frequency", "monetary")
_SIP_URI = re.compile(r"^sips?:[^@\s;]+@[A-Za-z0-9.\-\[\]:]+(:\d{1,5})?(;[^\s]*)?$", re.I)


@dataclass(frozen=True)
class Lead:
    """One row of the leads file.

    Attributes:
        lead_id: The lead's id (unique in the campaign).
        row: 1-based data row number in the file.
        number: The number or SIP URI as written.
        key: Its do-not-call key (the normalised number), "" when malformed.
        name: The callee's name, if given.
        tz: The lead's own time zone, "" for the campaign's.
        customer: CRM fields for the callee's profile.
        problem: ``malformed`` or ``duplicate`` (with ``detail``), "" when dialable.
        detail: Why the row is not dialable.
    """

    lead_id: str
    row: int
    number: str
    key: str
    name: str = ""
    tz: str = ""
    customer: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    detail: str = ""


def check_number(number: str) -> str:
    """The do-not-call key of a dialable number or SIP URI.

    Raises:
        ValueError: the value is no phone number (5-15 digits) and no SIP URI.
    """
    number = number.strip()
    if not number:
        raise ValueError("empty number")
    if number.lower().startswith(("sip:", "sips:")) and not _SIP_URI.match(number):
        raise ValueError(f"malformed SIP URI {number!r}")
    try:
        key = dnc_key(number)
    except (DialRefused, ValueError) as exc:
        raise ValueError(str(exc)) from None
    if not number.lower().startswith(("sip:", "sips:")) and not 5 <= len(key) <= 15:
        raise ValueError(f"{number!r} has {len(key)} digits (a phone number has 5-15)")
    return key


def _customer(row: dict[str, str], base: Path, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    path = (row.get("customer") or "").strip()
    if path:
        file = (base / path) if not Path(path).is_absolute() else Path(path)
        try:
            out.update(json.loads(file.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{where}: customer file {file}: {exc}") from None
    for name in FEATURES:
        value = (row.get(name) or "").strip()
        if value:
            try:
                out[name] = float(value)
            except ValueError:
                raise UsageError(f"{where}: {name} must be a number, not {value!r}") from None
    try:
        parse_customer(out)
    except CustomerError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return out


def read_leads(path: str | Path) -> list[Lead]:
    """Every row of the leads file, dialable or not.

    Raises:
        UsageError: no such file, no ``number`` column, an unknown time zone, a bad customer
            file or feature value, or two rows with the same id.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read leads file {path}: {exc.strerror or exc}") from None
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    column = "number" if "number" in fields else "phone" if "phone" in fields else None
    if column is None:
        raise UsageError(f"{path}: the leads file needs a 'number' column (header: "
                         f"{', '.join(fields) or 'none'})")
    leads: list[Lead] = []
    seen: dict[str, str] = {}
    ids: set[str] = set()
    for i, raw in enumerate(reader, start=1):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        where = f"{path}: row {i}"
        lead_id = row.get("id") or row.get("lead_id") or f"row{i}"
        if lead_id in ids:
            raise UsageError(f"{where}: lead id {lead_id!r} is used twice")
        ids.add(lead_id)
        tz = row.get("tz", "")
        if tz:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise UsageError(f"{where}: unknown time zone {tz!r}") from None
        number = row.get(column, "")
        common = {"lead_id": lead_id, "row": i, "number": number, "name": row.get("name", ""),
                  "tz": tz, "customer": _customer(row, path.parent, where)}
        try:
            key = check_number(number)
        except ValueError as exc:
            leads.append(Lead(key="", problem="malformed", detail=str(exc), **common))
            continue
        if key in seen:
            leads.append(Lead(key=key, problem="duplicate",
                              detail=f"same number as lead {seen[key]}", **common))
            continue
        seen[key] = lead_id
        leads.append(Lead(key=key, **common))
    return leads
