"""`web2text --demo` from launch to the inbox painted with the seeded leads.

    python -m bench.demo.launch [--runs 5]

Each run starts a fresh process (the real app, `app.ui.main`, offscreen) and
stops the clock when the leads list (accessible name "Leads") paints holding
every seeded lead of the demo staff member's locations. Every round also
starts a bare window (a QMainWindow with a label) for the baseline, so the
machine's load hits both alike. Prints medians and, last, one JSON line.
The demo restores its snapshot (made first if there is none: `--prepare`).
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

ROOT = Path(__file__).resolve().parents[2]
T0 = float(os.environ.get("W2T_BENCH_T0", "0") or 0)


def expected_rows() -> int:
    """The seeded leads the default demo staff member sees (their locations')."""
    from app.sandbox import demo, demo_data

    staff = next(s for s in demo_data.STAFF if s.staff_id == demo.DEFAULT_STAFF)
    plan = demo_data.build_seed(7, demo.DEFAULT_LEADS)
    return sum(1 for lead in plan if lead.location_key in staff.locations)


def _done(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip teardown: only the measurement matters


def _probe(widget: Any, ready: Any, on_paint: Any) -> Any:
    from PySide6.QtCore import QEvent, QObject, QTimer

    class Probe(QObject):
        fired = False

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if not self.fired and event.type() == QEvent.Type.Paint and ready():
                self.fired = True
                QTimer.singleShot(0, on_paint)  # once this paint is through
            return False

    probe = Probe()
    widget.installEventFilter(probe)
    return probe


def child_bare() -> None:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    qapp = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setCentralWidget(QLabel("hello"))
    window.resize(1280, 800)
    keep = _probe(window.centralWidget(), lambda: True, lambda: _done({"s": time.time() - T0}))
    window.show()
    _ = keep
    qapp.exec()


def child_demo(data_dir: str, rows: int) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QAbstractItemView

    from app.ui.main import build, parse_args, run

    qapp, ctrl = build(parse_args(["--demo", "--data-dir", data_dir]))
    keep: list[Any] = []

    def leads_view() -> QAbstractItemView | None:
        for view in ctrl.window.findChildren(QAbstractItemView):
            if view.accessibleName() == "Leads":
                return view
        return None

    def watch() -> None:
        view = leads_view()
        if view is None:
            QTimer.singleShot(20, watch)
            return
        model = view.model()
        keep.append(
            _probe(
                view.viewport(),
                lambda: model.rowCount() >= rows,
                lambda: _done({"s": time.time() - T0, "rows": model.rowCount()}),
            )
        )
        view.viewport().update()

    QTimer.singleShot(0, watch)
    run(qapp, ctrl)


def _run_child(args: list[str], home: Path, snapshots: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        # the snapshot prepared below (the child's home is a fresh folder)
        "W2T_DEMO_SNAPSHOT_DIR": str(snapshots),
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "W2T_BENCH_T0": repr(time.time()),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench.demo.launch", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", choices=["bare", "demo"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "bare":
        child_bare()
        return 1
    if args.child == "demo":
        child_demo(args.data_dir, args.rows)
        return 1

    from app.sandbox.demo import prepare

    snapshot = prepare()
    print(f"snapshot: {snapshot}", file=sys.stderr)
    rows = expected_rows()
    demo, bare = [], []
    with tempfile.TemporaryDirectory(prefix="w2t-bench-demo-") as tmp:
        for i in range(args.runs):
            bare.append(_run_child(["--child", "bare"], Path(tmp), snapshot.parent)["s"])
            data_dir = str(Path(tmp) / f"run{i}")
            child = ["--child", "demo", "--data-dir", data_dir, "--rows", str(rows)]
            demo.append(_run_child(child, Path(tmp), snapshot.parent)["s"])
            print(f"run {i + 1}: demo {demo[-1]:.2f} s, bare window {bare[-1]:.2f} s",
                  file=sys.stderr)  # fmt: skip
    result = {
        "demo_inbox_painted_median_s": round(statistics.median(demo), 2),
        "bare_window_median_s": round(statistics.median(bare), 2),
        "seeded_rows": rows,
        "runs": args.runs,
        "load_average_1m": round(os.getloadavg()[0], 1),
        "demo_s": [round(x, 2) for x in demo],
        "bare_s": [round(x, 2) for x in bare],
    }
    print(f"demo launch -> seeded inbox painted: median {result['demo_inbox_painted_median_s']} s"
          f" (bare window {result['bare_window_median_s']} s)")  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
