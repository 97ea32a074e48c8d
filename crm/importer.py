"""Customer CSV import: cleaned, merged, all or nothing.

A file is read as UTF-8 (with or without BOM) or, failing that, as GBK/GB18030 (what Excel
saves on a Chinese Windows); any other bytes are refused. The header names the columns, in
English or Chinese (``phone``/``电话``/``手机``, ``name``/``姓名``, …; :data:`ALIASES`);
unknown columns are an error, so a typo never drops a feature silently.

Every row is checked: a phone number is normalised to E.164 (:mod:`tierline.crm.phones`),
features must be numbers within the tier model's bounds, tags are split on ``;`` ``|`` ``、``
``，``, the lifecycle stage must be one of :data:`~tierline.crm.models.LIFECYCLE_STAGES`. Rows
for the same customer (same id, or same phone) are merged: later non-empty cells win, tags
add up. Customers already in the CRM are updated the same way.

Nothing is written when any row is bad (:class:`ImportRejected` lists them with their line
numbers), unless ``skip_bad`` is set; then the good rows are written in one transaction and the
bad ones are reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tierline.core.errors import TierlineError
from tierline.crm.db import Database
from tierline.crm.models import LIFECYCLE_STAGES, AuditEntry, Customer
from tierline.crm.phones import PhoneError, mask, normalize_phone
from tierline.segmentation.features import (
    CRM_FEATURES,
    RFM_FEATURES,
    CustomerError,
    parse_customer,
)

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_CELL = 2000
ALIASES: dict[str, str] = {
    "id": "id", "customer_id": "id", "客户编号": "id", "客户id": "id", "编号": "id",
    "name": "name", "姓名": "name", "名称": "name", "客户名称": "name",
    "phone": "phone", "mobile": "phone", "tel": "phone", "电话": "phone", "手机": "phone",
    "手机号": "phone", "联系电话": "phone",
    "company": "company", "公司": "company",
    "tags": "tags", "标签": "tags",
    "lifecycle_stage": "lifecycle_stage", "stage": "lifecycle_stage", "阶段": "lifecycle_stage",
    **{f: f for f in CRM_FEATURES + RFM_FEATURES},
}
_TAG_SPLIT = re.compile(r"[;|、，,]")


class CsvError(TierlineError):
    """The file cannot be read as a customer CSV at all (encoding, header, size)."""


@dataclass(frozen=True)
class BadRow:
    """A row that was not imported: its line in the file and why."""

    line: int
    reason: str


class ImportRejected(TierlineError):
    """Bad rows, nothing imported. ``str()`` is one line; :attr:`bad` has every row."""

    def __init__(self, path: str, bad: list[BadRow], total: int) -> None:
        first = "; ".join(f"line {b.line}: {b.reason}" for b in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        super().__init__(f"{path}: {len(bad)} of {total} row(s) are bad, nothing imported: "
                         f"{first}{more}")
        self.bad = bad


@dataclass
class ImportResult:
    """What an import did (or would do, for a dry run)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    """Rows folded into an earlier row of the same file (same id or phone)."""
    encoding: str = "utf-8"
    bad: list[BadRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "merged": self.merged, "encoding": self.encoding,
                "bad": [{"line": b.line, "reason": b.reason} for b in self.bad]}


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in (utf-8 or gb18030).

    Raises:
        CsvError: neither encoding reads it, or it holds NUL bytes (not a text file).
    """
    if b"\0" in data:
        raise CsvError("not a text file (it holds NUL bytes)")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), "utf-8" if encoding == "utf-8-sig" else "gbk"
        except UnicodeDecodeError:
            continue
    raise CsvError("the file is neither UTF-8 nor GBK text")


def read_rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The canonical column names and the (line number, cells) of every data row.

    Raises:
        CsvError: no header, unknown or repeated columns, or a malformed row.
    """
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)  # the header's own separator
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError("empty file: no header row") from None
    except csv.Error as exc:
        raise CsvError(f"line 1: {exc}") from None
    columns = []
    for raw in header:
        key = raw.strip().lower()
        if key not in ALIASES:
            raise CsvError(f"line 1: unknown column {raw.strip()[:40]!r} (known: id, "
                               f"name, phone, company, tags, lifecycle_stage, "
                               f"{', '.join(CRM_FEATURES + RFM_FEATURES)})")
        columns.append(ALIASES[key])
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise CsvError(f"line 1: column(s) given twice: {', '.join(repeated)}")
    if "phone" not in columns and "id" not in columns:
        raise CsvError("line 1: the header needs a phone or an id column")
    rows = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise CsvError(f"more than {MAX_ROWS} rows; split the file")
            if len(cells) != len(columns):
                rows.append((line, {"__bad__": f"{len(cells)} cells, the header has "
                                               f"{len(columns)}"}))
                continue
            rows.append((line, dict(zip(columns, (c.strip() for c in cells), strict=True))))
    except csv.Error as exc:
        raise CsvError(f"line {reader.line_num}: {exc}") from None
    return columns, rows


def clean_row(cells: dict[str, str]) -> dict[str, Any]:
    """One row as customer fields (only the cells that were filled).

    Raises:
        ValueError: the reason the row is bad.
    """
    if "__bad__" in cells:
        raise ValueError(cells["__bad__"])
    too_long = [k for k, v in cells.items() if len(v) > MAX_CELL]
    if too_long:
        raise ValueError(f"{too_long[0]} is longer than {MAX_CELL} characters")
    out: dict[str, Any] = {}
    if cells.get("phone"):
        try:
            out["phone"] = normalize_phone(cells["phone"])
        except PhoneError as exc:
            raise ValueError(str(exc)) from None
    for key in ("id", "name", "company"):
        if cells.get(key):
            out[key] = cells[key]
    if not out.get("id") and not out.get("phone"):
        raise ValueError("neither an id nor a phone number")
    features = {}
    for name in CRM_FEATURES + RFM_FEATURES:
        value = cells.get(name, "")
        if value:
            try:
                features[name] = float(value.replace(",", "").replace("，", ""))
            except ValueError:
                raise ValueError(f"{name} must be a number, not {value[:20]!r}") from None
    try:
        parse_customer(features)  # the tier model's own bounds: no NaN, no negatives
    except CustomerError as exc:
        raise ValueError(str(exc)) from None
    out.update(features)
    if cells.get("tags"):
        out["tags"] = [t.strip() for t in _TAG_SPLIT.split(cells["tags"]) if t.strip()]
    if cells.get("lifecycle_stage"):
        stage = cells["lifecycle_stage"].lower()
        if stage not in LIFECYCLE_STAGES:
            raise ValueError(f"lifecycle_stage must be one of {', '.join(LIFECYCLE_STAGES)}, "
                             f"not {stage[:20]!r}")
        out["lifecycle_stage"] = stage
    return out


def _merge(into: dict[str, Any], row: dict[str, Any]) -> None:
    for key, value in row.items():
        if key == "tags":
            into["tags"] = list(dict.fromkeys([*into.get("tags", []), *value]))
        else:
            into[key] = value


def _new_id(phone: str) -> str:
    return "C-" + hashlib.blake2b(phone.encode(), digest_size=5).hexdigest()


def import_customers(db: Database, path: str | Path, skip_bad: bool = False,
                     dry_run: bool = False, actor: str = "cli") -> ImportResult:
    """Read, clean, merge and write a customer CSV in one transaction.

    Raises:
        CsvError: the file cannot be read as a customer CSV.
        ImportRejected: bad rows and not ``skip_bad`` (nothing written).
    """
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise CsvError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        text, encoding = decode(path.read_bytes())
        _, rows = read_rows(text)
    except CsvError as exc:
        raise CsvError(f"{path}: {exc}") from None
    result = ImportResult(rows=len(rows), encoding=encoding)
    merged: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}
    for line, cells in rows:
        try:
            row = clean_row(cells)
        except ValueError as exc:
            result.bad.append(BadRow(line, str(exc)))
            continue
        keys = [f"id:{row['id']}" if row.get("id") else None,
                f"phone:{row['phone']}" if row.get("phone") else None]
        found = [by_key[k] for k in keys if k and k in by_key]
        if len({id(f) for f in found}) > 1:
            result.bad.append(BadRow(line, "its id and its phone belong to two different "
                                           "earlier rows"))
            continue
        if found:
            target = found[0]
            if row.get("id") and target.get("id") and row["id"] != target["id"]:
                result.bad.append(BadRow(line, f"phone {mask(row['phone'])} already belongs "
                                               f"to customer {target['id']}"))
                continue
            _merge(target, row)
            result.merged += 1
        else:
            target = dict(row, _line=line)
            merged.append(target)
        for k in keys:
            if k:
                by_key[k] = target
    if result.bad and not skip_bad:
        raise ImportRejected(str(path), result.bad, len(rows))
    with db.session() as s:
        for row in merged:
            _write(s, row, result)
        if dry_run:
            s.rollback()
            return result
        s.add(AuditEntry(kind="import", actor=actor,
                         detail={"file": path.name, **{k: v for k, v in result.to_dict()
                                                       .items() if k != "bad"},
                                 "bad": len(result.bad)}))
    return result


def _write(s, row: dict[str, Any], result: ImportResult) -> None:
    line = row.pop("_line")
    existing = None
    if row.get("id"):
        existing = s.get(Customer, row["id"])
    if existing is None and row.get("phone"):
        existing = s.scalar(select(Customer).where(Customer.phone == row["phone"]))
    if existing is not None and row.get("phone") and existing.phone not in (None, row["phone"]):
        other = s.scalar(select(Customer.id).where(Customer.phone == row["phone"]))
        if other is not None and other != existing.id:
            raise ImportRejected("import", [BadRow(line, f"phone {mask(row['phone'])} belongs "
                                                         f"to customer {other}")], 1)
    given = [f for f in CRM_FEATURES if f in row]
    if existing is None:
        customer = Customer(id=row.get("id") or _new_id(row["phone"]), source="import",
                            name=row.get("name", ""), company=row.get("company", ""),
                            phone=row.get("phone"), tags=row.get("tags", []),
                            lifecycle_stage=row.get("lifecycle_stage", "lead"),
                            defaulted=[f for f in CRM_FEATURES if f not in given],
                            **{f: row[f] for f in CRM_FEATURES + RFM_FEATURES if f in row})
        s.add(customer)
        s.flush()
        result.created += 1
        return
    for key in ("name", "company", "phone", "lifecycle_stage", *CRM_FEATURES, *RFM_FEATURES):
        if key in row:
            setattr(existing, key, row[key])
    if "tags" in row:
        existing.tags = list(dict.fromkeys([*(existing.tags or []), *row["tags"]]))
    existing.defaulted = [f for f in (existing.defaulted or []) if f not in given]
    s.flush()
    result.updated += 1
