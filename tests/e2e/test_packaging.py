"""A non-editable install (`pip install .`) carries every module and every runtime file.

Builds the wheel with pip, unpacks it, and runs the CLI from the unpacked tree with the
development venv's dependencies, so a package missing from pyproject's list or a model file
missing from package-data fails here rather than at a user's site.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import paths
from helpers.home import HOME_ENV

ROOT = paths.ROOT
PARTS = ("agent", "audio", "core", "crm", "dashboard", "dialects", "nlu", "segmentation")
RUNTIME_DATA = (".onnx", ".json", ".yaml", ".yml", ".toml", ".txt", ".html", ".js", ".css",
                ".mako")


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                           "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("tierline-*.whl")
    tree = out / "tree"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tree)
    return tree


def tracked(suffixes: tuple[str, ...]) -> list[Path]:
    """Files git tracks under the package folders with one of ``suffixes``."""
    listed = subprocess.run(["git", "ls-files", *PARTS], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    return [Path(p) for p in listed if p.endswith(suffixes) and "/data/" not in p
            and "/tests/" not in p]


def test_every_module_and_runtime_file_is_in_the_wheel(unpacked: Path):
    missing = [str(p) for p in tracked((".py", *RUNTIME_DATA))
               if not (unpacked / "tierline" / p).is_file()]
    assert not missing, f"not in the wheel: {missing}"


def test_cli_runs_from_the_installed_tree(unpacked: Path):
    code = ("import sys, tierline.agent.cli as cli; "
            f"assert cli.__file__.startswith({str(unpacked)!r}), cli.__file__; "
            "sys.exit(cli.main(['tier', '--dialog', sys.argv[1], '--json']))")
    dialog = unpacked.parent / "d.json"
    dialog.write_text('{"id": "p", "customer": {}, "utterances": ["我们的预算是一百万"]}',
                      encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", code, str(dialog)], capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(unpacked),
                                                       "PATH": "/usr/bin:/bin",
                                                       # the suite's home, not ~/.cache/tierline
                                                       "TIERLINE_HOME": os.environ[HOME_ENV]})
    assert proc.returncode == 0, proc.stderr
    assert '"final_tier": "high"' in proc.stdout
