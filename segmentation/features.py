"""CRM behaviour features of a caller, with validation and documented defaults.

The eight feature names come from seed 000; RFM columns are optional. A customer JSON is
either flat (``{"id": "C1", "contract_value": 300000, ...}``) or nests the numbers under
``"features"``. Metadata keys (id, name, phone, company, segment, note) are allowed.

Defaults (used when a feature is missing, and said so in the tier reasons):

=================  =======  ====================================================
feature            default  meaning
=================  =======  ====================================================
browse_duration    0        minutes on the product site / app in the last 30 days
click_times        0        clicks on product pages in the last 30 days
consult_count      0        earlier enquiries (calls, chats, forms)
contract_value     0        current contract value, CNY; > 0 means existing customer
renewal_rate       0        share of past contracts renewed, 0..1
response_speed     24       median hours the customer takes to answer us
complaint_count    0        complaints filed in the last 12 months
referral_count     0        customers this customer referred to us
recency_days       365      days since the last purchase (RFM)
frequency          0        purchases in the last 24 months (RFM)
monetary           0        CNY spent in the last 24 months (RFM)
=================  =======  ====================================================
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierline.core.errors import TierlineError

CRM_FEATURES = (
    "browse_duration",
    "click_times",
    "consult_count",
    "contract_value",
    "renewal_rate",
    "response_speed",
    "complaint_count",
    "referral_count",
)
RFM_FEATURES = ("recency_days", "frequency", "monetary")
DEFAULTS: dict[str, float] = {
    "browse_duration": 0.0,
    "click_times": 0.0,
    "consult_count": 0.0,
    "contract_value": 0.0,
    "renewal_rate": 0.0,
    "response_speed": 24.0,
    "complaint_count": 0.0,
    "referral_count": 0.0,
    "recency_days": 365.0,
    "frequency": 0.0,
    "monetary": 0.0,
}
_MAXIMA: dict[str, float] = {
    "browse_duration": 60 * 24 * 31,
    "click_times": 1e6,
    "consult_count": 1e5,
    "contract_value": 1e11,
    "renewal_rate": 1.0,
    "response_speed": 24 * 365,
    "complaint_count": 1e4,
    "referral_count": 1e5,
    "recency_days": 365 * 50,
    "frequency": 1e6,
    "monetary": 1e11,
}
_METADATA = {"id", "name", "phone", "company", "segment", "note", "features"}


class CustomerError(TierlineError, ValueError):
    """Customer data is malformed; the message names the field."""


@dataclass(frozen=True)
class CustomerProfile:
    """A caller's CRM record.

    Attributes:
        id: Customer id ("" when unknown).
        features: All CRM and RFM features, defaults filled in.
        defaulted: Names of the eight CRM features that were missing and defaulted.
        name: Display name, if given.
    """

    id: str = ""
    features: dict[str, float] = field(default_factory=lambda: dict(DEFAULTS))
    defaulted: tuple[str, ...] = CRM_FEATURES
    name: str = ""

    @property
    def is_existing_customer(self) -> bool:
        return self.features["contract_value"] > 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "features": dict(self.features),
                "defaulted": list(self.defaulted)}


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CustomerError(f"customer feature {name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise CustomerError(f"customer feature {name} must be finite, got {value}")
    if value < 0:
        raise CustomerError(f"customer feature {name} must not be negative, got {value:g}")
    if value > _MAXIMA[name]:
        raise CustomerError(f"customer feature {name}={value:g} is beyond {_MAXIMA[name]:g}")
    return value


def parse_customer(data: Any) -> CustomerProfile:
    """Validate a customer mapping and fill defaults.

    Raises:
        CustomerError: not an object, unknown feature names, or bad values.
    """
    if data is None:
        return CustomerProfile()
    if not isinstance(data, dict):
        raise CustomerError(f"customer must be a JSON object, got {type(data).__name__}")
    raw = data.get("features", {})
    if not isinstance(raw, dict):
        raise CustomerError("customer 'features' must be a JSON object")
    raw = {**{k: v for k, v in data.items() if k not in _METADATA}, **raw}
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise CustomerError(
            f"unknown customer feature(s): {', '.join(unknown)} "
            f"(known: {', '.join(CRM_FEATURES + RFM_FEATURES)})"
        )
    features = dict(DEFAULTS)
    for name, value in raw.items():
        features[name] = _number(name, value)
    defaulted = tuple(n for n in CRM_FEATURES if n not in raw)
    return CustomerProfile(
        id=str(data.get("id", "")), features=features, defaulted=defaulted,
        name=str(data.get("name", "")),
    )


def load_customer(path: str | Path) -> CustomerProfile:
    """Read and validate a customer JSON file.

    Raises:
        CustomerError: unreadable file, invalid JSON, or invalid content.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CustomerError(f"customer file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CustomerError(f"cannot read customer file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CustomerError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    try:
        return parse_customer(data)
    except CustomerError as exc:
        raise CustomerError(f"{path}: {exc}") from None
