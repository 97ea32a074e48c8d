"""`tierline sip setup|dial` (LiveKit SIP) and `tierline sip serve|call` (the built-in endpoint).

``setup`` and ``dial`` talk to a LiveKit server (trunks, dispatch rule, CreateSIPParticipant).
``serve`` answers SIP calls on this box without LiveKit and ``call`` places one outbound call
from it (docs/sip.md).
"""

from __future__ import annotations

import argparse
import json
import sys

from tierline.agent.clikit import UsageError, endpointing


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sip", help="SIP telephony: the built-in endpoint (serve, call) and "
                                   "LiveKit SIP (setup, dial)")
    ssub = p.add_subparsers(dest="sip_command", required=True, metavar="serve|call|setup|dial")

    v = ssub.add_parser("serve", help="answer SIP calls on this box (built-in endpoint)")
    v.add_argument("--config", metavar="sip.toml", help="endpoint config (samples/sip.toml)")
    v.add_argument("--host", help="address to listen on (default [server] host, 127.0.0.1)")
    v.add_argument("--port", type=int, help="SIP UDP port (default [server] port, 5060)")
    _add_call_flags(v)
    _add_store_flags(v)
    v.set_defaults(func=run_serve)

    c = ssub.add_parser("call", help="place one outbound call from this box (built-in endpoint)")
    c.add_argument("target", help="sip:user@host[:port], or a number dialled via [trunk] address")
    c.add_argument("--config", metavar="sip.toml", help="endpoint config (samples/sip.toml)")
    c.add_argument("--customer", metavar="C.json", help="customer CRM JSON of the callee")
    c.add_argument("--host", help="local address (default [server] host)")
    c.add_argument("--port", type=int, default=0, help="local SIP port (default: any free one)")
    c.add_argument("--ringing-timeout", type=float, default=30.0, metavar="S",
                   help="seconds to ring before giving up (default 30)")
    c.add_argument("--json", metavar="OUT|-", help="write the call record (JSON contract)")
    _add_call_flags(c)
    _add_store_flags(c)
    c.set_defaults(func=run_call)

    s = ssub.add_parser("setup", help="create the inbound trunk, dispatch rule, outbound trunk")
    s.add_argument("--config", required=True, metavar="C.toml", help="LiveKit/telephony config")
    s.set_defaults(func=run_setup)

    d = ssub.add_parser("dial", help="call a number and put the agent in the call")
    d.add_argument("number", help="E.164 number (+86...) or sip:user@host")
    d.add_argument("--config", required=True, metavar="C.toml", help="LiveKit/telephony config")
    d.add_argument("--room", help="room name (default: out-<number>)")
    d.add_argument("--customer", metavar="C.json", help="customer CRM JSON for the agent")
    d.add_argument("--ringing-timeout", type=float, metavar="S",
                   help="seconds to ring before giving up (default from config)")
    d.add_argument("--trunk", help="outbound trunk id (default [sip] outbound_trunk_id)")
    d.set_defaults(func=run_dial)


def _add_call_flags(p: argparse.ArgumentParser) -> None:
    from tierline.agent.clikit import add_asr_flags, add_endpointing_flags, add_nlu_flags

    add_endpointing_flags(p)
    add_asr_flags(p)
    add_nlu_flags(p)


def _add_store_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL|FILE",
                   help="CRM database every call is written to, turn by turn (default "
                        "TIERLINE_DB_URL, else $TIERLINE_HOME/crm.sqlite3)")
    p.add_argument("--no-store", action="store_true", help="do not write calls to the CRM")


def _store(args: argparse.Namespace):
    """The CRM store calls go to (None with --no-store); a bad database is exit 2 now."""
    if getattr(args, "no_store", False):
        return None
    from tierline.crm.store import CallStore

    return CallStore(args.db)


def _endpoint(args: argparse.Namespace):
    """The endpoint configuration with the command line's overrides, and the models."""
    from dataclasses import replace

    from tierline.agent.clikit import load_asr, load_nlu
    from tierline.agent.session import Models
    from tierline.agent.sip.config import load
    from tierline.audio.prosody import prewarm

    config = load(args.config)
    server = config.server
    if args.host:
        server = replace(server, host=args.host)
    if args.port is not None:
        if not 0 <= args.port < 65536:
            raise UsageError(f"--port must be 0-65535, not {args.port}")
        server = replace(server, port=args.port)
    config = replace(config, server=server)
    models = Models(nlu=load_nlu(args), asr=load_asr(args))
    prewarm()  # librosa/numba start-up must not land in the first turn's decision latency
    return config, models


def run_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from tierline.agent.clikit import summary_line, turn_line
    from tierline.agent.sip.server import CallManager, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    turns = endpointing(args)  # bad flags: before the models load
    config, models = _endpoint(args)

    def show(call, turn) -> None:
        print(f"[{call.short_id}] {turn_line(turn)}", flush=True)

    def done(record: dict) -> None:
        print(summary_line(record["call"]["id"], record), flush=True)

    manager = CallManager(config, models, turns, on_turn=show, on_record=done,
                          store=_store(args))

    def ready() -> None:
        s = config.server
        print(f"tierline sip: listening on udp {s.host}:{manager.ua.port} (RTP "
              f"{s.rtp_port_min}-{s.rtp_port_max}, at most {s.max_calls} calls, records in "
              f"{s.records_dir}/calls.jsonl)", flush=True)

    try:
        asyncio.run(serve(manager, ready))
    except OSError as exc:
        raise UsageError(f"cannot listen on {config.server.host}:{config.server.port}: "
                         f"{exc.strerror or exc}") from None
    return 0


def run_call(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from tierline.agent.clikit import emit, open_out, summary_line
    from tierline.agent.outbound import permit_dial
    from tierline.agent.sip.server import CallManager
    from tierline.segmentation.features import CustomerProfile, load_customer

    target = args.target.strip()
    if not (target.startswith(("sip:", "sips:")) or target.lstrip("+").isdigit()):
        raise UsageError(f"target must be sip:user@host or a number, not {target!r}")
    permit_dial(target)  # before models load or any socket opens: a refused number is never dialled
    customer = load_customer(args.customer) if args.customer else CustomerProfile()
    if not 1 <= args.ringing_timeout <= 300:
        raise UsageError("--ringing-timeout must be between 1 and 300 seconds")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    turns = endpointing(args)  # bad flags: before the models load
    config, models = _endpoint(args)
    out, close = open_out(args.json)
    store = _store(args)

    async def go() -> tuple[str, int | None, dict | None]:
        manager = CallManager(config, models, turns, store=store)
        await manager.start()
        try:
            outcome, call, status = await manager.dial(target, customer, args.ringing_timeout)
            if call is not None:
                await call.ended.wait()
                return outcome, status, call.session.record.to_dict()
            return outcome, status, None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        finally:
            await manager.stop()

    outcome, status, record = asyncio.run(go())
    if record is not None:
        emit(out, record)
        print(summary_line(target, record), file=sys.stderr)
    if close and out is not None:
        out.close()
    print(json.dumps({"outcome": outcome, "target": target, "sip_status": status}),
          file=sys.stderr if args.json == "-" else sys.stdout)
    return 0 if outcome == "answered" else 1


def _api():
    from livekit import api

    from tierline.agent.livekit.worker import livekit_env

    url, key, secret = livekit_env()
    return api.LiveKitAPI(url, key, secret)


def run_setup(args: argparse.Namespace) -> int:
    from tierline.agent.livekit.config import load_config
    from tierline.agent.livekit.telephony import Telephony

    config = load_config(args.config)

    async def go() -> dict:
        lkapi = _api()
        try:
            return await Telephony(lkapi, config).setup(config.worker.agent_name)
        finally:
            await lkapi.aclose()

    result = _run(go())
    for what, item in result.items():
        state = "created" if item["created"] else "exists "
        print(f"{state} {what:<15} {item['id']}")
    if "outbound_trunk" in result and not config.sip.outbound_trunk_id:
        print(f"set [sip] outbound_trunk_id = \"{result['outbound_trunk']['id']}\" in "
              f"{args.config} to dial out", file=sys.stderr)
    return 0


def run_dial(args: argparse.Namespace) -> int:
    from tierline.agent.livekit.config import load_config
    from tierline.agent.livekit.telephony import Telephony
    from tierline.segmentation.features import load_customer

    config = load_config(args.config)
    number = args.number.strip()
    if not (number.startswith(("sip:", "sips:")) or
            (number.startswith("+") and number[1:].isdigit())):
        raise UsageError(f"number must be E.164 (+8610...) or sip:user@host, not {number!r}")
    if args.ringing_timeout is not None and not 1 <= args.ringing_timeout <= 300:
        raise UsageError("--ringing-timeout must be between 1 and 300 seconds")
    metadata = ""
    if args.customer:
        load_customer(args.customer)  # validated here; the agent parses it again
        with open(args.customer, encoding="utf-8") as f:
            metadata = json.dumps({"customer": json.load(f)}, ensure_ascii=False)
    room = args.room or f"out-{number.lstrip('+').replace(':', '-').replace('@', '-')}"

    async def go():
        lkapi = _api()
        try:
            return await Telephony(lkapi, config).dial(
                number, room, ringing_timeout_s=args.ringing_timeout,
                agent_name=config.worker.agent_name, metadata=metadata,
                trunk_id=args.trunk or "")
        finally:
            await lkapi.aclose()

    outcome = _run(go())
    print(json.dumps(outcome.to_dict(), ensure_ascii=False))
    return 0 if outcome.outcome == "answered" else 1


def _run(coro):
    import asyncio

    import aiohttp

    from tierline.agent.livekit.worker import ServerUnreachable

    try:
        return asyncio.run(coro)
    except ServerUnreachable:
        raise
    except (aiohttp.ClientConnectionError, OSError) as exc:
        raise ServerUnreachable(f"cannot reach the LiveKit server: {exc}") from None
    except Exception as exc:
        from livekit import api

        if isinstance(exc, api.ServerError):
            raise UsageError(f"LiveKit server refused: {exc}") from None
        raise
