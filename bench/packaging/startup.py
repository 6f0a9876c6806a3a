"""Installer sizes and the installed program's start time (for the release notes).

    python bench/packaging/startup.py [--dist dist] [--runs 5] [--demo]

Unpacks dist/web2text_<version>_<arch>.deb into a temporary root (as
`apt install` would lay it out, without root), then runs the installed
/opt/web2text/web2text offscreen with an empty home folder:

- `--version`: process start to exit (the frozen bootstrap and Python start),
  next to a bare `python -I -c pass` timed in the same round (the baseline);
- `--quit-after 0`: start, main window shown (with the sign-in dialog of a new
  PC), event loop running, clean quit: the time until a user sees the window;
- with --demo, `--demo --quit-after 0`: the embedded sandbox started and seeded
  and the engine's first sync done, then quit.

Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "QT_", "AWS_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    return env


def _timed(cmd: list[str], home: Path, timeout: float) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        cmd, env=_env(home), cwd=home, capture_output=True, text=True, timeout=timeout
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--demo", action="store_true", help="also time a demo start")
    args = parser.parse_args(argv)

    debs = sorted(args.dist.glob("web2text_*.deb"))
    if not debs:
        print(f"no .deb in {args.dist}: run packaging/build-linux first", file=sys.stderr)
        return 1
    deb = debs[-1]
    sizes = {p.name: p.stat().st_size for p in sorted(args.dist.iterdir()) if p.is_file()}

    with tempfile.TemporaryDirectory(prefix="w2t-bench-") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        program = root / "opt/web2text/web2text"
        installed = _du(root)
        results: dict[str, list[float]] = {
            "python": [], "version": [], "window": [], "demo": []
        }
        for i in range(args.runs):
            home = Path(tmp) / f"home{i}"
            home.mkdir()
            # the same moment's bare interpreter start, so a busy machine shows as such
            results["python"].append(_timed([sys.executable, "-I", "-c", "pass"], home, 60))
            results["version"].append(_timed([str(program), "--version"], home, 60))
            results["window"].append(_timed([str(program), "--quit-after", "0"], home, 120))
        if args.demo:
            home = Path(tmp) / "home-demo"
            home.mkdir()
            results["demo"].append(
                _timed([str(program), "--demo", "--quit-after", "0"], home, 600)
            )

    print(f"{'file':<48} {'MB':>8}")
    for name, size in sizes.items():
        print(f"{name:<48} {size / 1e6:>8.1f}")
    print(f"{'installed (/opt/web2text + menu entry + icons)':<48} {installed / 1e6:>8.1f}")
    print()
    for what, values in results.items():
        if values:
            print(
                f"{what:<8} median {statistics.median(values):6.2f} s  "
                f"min {min(values):6.2f} s  max {max(values):6.2f} s  (n={len(values)})"
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(json.dumps({
        "sizes_bytes": sizes,
        "installed_bytes": installed,
        "seconds": {k: statistics.median(v) for k, v in results.items() if v},
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "load_average_1m": load,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
