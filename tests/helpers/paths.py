"""Where the repository's fixtures live, whatever the test file's depth or the working directory."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (the folder holding pyproject.toml)."""
SAMPLES = ROOT / "samples"
CALLS = SAMPLES / "calls"
"""The sample calls: NAME.wav, NAME.txt, NAME.customer.json, NAME.expected.json."""
KB_DIR = SAMPLES / "kb"
TIER_SEEDS = SAMPLES / "tier"
LIVEKIT_TOML = SAMPLES / "livekit.toml"
