"""`tierline campaign run LEADS.csv` and `tierline campaign report`: outbound campaigns.

``run`` imports the leads into the campaign database (malformed and duplicate numbers are
accounted for, not dialled), then dials the due leads through the built-in SIP endpoint
(``--via sip``) or LiveKit SIP (``--via livekit``) inside the calling hours, at most
``--concurrency`` at once, each after the do-not-call gate; a rerun resumes the campaign
(docs/campaigns.md). ``report`` prints the funnel and writes the per-lead CSV and an HTML
chart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tierline.agent.clikit import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help="outbound campaigns: run a leads file, report its funnel")
    csub = p.add_subparsers(dest="campaign_command", required=True, metavar="run|report")

    r = csub.add_parser("run", help="dial a leads file (resumes the campaign when rerun)")
    r.add_argument("leads", metavar="LEADS.csv", help="CSV with a 'number' column "
                   "(phone number or sip:user@host:port); optional id, name, tz, customer, "
                   "CRM feature columns")
    r.add_argument("--via", choices=("sip", "livekit"), required=True,
                   help="the built-in SIP endpoint, or LiveKit SIP")
    r.add_argument("--config", metavar="FILE", help="sip.toml (--via sip) or the LiveKit "
                   "config (--via livekit, required)")
    r.add_argument("--name", help="campaign name (default: the leads file's stem)")
    r.add_argument("--db", metavar="PATH|URL", help="the CRM database: campaign state and "
                   "every call (default TIERLINE_DB_URL, else $TIERLINE_HOME/crm.sqlite3)")
    r.add_argument("--concurrency", type=int, default=2, metavar="N",
                   help="calls at once (default 2)")
    r.add_argument("--pace", type=float, default=1.0, metavar="S",
                   help="seconds between two dial starts at least (default 1)")
    r.add_argument("--window", metavar="HH:MM-HH:MM", help="calling hours (default all day)")
    r.add_argument("--tz", default="Asia/Shanghai", help="time zone of the calling hours "
                   "(default Asia/Shanghai; a lead's tz column overrides it)")
    r.add_argument("--max-attempts", type=int, default=3, metavar="N",
                   help="dials per lead at most (default 3)")
    r.add_argument("--retry-after", type=float, default=1800.0, metavar="S",
                   help="wait before retrying busy/no-answer/failed, doubled each time "
                        "(default 1800)")
    r.add_argument("--max-wait", type=float, default=3600.0, metavar="S",
                   help="sleep at most this long for a retry or calling hours, else stop and "
                        "leave the leads pending for the next run (default 3600)")
    r.add_argument("--ringing-timeout", type=float, default=30.0, metavar="S",
                   help="seconds to ring before giving up (default 30)")
    r.add_argument("--max-call", type=float, default=600.0, metavar="S",
                   help="hang up a campaign call after this long (default 600)")
    vm = r.add_mutually_exclusive_group()
    vm.add_argument("--voicemail-message", metavar="TEXT",
                    help="said after a voicemail box's beep (default: a short callback note)")
    vm.add_argument("--voicemail-hangup", action="store_true",
                    help="hang up on voicemail without a message")
    r.add_argument("--host", help="local SIP address (--via sip; default [server] host)")
    r.add_argument("--port", type=int, default=0, help="local SIP port (default any free one)")
    from tierline.agent.commands.sip import _add_call_flags

    _add_call_flags(r)
    r.set_defaults(func=run_campaign)

    o = csub.add_parser("report", help="funnel numbers, per-lead CSV and an HTML chart")
    o.add_argument("name", nargs="?", help="campaign (default: the latest)")
    o.add_argument("--db", metavar="PATH|URL", help="campaign database")
    o.add_argument("--out", default="out/campaigns", metavar="DIR",
                   help="where the CSV and HTML go (default out/campaigns)")
    o.add_argument("--json", action="store_true", help="print the funnel as JSON")
    o.set_defaults(func=run_report)


def _settings(args: argparse.Namespace):
    from tierline.agent.campaign.policy import CallingWindow, RetryPolicy
    from tierline.agent.campaign.runner import RunSettings

    if not 1 <= args.concurrency <= 100:
        raise UsageError("--concurrency must be between 1 and 100")
    if args.pace < 0 or args.max_wait < 0:
        raise UsageError("--pace and --max-wait must not be negative")
    if not 1 <= args.ringing_timeout <= 300:
        raise UsageError("--ringing-timeout must be between 1 and 300 seconds")
    if args.max_call < 5:
        raise UsageError("--max-call must be at least 5 seconds")
    return RunSettings(args.concurrency, args.pace, CallingWindow.parse(args.window, args.tz),
                       RetryPolicy(args.max_attempts, args.retry_after), args.max_wait)


def _screening(args: argparse.Namespace):
    from tierline.agent.campaign.screening import ScreeningConfig

    base = ScreeningConfig()
    message = "" if args.voicemail_hangup else (args.voicemail_message or
                                                 base.voicemail_message)
    return ScreeningConfig(base.amd, message, args.max_call)


def run_campaign(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import time

    from tierline.agent.campaign.leads import read_leads
    from tierline.agent.campaign.runner import CampaignRunner
    from tierline.agent.campaign.store import CampaignStore

    settings = _settings(args)
    leads = read_leads(args.leads)
    name = args.name or Path(args.leads).stem
    store = CampaignStore(args.db)
    setup = {k: v for k, v in vars(args).items() if k not in ("func",)}
    added, known = store.create(name, str(Path(args.leads).resolve()), args.via,
                                {"args": {k: v for k, v in setup.items()
                                          if isinstance(v, (str, int, float, bool))}},
                                leads, time.time())
    bad = [lead for lead in leads if lead.problem]
    for lead in bad:
        print(f"{lead.lead_id} (row {lead.row}): {lead.problem}: {lead.detail}", file=sys.stderr)
    print(f"campaign {name}: {len(leads)} leads ({added} new, {known} known, {len(bad)} not "
          f"dialable) in {store.shown}", file=sys.stderr)
    if args.via == "sip":
        _check_sip_targets(store, name, args)
    elif not args.config:
        raise UsageError("--via livekit needs --config (the LiveKit configuration file)")

    probe = CampaignRunner(store, name, _NoDialer(), settings)
    due, later = probe.plan(time.time())
    if not due:
        if not later:
            print(f"campaign {name}: every lead is done; nothing to dial", file=sys.stderr)
            return 0
        first = min(later)
        if first - time.time() > settings.max_wait_s:
            when = time.strftime("%Y-%m-%d %H:%M %z", time.localtime(first))
            raise UsageError(f"campaign {name}: no lead may be called now (calling hours "
                             f"{settings.window.describe()}, retries not yet due); nothing "
                             f"dialled; the next lead is due {when}: run again then")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def say(line: str) -> None:
        print(f"[{name}] {line}", flush=True)

    if args.via == "sip":
        summary = asyncio.run(_run_sip(args, store, name, settings, say))
    else:
        summary = _run_livekit(args, store, name, settings, say)
    from tierline.agent.campaign.report import funnel

    numbers = funnel(store.leads(name), store.attempts(name))
    print(json.dumps({"campaign": name, "dialled_this_run": summary.dialled,
                      "interrupted": summary.interrupted, "funnel": numbers},
                     ensure_ascii=False))
    if summary.waiting:
        when = time.strftime("%Y-%m-%d %H:%M %z", time.localtime(summary.next_due or 0))
        print(f"campaign {name}: {summary.waiting} lead(s) wait (retries or calling hours) "
              f"until {when}: run again to go on", file=sys.stderr)
    return 0


class _NoDialer:
    async def dial(self, lead, attempt, on_answered):  # pragma: no cover - never dialled
        raise RuntimeError("planning only")


def _check_sip_targets(store, name: str, args: argparse.Namespace) -> None:
    from tierline.agent.sip.config import load

    config = load(args.config)
    numbers = [x for x in store.leads(name, "pending")
               if not x.number.lower().startswith(("sip:", "sips:"))]
    if numbers and not config.trunk.address:
        raise UsageError(f"{len(numbers)} lead(s) are phone numbers (e.g. {numbers[0].lead_id})"
                         f": set [trunk] address in the --config sip.toml to dial them")


async def _run_sip(args, store, name, settings, say):
    from dataclasses import replace

    from tierline.agent.campaign.dialers import SipDialer
    from tierline.agent.campaign.runner import CampaignRunner
    from tierline.agent.clikit import endpointing
    from tierline.agent.commands.sip import _endpoint, _store
    from tierline.agent.sip.server import CallManager

    config, models = _endpoint(args)
    config = replace(config, server=replace(config.server, max_calls=max(
        config.server.max_calls, settings.concurrency)))
    manager = CallManager(config, models, endpointing(args), port=args.port,
                          store=_store(args))
    await manager.start()
    say(f"SIP endpoint on udp {manager.ua.host}:{manager.ua.port}, records in "
        f"{config.server.records_dir}/calls.jsonl")
    try:
        dialer = SipDialer(manager, _screening(args), args.ringing_timeout)
        return await CampaignRunner(store, name, dialer, settings, say=say).run()
    finally:
        await manager.stop()


def _run_livekit(args, store, name, settings, say):
    from tierline.agent.campaign.dialers import LiveKitDialer
    from tierline.agent.campaign.runner import CampaignRunner
    from tierline.agent.commands.sip import _api, _run
    from tierline.agent.livekit.config import load_config
    from tierline.agent.livekit.telephony import Telephony

    config = load_config(args.config)

    async def go():
        lkapi = _api()
        try:
            dialer = LiveKitDialer(Telephony(lkapi, config), name, config.worker.agent_name,
                                   args.ringing_timeout)
            return await CampaignRunner(store, name, dialer, settings, say=say).run()
        finally:
            await lkapi.aclose()

    return _run(go())


def run_report(args: argparse.Namespace) -> int:
    from tierline.agent.campaign.report import report
    from tierline.agent.campaign.store import CampaignStore

    store = CampaignStore(args.db)
    names = store.campaigns()
    if not names:
        raise UsageError(f"no campaign in {store.shown}: run `tierline campaign run` first")
    name = args.name or names[-1]
    if name not in names:
        raise UsageError(f"no campaign {name!r} in {store.shown} (campaigns: "
                         f"{', '.join(names)})")
    numbers, csv_path, html_path = report(store, name, Path(args.out))
    if args.json:
        print(json.dumps({"campaign": name, **numbers, "csv": str(csv_path),
                          "html": str(html_path)}, ensure_ascii=False))
        return 0
    t = numbers["tiered"]
    print(f"campaign {name}: {numbers['leads']} leads, {numbers['dialled']} dialled "
          f"({numbers['dials']} dials), {numbers['answered']} answered: {numbers['human']} "
          f"human, {numbers['voicemail']} voicemail, {numbers['ivr']} ivr; tiered high "
          f"{t['high']}, medium {t['medium']}, low {t['low']}, churn_risk {t['churn_risk']}; "
          f"{numbers['transferred']} transferred; {numbers['pending']} pending")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in numbers["outcomes"].items()))
    print(f"per lead: {csv_path}\nchart:    {html_path}")
    return 0
