"""Fails when a release tag does not match the one version number.

    python packaging/check_version.py v1.2.3      # from the release workflow
    python packaging/check_version.py             # prints the version

The version lives only in app/__init__.py (`__version__`); pyproject.toml reads
it through setuptools' dynamic metadata and every installer is stamped with it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_version(root: Path = ROOT) -> str:
    text = (root / "app" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if match is None:
        raise SystemExit("app/__init__.py has no __version__")
    return match.group(1)


def main(argv: list[str]) -> int:
    version = read_version()
    if len(argv) < 2:
        print(version)
        return 0
    tag = argv[1].removeprefix("refs/tags/")
    if tag.removeprefix("v") != version:
        print(f"tag {tag!r} does not match app.__version__ {version!r}", file=sys.stderr)
        return 1
    print(version)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
