"""`tierline crm`: the CRM database from the command line.

    tierline crm import customers.csv [--skip-bad] [--dry-run]
    tierline crm export [--out calls.jsonl] [--since 2026-12-01]
    tierline crm purge --older-than DAYS [--customers] [--dry-run]
    tierline crm migrate
"""

from __future__ import annotations

import argparse
import json
import sys

from tierline.agent.clikit import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crm", help="the CRM database: import customers, export calls, purge")
    p.add_argument("--db", metavar="URL|FILE", help="CRM database (default TIERLINE_DB_URL, "
                   "else $TIERLINE_HOME/crm.sqlite3)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="import customers from a CSV file (UTF-8 or GBK)")
    imp.add_argument("csv", metavar="CSV")
    imp.add_argument("--skip-bad", action="store_true",
                     help="import the good rows and report the bad ones (default: a bad row "
                          "stops the whole import)")
    imp.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    exp = actions.add_parser("export", help="every stored call as JSON lines (the JSON "
                             "contract of replay; the LiveKit calls.jsonl ledger)")
    exp.add_argument("--out", metavar="FILE|-", default="-")
    exp.add_argument("--since", metavar="DATE", help="calls started on or after DATE "
                     "(ISO 8601)")
    pur = actions.add_parser("purge", help="delete finished calls older than the retention")
    pur.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    pur.add_argument("--customers", action="store_true",
                     help="also delete customers with no call left, not updated since")
    pur.add_argument("--dry-run", action="store_true", help="count only")
    actions.add_parser("migrate", help="bring the database schema up to date")
    for q in (imp, exp, pur):
        q.add_argument("--db", metavar="URL|FILE", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierline.crm.db import head_revision, open_database

    db = open_database(args.db)
    if args.action == "migrate":
        print(f"{db.shown}: schema at revision {head_revision()}")
        return 0
    if args.action == "import":
        return _import(args, db)
    if args.action == "export":
        return _export(args, db)
    return _purge(args, db)


def _import(args: argparse.Namespace, db) -> int:
    from tierline.crm.importer import ImportRejected, import_customers

    try:
        result = import_customers(db, args.csv, skip_bad=args.skip_bad, dry_run=args.dry_run)
    except ImportRejected as exc:
        for bad in exc.bad:
            print(f"{args.csv}:{bad.line}: {bad.reason}", file=sys.stderr)
        raise
    for bad in result.bad:
        print(f"{args.csv}:{bad.line}: skipped: {bad.reason}", file=sys.stderr)
    if args.json:
        print(json.dumps({**result.to_dict(), "dry_run": args.dry_run}, ensure_ascii=False))
    else:
        verb = "would import" if args.dry_run else "imported"
        print(f"{args.csv} ({result.encoding}): {verb} {result.rows} row(s): "
              f"{result.created} new, {result.updated} updated, {result.merged} merged "
              f"duplicate(s), {len(result.bad)} skipped")
    return 0


def _export(args: argparse.Namespace, db) -> int:
    from datetime import datetime, timezone

    from tierline.crm.queries import iter_records

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since must be an ISO date, not {args.since!r}") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    n = 0
    try:
        for record in iter_records(db, since):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{n} call(s) exported from {db.shown}", file=sys.stderr)
    return 0


def _purge(args: argparse.Namespace, db) -> int:
    from tierline.crm.retention import purge

    try:
        result = purge(db, args.older_than, customers=args.customers, dry_run=args.dry_run)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {result.calls} call(s) started before {result.cutoff}, "
          f"{result.recordings} recording(s), {result.customers} customer(s)")
    return 0
