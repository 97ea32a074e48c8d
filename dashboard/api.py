"""The HTTP API over the CRM (FastAPI) and the dashboard's static files.

Every ``/api`` route but ``/api/health`` needs ``Authorization: Bearer TOKEN``
(:mod:`tierline.dashboard.auth`): 401 without a valid token, 403 without the route's scope.
Numbers are masked unless the token has ``pii``. Bodies over :data:`MAX_BODY` bytes get 413
before they are read; a body that does not match its schema gets 422 and changes nothing.

Live updates: ``GET /api/live/stream`` is a server-sent event stream of the audit log (a
turn's tier, emotion and words, transfers, calls starting and ending), polled from the
database, so it shows calls written by any process — a replay, a LiveKit worker — on the same
database. It resumes after ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from tierline.core.database import DatabaseError
from tierline.crm import queries
from tierline.crm.db import Database, head_revision
from tierline.dashboard.auth import Principal, Tokens

MAX_BODY = 64 * 1024
STATIC = Path(__file__).parent / "static"
POLL_S = 0.5
HEARTBEAT_S = 15.0
STREAM_MAX_S = 3600.0

_bearer = HTTPBearer(auto_error=False, description="TIERLINE_API_TOKEN")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid token"},
    403: {"description": "the token lacks the scope"},
}

_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body is not JSON in UTF-8"},
    413: {"description": "the body is larger than 64 KiB"},
}


class OutcomeIn(BaseModel):
    """What became of a call."""

    model_config = ConfigDict(extra="forbid")
    call_id: str = Field(min_length=1, max_length=200)
    outcome: Literal["converted", "lost", "churned"]


class TierIn(BaseModel):
    """A person's tier for a call."""

    model_config = ConfigDict(extra="forbid")
    call_id: str = Field(min_length=1, max_length=200)
    tier: Literal["high", "medium", "low", "churn_risk"]
    note: str = Field(default="", max_length=1000)


class BodyLimit:
    """ASGI middleware: refuse a body over ``limit`` bytes with 413, by its declared length or
    as it streams in."""

    def __init__(self, app, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _too_large(send, self.limit)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _principal(scope: str):
    """A dependency: the caller's principal, 401 without a valid token, 403 without
    ``scope``."""

    async def check(request: Request,
                    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
                    ) -> Principal:
        tokens: Tokens = request.app.state.tokens
        who = tokens.check(creds.credentials) if creds is not None else None
        if who is None:
            raise HTTPException(401, "missing or invalid bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        if scope not in who.scopes:
            raise HTTPException(403, f"the token lacks the {scope!r} scope")
        return who

    return check


def _query_names(dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def _known_query(request: Request) -> None:
    """422 for a query parameter the route does not take (a typo never passes silently)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    extra = sorted(set(request.query_params) - _query_names(dependant))
    if extra:
        raise RequestValidationError([{"loc": ("query", extra[0]), "type": "extra_forbidden",
                                       "msg": "unknown query parameter"}])


Reader = Annotated[Principal, Depends(_principal("read"))]
Writer = Annotated[Principal, Depends(_principal("feedback"))]
CallId = Annotated[str, PathParam(min_length=1, max_length=200)]


def create_app(db: Database, tokens: Tokens) -> FastAPI:
    """The API and dashboard over ``db``, guarded by ``tokens``."""
    app = FastAPI(title="Tierline CRM API", version="1",
                  description="Customers, calls with every turn, tier and decision, live "
                              "updates, the human queue and feedback to the online learning.",
                  dependencies=[Depends(_known_query)])
    app.state.tokens = tokens

    @app.exception_handler(queries.NotFound)
    async def _not_found(_request, exc):
        return JSONResponse({"detail": str(exc)}, 404)

    @app.exception_handler(queries.Conflict)
    async def _conflict(_request, exc):
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(DatabaseError)
    async def _database(_request, exc):
        return JSONResponse({"detail": str(exc)}, 503)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc):
        return JSONResponse({"detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg"),
                                         "type": e.get("type")}
                                        for e in exc.errors()]}, 422)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith("/docs"):
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
        response.headers["Cache-Control"] = "no-store"
        return response

    async def run(fn, *args, **kwargs):
        return await run_in_threadpool(fn, db, *args, **kwargs)

    @app.get("/api/health", tags=["meta"])
    async def health() -> dict[str, Any]:
        """Liveness and the schema revision (no token needed)."""
        return {"status": "ok", "schema": head_revision()}

    @app.get("/api/customers", tags=["customers"], responses=_ERRORS)
    async def customers(who: Reader,
                        q: Annotated[str, Query(max_length=200)] = "",
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0
                        ) -> dict[str, Any]:
        """Search customers by id, name, company or tag (by number too with ``pii``)."""
        return await run(queries.search_customers, q, limit, offset, who.pii)

    @app.get("/api/customers/{customer_id}", tags=["customers"],
             responses={**_ERRORS, 404: {"description": "no such customer"}})
    async def customer(who: Reader,
                       customer_id: CallId) -> dict[str, Any]:
        """A customer: features, RFM, tags, stage, tier history and calls."""
        return await run(queries.customer_detail, customer_id, who.pii)

    @app.get("/api/calls", tags=["calls"], responses=_ERRORS)
    async def calls(who: Reader,
                    status: Literal["live", "ended", "failed"] | None = None,
                    customer: Annotated[str | None, Query(max_length=200)] = None,
                    tier: Literal["high", "medium", "low", "churn_risk"] | None = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
        """Calls, newest first."""
        return await run(queries.list_calls, status, customer, tier, limit, offset, who.pii)

    @app.get("/api/calls/{call_id}", tags=["calls"],
             responses={**_ERRORS, 404: {"description": "no such call"}})
    async def call(who: Reader, call_id: CallId) -> dict[str, Any]:
        """A call with its turns (the JSON contract), decisions, tier history and audit."""
        return await run(queries.call_detail, call_id, who.pii)

    @app.get("/api/calls/{call_id}/plots", tags=["calls"],
             responses={**_ERRORS, 404: {"description": "no such call"}})
    async def plots(who: Reader, call_id: CallId) -> dict[str, str]:
        """The call's tier-probability and arousal plots as inline SVG (the replay report's)."""
        from tierline.agent.report_plots import arousal_plot, tier_plot

        detail = await run(queries.call_detail, call_id, who.pii)
        record = detail["record"]
        return {"tier": tier_plot(record), "arousal": arousal_plot(record)}

    @app.get("/api/live", tags=["live"], responses=_ERRORS)
    async def live(who: Reader) -> dict[str, Any]:
        """Calls in progress, and the event id the stream continues from."""
        cursor = await run(queries.last_event_id)
        return {"cursor": cursor, "calls": await run(queries.live_calls, who.pii)}

    @app.get("/api/live/stream", tags=["live"], responses=_ERRORS,
             response_class=StreamingResponse)
    async def stream(request: Request, who: Reader,
                     after: Annotated[int | None, Query(ge=0)] = None,
                     last_event_id: Annotated[str | None, Header(max_length=20)] = None):
        """Server-sent events: one ``event: KIND`` per audit entry (turn, transfer,
        call_started, call_ended, outcome, tier_correction, queue_taken)."""
        cursor = after
        if cursor is None and last_event_id and last_event_id.isdigit():
            cursor = int(last_event_id)
        if cursor is None:
            cursor = await run(queries.last_event_id)
        return StreamingResponse(_events(request, cursor, who.pii),
                                 media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    async def _events(request: Request, cursor: int, pii: bool) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        start = last_sent = loop.time()
        yield "retry: 2000\n\n"
        while loop.time() - start < STREAM_MAX_S:
            if await request.is_disconnected():
                return
            events = await run(queries.events_after, cursor, pii)
            for event in events:
                cursor = event["id"]
                data = json.dumps(event, ensure_ascii=False)
                yield f"id: {cursor}\nevent: {event['kind']}\ndata: {data}\n\n"
                last_sent = loop.time()
            if loop.time() - last_sent > HEARTBEAT_S:
                yield ": keep-alive\n\n"
                last_sent = loop.time()
            if not events:
                await asyncio.sleep(POLL_S)

    @app.get("/api/queue", tags=["queue"], responses=_ERRORS)
    async def waiting(who: Reader) -> dict[str, Any]:
        """Callers waiting for a person, longest wait first, with handoff summaries."""
        return {"items": await run(queries.queue, who.pii)}

    @app.post("/api/queue/{call_id}/take", tags=["queue"],
              responses={**_ERRORS, 404: {"description": "no such call"},
                         409: {"description": "the call is not waiting"}})
    async def take(who: Writer, call_id: CallId) -> dict[str, Any]:
        """A person takes the call from the queue."""
        return await run(queries.take, call_id, who.name)

    @app.post("/api/feedback/outcome", tags=["feedback"],
              responses={**_ERRORS, 404: {"description": "no such call"},
                         409: {"description": "the outcome cannot be taken"},
                         **_BODY_ERRORS})
    async def outcome(who: Writer, body: OutcomeIn) -> dict[str, Any]:
        """Record what became of a call; the online learning takes it (its guards apply)."""
        from tierline.segmentation.outcomes import OutcomeError

        try:
            return await run(queries.record_outcome, body.call_id, body.outcome, who.name)
        except OutcomeError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/api/feedback/tier", tags=["feedback"],
              responses={**_ERRORS, 404: {"description": "no such call"}, **_BODY_ERRORS})
    async def correct(who: Writer, body: TierIn) -> dict[str, Any]:
        """A person's tier for a call: kept in the history and the audit log; learned by the
        online layer when it has that target."""
        return await run(queries.correct_tier, body.call_id, body.tier, body.note, who.name)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    return app
