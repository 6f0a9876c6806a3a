"""Cold start of this checkout against another one, interleaved with the bare window.

    flock /tmp/w2t-bench.lock .venv/bin/python -m bench.ui.cold_ab --other DIR [--runs 21]

DIR holds another version's `app/`, `bench/` and `resources/` (e.g. `git archive
<commit> app bench resources | tar -x -C DIR`); its `app/sync` should be this
checkout's when the store's schema moved on since (the stored first page is read only
at this build's schema). Every round starts the bare window, the other version and
this one, one after the other, so a change in the machine's load hits all three alike:
steadier than comparing two `bench_ui` runs made minutes apart on a shared machine.
Prints the medians, each against the bare window, and the CPU time to first paint.
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
from typing import Any

from bench.ui import bench_ui, dataset


def child(cwd: Path, *args: str) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(bench_ui.PYCACHE),
        "QT_QPA_PLATFORM": bench_ui.screen_platform(),
        "W2T_TOKEN": "staff-key-1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "W2T_BENCH_T0": repr(time.time()),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ui.child", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child in {cwd} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--other", type=Path, required=True, help="the other version's folder")
    p.add_argument("--runs", type=int, default=21)
    a = p.parse_args()
    engine_dir = dataset.build(10_000, 200_000, 5_000)
    here = bench_ui.ROOT
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        data = str(bench_ui.profile_dir(Path(tmp) / "app", engine_dir, copy=False))
        starts = {
            "bare": (here, ("bare",)),
            "other": (a.other.resolve(), ("app", "--data-dir", data)),
            "this": (here, ("app", "--data-dir", data)),
        }
        for cwd, args in starts.values():  # bytecode written, files cached
            child(cwd, *args)
        paint: dict[str, list[float]] = {k: [] for k in starts}
        cpu: dict[str, list[float]] = {k: [] for k in starts}
        for _ in range(a.runs):
            for name, (cwd, args) in starts.items():
                r = child(cwd, *args)
                if name != "bare" and not r.get("from_store"):
                    raise RuntimeError(f"{name}: the first paint had no stored rows: {r}")
                paint[name].append(r["first_paint_s"])
                if "cpu_s" in r:  # (versions before it did not report it)
                    cpu[name].append(r["cpu_s"])
    bare, bare_cpu = statistics.median(paint["bare"]), statistics.median(cpu["bare"])
    result: dict[str, Any] = {
        name: {
            "first_paint_median_s": round(statistics.median(paint[name]), 3),
            "ratio": round(statistics.median(paint[name]) / bare, 2),
            "cpu_median_s": round(statistics.median(cpu[name]), 3) if cpu[name] else None,
            "cpu_ratio": round(statistics.median(cpu[name]) / bare_cpu, 2) if cpu[name] else None,
        }
        for name in starts
    }
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
