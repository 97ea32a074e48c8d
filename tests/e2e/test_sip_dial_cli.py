"""`tierline sip dial` refuses a do-not-call number before any request reaches LiveKit.

The gate itself (agent/outbound.permit_dial) is tested in unit/agent/test_outbound_gate.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tierline.agent.dialog.compliance import DncList


def test_sip_dial_command_refuses_before_contacting_livekit(tmp_path):
    home = tmp_path / "home"
    DncList(home / "dnc.sqlite3").add("+8613800138000", phrase="别再打了")
    config = tmp_path / "lk.toml"
    config.write_text('[sip]\noutbound_trunk_id = "ST_x"\n', encoding="utf-8")
    env = {**os.environ, "TIERLINE_HOME": str(home), "LIVEKIT_URL": "ws://127.0.0.1:9",
           "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}
    out = subprocess.run([sys.executable, "-m", "tierline.agent.cli", "sip", "dial",
                          "+8613800138000", "--config", str(config)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "do-not-call" in out.stderr and "Traceback" not in out.stderr
