"""`tierline sip setup|dial`: LiveKit SIP trunks, dispatch rule and outbound calls."""

from __future__ import annotations

import argparse
import json
import sys

from tierline.agent.clikit import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sip", help="LiveKit SIP: trunks and dispatch rule, outbound calls")
    ssub = p.add_subparsers(dest="sip_command", required=True, metavar="setup|dial")

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
