"""`python -m app.sandbox.demo --prepare`: make the demo's snapshot ahead of its first start
(scripts/demo and packaging/build-linux do), so `web2text --demo` restores it at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.sandbox.demo import prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.sandbox.demo", description=__doc__)
    parser.add_argument("--prepare", action="store_true", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--leads", type=int, default=None)
    parser.add_argument("--into", type=Path, help="copy the snapshot into this folder too")
    args = parser.parse_args(argv)
    path = prepare(args.seed, args.leads)
    if args.into:
        args.into.mkdir(parents=True, exist_ok=True)
        target = args.into / path.name
        target.write_bytes(path.read_bytes())
        path = target
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
