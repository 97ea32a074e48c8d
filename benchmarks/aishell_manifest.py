"""Write a ``path``/``transcript`` manifest for the AISHELL sample in ../shared/data.

The shared folder lists its clips as ``utt_id``/``transcript`` (selected_60.tsv) with the audio
in ``wav/<utt_id>.wav``; `tierline asr-eval` wants ``path``/``transcript``.

Usage: python benchmarks/aishell_manifest.py [--data ../shared/data/aishell1_sample] [--out F]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(root.parent / "shared/data/aishell1_sample"))
    parser.add_argument("--out", default=str(root / "out/aishell_manifest.tsv"))
    args = parser.parse_args()
    data = Path(args.data)
    listing = data / "selected_60.tsv"
    if not listing.is_file():
        print(f"aishell_manifest: {listing} not found", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with listing.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        rows = list(csv.DictReader(src, delimiter="\t"))
        dst.write("path\ttranscript\n")
        for row in rows:
            wav = (data / "wav" / f"{row['utt_id']}.wav").resolve()
            dst.write(f"{wav}\t{row['transcript']}\n")
    print(f"{len(rows)} clips -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
