"""The sample calls as the text dialogs `tierline tier --dialog` reads, and running it."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.paths import CALLS
from tierline.agent.cli import main


def sample_dialogs(folder: Path) -> Path:
    """Write every sample call's script and customer as one dialogs file in ``folder``."""
    dialogs = []
    for txt in sorted(CALLS.glob("*.txt")):
        customer = json.loads((CALLS / f"{txt.stem}.customer.json").read_text(encoding="utf-8"))
        lines = [t for t in txt.read_text(encoding="utf-8").splitlines() if t]
        dialogs.append({"id": txt.stem, "customer": customer, "utterances": lines})
    path = folder / "dialogs.json"
    path.write_text(json.dumps(dialogs, ensure_ascii=False), encoding="utf-8")
    return path


def run_json(capsys, *argv: str) -> list[dict]:
    """Run the CLI in process; it must succeed; its JSON lines, parsed."""
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]
