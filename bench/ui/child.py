"""One measured process for bench_ui (run by it; prints one JSON line).

    python -m bench.ui.child bare
    python -m bench.ui.child app   --data-dir D [--full]

(The live figures' process is `bench.ui.child_live`.)

W2T_BENCH_T0 is the parent's time.time() just before it started this process, so
"first paint" includes interpreter start and imports, as a user would see it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

T0 = float(os.environ.get("W2T_BENCH_T0", time.time()))


def rss_mb() -> dict[str, float]:
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": out.get("VmRSS", 0.0), "peak_rss_mb": out.get("VmHWM", 0.0)}


def done(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip teardown: only the measurement matters here


def first_paint_probe(widget: Any, ready: Any, on_paint: Any) -> Any:
    """Calls on_paint() once `widget` has painted while ready() is true."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class Probe(QObject):
        fired = False

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if not self.fired and event.type() == QEvent.Type.Paint and ready():
                self.fired = True
                QTimer.singleShot(0, on_paint)  # after this paint completes
            return False

    probe = Probe()
    widget.installEventFilter(probe)
    return probe


def bare() -> None:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication(sys.argv[:1])
    w = QMainWindow()
    w.setWindowTitle("bare")
    w.setCentralWidget(QLabel("hello"))
    w.resize(1280, 800)

    def painted() -> None:
        done({"first_paint_s": time.time() - T0, "cpu_s": time.process_time(), **rss_mb()})

    probe = first_paint_probe(w.centralWidget(), lambda: True, painted)
    w.show()
    _ = probe
    app.exec()


def app_run(data_dir: str, full: bool) -> None:
    """`full`: the open/search/memory figures after the first paint."""
    from app.ui.main import build, parse_args, run

    qapp, ctrl = build(parse_args(["--data-dir", data_dir, "--theme", "light"]))
    w = ctrl.window
    result: dict[str, Any] = {}
    keep: list[Any] = []

    def cached() -> bool:
        # rows read straight from the store at start-up, before the engine is up
        # (getattr: the bench also measures builds from before there was such a read)
        return bool(getattr(w.leads_model, "cached", False))

    async def measure() -> None:
        from bench.ui.dataset import BIG_LEAD, BIG_SID

        while ctrl.engine is None or cached():
            await asyncio.sleep(0.01)
        engine = ctrl.engine
        loop = asyncio.get_running_loop()
        opens, open_base, searches, search_base = [], [], [], []
        open_cpu, search_cpu = [], []  # the Qt thread's CPU time over the same span
        for k in range(7):
            w.open_lead(f"lead{k + 1}")  # something else first, so each open is fresh
            while w.thread_model.conversation_sid != f"CH{k + 1}" or not w.thread_model.rowCount():
                await asyncio.sleep(0.005)
            # let the refreshes that opening triggers (mark read → inbox reload) finish, so
            # the figure is the open itself, not a queue behind earlier work
            await asyncio.sleep(0.3)
            await w.tasks.idle()
            painted = loop.create_future()
            probe = first_paint_probe(
                w.pane.view.viewport(),
                lambda: (
                    w.thread_model.conversation_sid == BIG_SID and w.thread_model.rowCount() > 0
                ),
                lambda f=painted: f.done() or f.set_result(time.perf_counter()),
            )
            t, cpu = time.perf_counter(), time.thread_time()
            w.open_lead(BIG_LEAD)
            opens.append(await asyncio.wait_for(painted, 10) - t)
            open_cpu.append(time.thread_time() - cpu)
            w.pane.view.viewport().removeEventFilter(probe)
            t = time.perf_counter()
            await engine.thread(BIG_SID, limit=200)
            open_base.append(time.perf_counter() - t)
        for q in [
            "tacoma",
            "warranty",
            "Customer 04217",
            "saturday",
            "plank",
            "+1312",
            "financing",
        ]:
            w.search.clear()
            await asyncio.sleep(0.3)
            await w.tasks.idle()
            painted = loop.create_future()
            probe = first_paint_probe(
                w.results_view.viewport(),
                lambda q=q: w.search_model.query == q and w.search_model.rowCount() > 0,
                lambda f=painted: f.done() or f.set_result(time.perf_counter()),
            )
            w.search.blockSignals(True)
            w.search.setText(q)
            w.search.blockSignals(False)
            w.list_stack.setCurrentWidget(w.results_view)
            t, cpu = time.perf_counter(), time.thread_time()
            w.search_model.search(q)  # what the debounce timer fires
            searches.append(await asyncio.wait_for(painted, 10) - t)
            search_cpu.append(time.thread_time() - cpu)
            w.results_view.viewport().removeEventFilter(probe)
            t = time.perf_counter()
            await engine.search(q, limit=50)
            search_base.append(time.perf_counter() - t)
        result.update(
            {
                "open_big_ms": [round(x * 1000, 2) for x in opens],
                "open_big_query_only_ms": [round(x * 1000, 2) for x in open_base],
                "search_ms": [round(x * 1000, 2) for x in searches],
                "search_query_only_ms": [round(x * 1000, 2) for x in search_base],
                "open_big_qt_cpu_ms": [round(x * 1000, 2) for x in open_cpu],
                "search_qt_cpu_ms": [round(x * 1000, 2) for x in search_cpu],
                "after_use": rss_mb(),
            }
        )
        t = time.perf_counter()
        ctrl.quit()
        result["quit_started"] = t

    async def guarded() -> None:
        try:
            await asyncio.wait_for(measure(), 240)
        except BaseException as exc:  # report instead of hanging the parent
            import traceback

            traceback.print_exc()
            result["error"] = repr(exc)
            result["debug"] = [
                w.search_model.query,
                w.search_model.rowCount(),
                type(w.list_stack.currentWidget()).__name__,
                w.results_view.isVisible(),
            ]
            ctrl.quit()

    def live_painted() -> None:
        # the engine's own first page on screen (the same moment as first_paint_s when
        # the store could not be read at start-up)
        if "live_paint_s" in result:
            return
        result["live_paint_s"] = time.time() - T0
        if full:
            keep.append(asyncio.ensure_future(guarded()))
        else:
            done(result)

    def painted() -> None:
        result.update(
            {
                "first_paint_s": time.time() - T0,
                # CPU time of the process so far (all threads): less sensitive to load
                "cpu_s": time.process_time(),
                "from_store": cached(),
                **rss_mb(),
                "rows": w.leads_model.rowCount(),
                "total": w.leads_model.total,
            }
        )
        if not cached():
            live_painted()

    probe = first_paint_probe(
        w.leads_view.viewport(), lambda: w.leads_model.rowCount() > 0, painted
    )
    live = first_paint_probe(
        w.leads_view.viewport(),
        lambda: "first_paint_s" in result and w.leads_model.rowCount() > 0 and not cached(),
        live_painted,
    )
    shell = first_paint_probe(
        w, lambda: True, lambda: result.setdefault("shell_paint_s", time.time() - T0)
    )

    run(qapp, ctrl)  # what the app's main() runs: the first frame, then the loop
    result["quit_s"] = round(
        time.perf_counter() - result.pop("quit_started", time.perf_counter()), 3
    )
    _ = qapp, probe, shell, live
    done(result)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["bare", "app"])
    p.add_argument("--data-dir")
    p.add_argument("--full", action="store_true")
    a = p.parse_args()
    if a.mode == "bare":
        bare()
    else:
        app_run(a.data_dir, a.full)


if __name__ == "__main__":
    main()
