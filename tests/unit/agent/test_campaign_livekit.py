"""`tierline campaign run --via livekit`, asserted at the request level: what a LiveKit server
would receive (CreateAgentDispatch + CreateSIPParticipant per dial) from a local Twirp
stand-in on 127.0.0.1 (the server of test_livekit_telephony)."""

from __future__ import annotations

import json
import sqlite3

from livekit.protocol import agent_dispatch, sip
from test_livekit_telephony import KEY, SECRET, twirp  # noqa: F401  (the fixture)

from tierline.agent.cli import main
from tierline.agent.dialog.compliance import DncList


def answered(n: int) -> sip.SIPParticipantInfo:
    return sip.SIPParticipantInfo(participant_identity=f"callee-{n}", sip_call_id=f"SCL_{n}")


def failure(code: str) -> tuple:
    return (400, "unavailable", "call failed", {"sip_status_code": code, "sip_status": "x"})


def test_a_livekit_campaign_sends_one_request_per_dial_and_none_for_dnc(
        twirp, tmp_path, monkeypatch, fresh_home, capsys):  # noqa: F811
    config = tmp_path / "lk.toml"
    config.write_text('[worker]\nagent_name = "tierline-test"\n[sip]\n'
                      'outbound_trunk_id = "ST_out"\nringing_timeout_s = 20\n', encoding="utf-8")
    leads = tmp_path / "leads.csv"
    leads.write_text("id,number,contract_value\na,+8613800000001,120000\nb,+8613800000002,\n"
                     "c,+8613800000003,\nd,+8613800000004,\ne,12-x,\nf,13800000001,\n",
                     encoding="utf-8")
    DncList().add("+8613800000004", phrase="别再打了")
    monkeypatch.setenv("LIVEKIT_URL", f"http://127.0.0.1:{twirp.port}")
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    twirp.answers = {
        "CreateDispatch": [agent_dispatch.AgentDispatch(id=f"AD_{i}") for i in range(6)],
        "CreateSIPParticipant": [answered(1), failure("486"), failure("603"), answered(2)],
    }
    db = tmp_path / "c.sqlite3"
    code = main(["campaign", "run", str(leads), "--via", "livekit", "--config", str(config),
                 "--db", str(db), "--concurrency", "1", "--pace", "0", "--max-attempts", "2",
                 "--retry-after", "1", "--ringing-timeout", "15"])
    assert code == 0
    calls = [s.request for s in twirp.seen if s.method == "CreateSIPParticipant"]
    dispatches = [s.request for s in twirp.seen if s.method == "CreateDispatch"]
    assert [c.sip_call_to for c in calls] == ["+8613800000001", "+8613800000002",
                                              "+8613800000003", "+8613800000002"]
    assert [c.room_name for c in calls] == ["camp-leads-a-1", "camp-leads-b-1",
                                            "camp-leads-c-1", "camp-leads-b-2"]
    assert all(c.sip_trunk_id == "ST_out" and c.wait_until_answered for c in calls)
    assert all(c.ringing_timeout.seconds == 15 for c in calls)
    assert [d.room for d in dispatches] == [c.room_name for c in calls]
    meta = json.loads(dispatches[0].metadata)
    assert meta["customer"] == {"contract_value": 120000.0, "id": "a"}
    assert meta["campaign"] == {"name": "leads", "lead": "a", "attempt": 1}
    assert all(d.agent_name == "tierline-test" for d in dispatches)
    with sqlite3.connect(db) as con:
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT lead_id, outcome, attempts, next_action FROM campaign_leads")}
    assert {k: v[:2] for k, v in rows.items()} == {
        "a": ("answered", 1), "b": ("answered", 2), "c": ("rejected", 1), "d": ("dnc", 0),
        "e": ("malformed", 0), "f": ("duplicate", 0)}
    assert "room camp-leads-a-1" in rows["a"][2]
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["funnel"]["dials"] == 4 and out["funnel"]["answered"] == 2
