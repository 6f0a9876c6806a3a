"""The desktop's figures, each with its baseline measured in the same run.

    .venv/bin/python -m bench.ui.bench_ui [--scale 10k|50k|both] [--runs 9]

Two data sets (`bench.ui.dataset`): 10,000 leads and 200,000 messages at one location,
and a dealer group's ten times that, 50,000 leads and 1,000,000 messages over ten
locations. For each (`bench.ui.figures` words the goals):

1. Cold start to the first paint of the inbox, from process start, versus a bare
   PySide6 window (QApplication + QMainWindow + QLabel) started alternately with it:
   the rows read from the stored page (goal <= 1.3x), and the engine's own rows
   (goal <= 2x).
2. Opening a 5,000-message conversation: the call → its bubbles painted (goal
   <= 16 ms median); baseline: the engine's query alone.
3. Search: the query → highlighted results painted, after the typing debounce (goal
   <= 16 ms median); baseline: the engine's `search()` alone.
4. Resident memory after those (peak; goal <= 200 MB); baseline: the bare window.
5. The longest Qt-thread stall (a 5 ms heartbeat's longest gap, less 5 ms) while
   10,000 changes arrive over the stream and are applied (goal <= 16 ms); baseline:
   the same probe on the idle app just before.
6. The same while customers text in, 50 a second for 10 s, with the inbox and a
   conversation open (goal <= 16 ms).

Processes run on Qt's offscreen platform with one 1920x1080 screen; the engine's
relay is unreachable for 1-4, and a stand-in of the staff API in its own process for
5-6 (`relay_proc`: a relay never shares the app's GIL). One unmeasured warm-up run
writes the bytecode first, as an installed app has it. Results: `bench/ui/results.json`
(and the command's output).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench.ui import dataset, figures

ROOT = Path(__file__).resolve().parents[2]

#: Where the measured processes keep the project's bytecode. An installed app has its
#: .pyc files (pip compiles on install, the bundles ship them); a checkout run with
#: PYTHONDONTWRITEBYTECODE=1 would compile every module of ours at each start instead.
PYCACHE = Path.home() / ".cache" / "web2text-bench" / "pycache"

#: (leads, messages, locations) of each data set
SCALES = {"10k": (10_000, 200_000, 1), "50k": (50_000, 1_000_000, 10)}


def screen_platform() -> str:
    """Qt's offscreen platform with one 1920x1080 screen (a dealer's desktop), on which
    the window opens at its preferred size with its three panes (the platform's default
    800x600 screen would give it one column, and no open thread next to the inbox)."""
    path = PYCACHE.parent / "screen-1920x1080.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    screen = {"name": "Desk", "x": 0, "y": 0, "width": 1920, "height": 1080, "logicalDpi": 96}
    path.write_text(json.dumps({"screens": [{**screen, "dpr": 1}]}))
    return f"offscreen:configfile={path}"


def child(*args: str, module: str = "bench.ui.child", timeout: float = 300) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "QT_QPA_PLATFORM": screen_platform(),
        "W2T_TOKEN": "staff-key-1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "W2T_BENCH_T0": repr(time.time()),
    }
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if "error" in result:
        raise RuntimeError(f"child {args}: {result['error']}\n{proc.stderr[-3000:]}")
    return result


def profile_dir(root: Path, engine_dir: Path, copy: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    relay = "http://127.0.0.1:9"  # nothing listens there: the engine stays offline
    (root / "profiles.json").write_text(
        json.dumps(
            {
                "profiles": [
                    {
                        "staff_id": "S1",
                        "staff_name": "Sam Staff",
                        "relay_url": relay,
                        "retailer_id": "R1",
                    }
                ],
                "last": f"{relay}|S1",
            }
        )
    )
    target = root / "profiles" / "S1"
    target.parent.mkdir(parents=True, exist_ok=True)
    if copy:  # the live figures write to the store: a copy, the cached one stays as built
        shutil.copytree(engine_dir, target)
    else:
        target.symlink_to(engine_dir, target_is_directory=True)
    return root


def say(text: str) -> None:
    """Progress on stderr: a data set's first build takes minutes, the run many more."""
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def measure_scale(name: str, runs: int, tmp: Path) -> dict[str, Any]:
    leads, messages, locations = SCALES[name]
    say(f"{name}: the data set (built once per schema revision: minutes the first time)")
    engine_dir = dataset.build(leads, messages, 5_000, locations)
    info = json.loads((engine_dir.parent / "READY").read_text())
    data = profile_dir(tmp / name / "app", engine_dir, copy=False)
    app = ("app", "--data-dir", str(data))
    say(f"{name}: cold start, {runs} runs each, interleaved with the bare window")
    child("bare"), child(*app)  # bytecode written, files cached
    bare, ours = [], []
    for _ in range(runs):  # interleaved, so machine load hits both alike
        bare.append(child("bare"))
        ours.append(child(*app))
    say(f"{name}: open, search, memory")
    full = child(*app, "--full")

    def live(mode: str, *args: str) -> dict[str, Any]:
        # each on its own copy of the data set: what one writes is not the other's start
        live_dir = profile_dir(tmp / name / mode, engine_dir, copy=True)
        where = ("--data-dir", str(live_dir), "--locations", str(locations))
        return child(mode, *where, *args, module="bench.ui.child_live", timeout=900)

    say(f"{name}: stall while 10,000 changes arrive")
    burst = live("burst", "--changes", "10000")
    say(f"{name}: stall while 50 texts a second arrive for 10 s")
    texts = live("inbound", "--rate", "50", "--seconds", "10", "--leads", str(leads))
    return {
        "data": info,
        "cold_start": figures.cold_start(bare, ours),
        "open_conversation": figures.open_conversation(full),
        "search": figures.search(full),
        "memory": figures.memory(full, bare),
        "ui_stall_changes": figures.stall(burst, "10,000 changes arrive and are applied"),
        "ui_stall_texts": figures.stall(
            texts, "50 customer texts a second arrive for 10 s, inbox and a thread open"
        ),
        "quit_s": full.get("quit_s"),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", choices=["10k", "50k", "both"], default="both")
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "ui" / "results.json")
    a = p.parse_args()
    scales = list(SCALES) if a.scale == "both" else [a.scale]
    results: dict[str, Any] = {
        "machine_cpus": os.cpu_count(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    failed = False
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        for name in scales:
            try:
                results[name] = measure_scale(name, a.runs, Path(tmp))
            except Exception as exc:  # the other scale is still measured; the run fails
                traceback.print_exc()
                results[name] = {"error": repr(exc)}
                failed = True
            results["load_average"] = [round(x, 2) for x in os.getloadavg()]
            a.out.write_text(json.dumps(results, indent=2) + "\n")
            say(f"{name}: written to {a.out}")
    print(json.dumps(results, indent=2))
    print(figures.table(results))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
