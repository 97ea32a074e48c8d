"""`tierline serve`: the CRM's HTTP API and the live dashboard.

    TIERLINE_API_TOKEN=... tierline serve [--host 127.0.0.1] [--port 8000] [--db URL|FILE]
"""

from __future__ import annotations

import argparse
import logging
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the CRM API and the live dashboard over HTTP")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--db", metavar="URL|FILE", help="CRM database (default TIERLINE_DB_URL, "
                   "else $TIERLINE_HOME/crm.sqlite3)")
    p.set_defaults(func=run)


class _MaskNumbers(logging.Filter):
    """Access-log lines with phone numbers (a search, a path) masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        from tierline.crm.phones import mask_text

        if isinstance(record.args, tuple):
            record.args = tuple(mask_text(a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def run(args: argparse.Namespace) -> int:
    from tierline.agent.clikit import UsageError

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be 1-65535, not {args.port}")
    try:
        import uvicorn

        from tierline.dashboard.api import create_app
    except ImportError as exc:
        raise UsageError(f"the server needs the `server` extra (pip install "
                         f"'tierline[server]'): {exc}") from None
    from tierline.crm.db import open_database
    from tierline.dashboard.auth import Tokens, tokens_from_env

    tokens = tokens_from_env()
    db = open_database(args.db)
    app = create_app(db, Tokens(tokens))
    logging.getLogger("uvicorn.access").addFilter(_MaskNumbers())
    print(f"tierline: dashboard on http://{args.host}:{args.port}/ (database {db.shown}; "
          "API schema at /openapi.json)", file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info",
                    access_log=True, timeout_graceful_shutdown=5)  # open streams: 5 s
    except SystemExit as exc:  # uvicorn exits 1 when it cannot bind
        if exc.code:
            raise UsageError(f"cannot listen on {args.host}:{args.port} (in use or not "
                             "allowed)") from None
    return 0
