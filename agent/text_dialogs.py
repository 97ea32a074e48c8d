"""Text dialogs for `tierline tier`: {"id", "customer", "utterances"} or a list of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tierline.core.errors import TierlineError
from tierline.segmentation.features import CustomerError, CustomerProfile, parse_customer


class DialogError(TierlineError, ValueError):
    """A dialog file is malformed; the message names the dialog and field."""


@dataclass(frozen=True)
class Dialog:
    id: str
    customer: CustomerProfile
    utterances: tuple[str, ...]


def _parse_one(obj: object, where: str) -> Dialog:
    if not isinstance(obj, dict):
        raise DialogError(f"{where}: a dialog must be a JSON object")
    did = str(obj.get("id", where))
    utts = obj.get("utterances")
    if not isinstance(utts, list):
        raise DialogError(f"dialog {did}: 'utterances' must be a list of strings")
    if not utts:
        raise DialogError(f"dialog {did}: 'utterances' is empty")
    texts = []
    for i, u in enumerate(utts):
        text = u.get("text") if isinstance(u, dict) else u
        if not isinstance(text, str):
            raise DialogError(f"dialog {did}: utterance {i} is not text")
        texts.append(text)
    try:
        customer = parse_customer(obj.get("customer"))
    except CustomerError as exc:
        raise DialogError(f"dialog {did}: {exc}") from None
    return Dialog(did, customer, tuple(texts))


def load_dialogs(path: str | Path) -> list[Dialog]:
    """Read one dialog or a list of dialogs.

    Raises:
        DialogError: unreadable file, invalid JSON, or a malformed dialog.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DialogError(f"dialog file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise DialogError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DialogError(f"cannot read dialog file {path}: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise DialogError(f"{path}: no dialogs")
    return [_parse_one(obj, f"{path.name}[{i}]") for i, obj in enumerate(items)]
