"""Disk size of a virtual environment for each use: `desktop` alone, `relay` alone.

    python -m bench.packaging.venv_sizes [--locks desktop relay packaging dev] [--install]

By default adds up, for every package a lock pins (requirements/<use>.lock),
the files its installation recorded (the RECORD of its metadata in this venv,
which scripts/bootstrap installed from dev.lock; the smaller locks pin the same
versions), plus the project itself and an empty venv with pip (made here, the
baseline every venv carries); nothing is downloaded. `--install` instead makes
each venv in a temporary folder the way the relay image and a staff PC do
(`pip install --require-hashes --no-deps -r LOCK`, the project `--no-deps`,
`pip check`) and measures it on disk (`du`, with the byte code pip compiles).
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from importlib.metadata import Distribution, distributions
from pathlib import Path

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^ ;\\]+)")
MB = 1024 * 1024


def pins(use: str) -> dict[str, str]:
    """name -> version of each package requirements/<use>.lock pins (every marker:
    the locks are universal, so a Windows-only pin is skipped below when absent)."""
    text = (ROOT / "requirements" / f"{use}.lock").read_text()
    found = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def installed() -> dict[str, Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in distributions()}


def recorded_bytes(dist: Distribution) -> int:
    """What the installation wrote: the files its RECORD lists, as they are on disk."""
    total = 0
    for file in dist.files or ():
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def empty_venv_bytes() -> int:
    with tempfile.TemporaryDirectory(prefix="w2t-venv-") as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True, timeout=300)
        return sum(
            p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file() and not p.is_symlink()
        )


def measure(use: str, dists: dict[str, Distribution], base: int) -> dict[str, object]:
    wanted = pins(use)
    absent = []
    packages = 0
    for name, version in wanted.items():
        dist = dists.get(name)
        if dist is None:  # a pin for another OS (pywin32-ctypes, colorama, ...)
            absent.append(name)
            continue
        if dist.version != version:
            raise SystemExit(
                f"{name} {dist.version} is installed, {use}.lock pins {version}: "
                "run scripts/bootstrap"
            )
        packages += recorded_bytes(dist)
    packages += recorded_bytes(dists["web2text"])
    return {
        "use": use,
        "packages": len(wanted) - len(absent),
        "packages_mb": round(packages / MB, 1),
        "venv_mb": round((packages + base) / MB, 1),
        "not_for_this_os": sorted(absent),
    }


def installed_venv(use: str) -> dict[str, object]:
    """Make a venv from requirements/<use>.lock in a temporary folder; its size on disk."""
    with tempfile.TemporaryDirectory(prefix=f"w2t-venv-{use}-") as tmp:
        venv = Path(tmp) / "venv"
        python = venv / "bin" / "python"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        lock = ROOT / "requirements" / f"{use}.lock"
        subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", str(lock)],
                       check=True, timeout=1800)  # fmt: skip
        subprocess.run([*pip, "--no-deps", f"{ROOT}[{use}]"], check=True, timeout=600)
        subprocess.run([str(python), "-m", "pip", "check"], check=True, timeout=300)
        du = subprocess.run(["du", "-sk", str(venv)], check=True, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
        kib = int(du.stdout.split()[0])
    return {"use": use, "venv_mb": round(kib / 1024, 1), "pip_check": "ok"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locks", nargs="+", default=["desktop", "relay", "packaging", "dev"])
    parser.add_argument("--install", action="store_true",
                        help="make each venv from its lock and measure it on disk")  # fmt: skip
    args = parser.parse_args(argv)
    if args.install:
        made = [installed_venv(use) for use in args.locks]
        for result in made:
            print(f"{result['use']:10} venv on disk {result['venv_mb']:7} MB (pip check ok)")
        print(json.dumps({"installed": made}))
        return 0
    dists = installed()
    base = empty_venv_bytes()
    results = []
    for use in args.locks:
        result = measure(use, dists, base)
        results.append(result)
        print(f"{use:10} {result['packages']:4} packages  {result['packages_mb']:7} MB"
              f"  venv {result['venv_mb']:7} MB")  # fmt: skip
    print(json.dumps({"empty_venv_mb": round(base / MB, 1), "venvs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
