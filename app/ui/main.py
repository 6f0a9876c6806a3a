"""`web2text`: the desktop app's entry point."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

import app


class _Parser(argparse.ArgumentParser):
    """A usage error is one line on stderr (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: usage: {message} (see {self.prog} --help)\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = _Parser(
        prog="web2text", description="Web2Text desktop: texting with your website leads."
    )
    p.add_argument("--version", action="version", version=f"web2text {app.__version__}")
    p.add_argument("--demo", action="store_true", help="run on the embedded demo sandbox")
    p.add_argument(
        "--kiosk", action="store_true", help="full screen, no close, lock after idle minutes"
    )
    p.add_argument(
        "--data-dir", type=Path, default=None, help="folder for profiles and local stores"
    )
    p.add_argument(
        "--relay-url",
        default=None,
        help="relay address; with the staff key in W2T_TOKEN, signs in without typing",
    )
    p.add_argument(
        "--quit-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="open the main window, then quit by itself (installer smoke tests)",
    )
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=os.environ.get("W2T_LOG_LEVEL", "INFO").upper(),
        help="how much goes into the log file (default INFO; W2T_LOG_LEVEL)",
    )
    p.add_argument(
        "--theme", choices=["system", "light", "dark"], default="system", help=argparse.SUPPRESS
    )
    return p.parse_args(argv)


def _skip_httpx_cli() -> None:
    """httpx imports its command-line tool (`httpx._main`: click, rich, pygments) whenever
    those happen to be installed, ~0.15 s of every start for a CLI this app never runs.
    A None entry in sys.modules makes httpx take its own fallback (`main` then says the
    CLI is not installed). Only done by the app's entry point, not by importing app.ui."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _application(*, demo: bool) -> tuple[Any, bool]:
    """The QApplication (made here unless one exists: benchmarks, tests) and whether it
    existed before."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    # fractional scale factors (125 %, 150 %) render crisply instead of rounding
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    existing = QApplication.instance()
    # Fusion everywhere (the palette and style sheet are made for it), chosen here
    # rather than by setStyle (see ThemeManager's set_style)
    qapp = existing or QApplication([*sys.argv[:1], "-style", "Fusion"])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("Web2Text")
    # The demo's visible marker: Qt adds the display name to every window title.
    qapp.setApplicationDisplayName("Web2Text — Demo" if demo else "Web2Text")
    qapp.setOrganizationName("Web2Text")
    qapp.setApplicationVersion(app.__version__)
    qapp.setDesktopFileName("web2text")
    return qapp, existing is not None


def build(args: argparse.Namespace, claim: Any = None) -> tuple[Any, Any]:
    """QApplication and controller with its window built, not shown yet, and no event
    loop yet (`run` paints the first frame before it creates one; benchmarks reuse
    both). `claim(data_dir, demo)` runs once the QApplication exists (the single
    instance: it raises AlreadyRunning when another Web2Text holds the folder)."""
    _skip_httpx_cli()
    # No cyclic garbage collection until the first frame has painted (`run` turns it
    # back on): start-up makes tens of thousands of long-lived objects (Qt types and
    # enums, modules, widgets) and little garbage; the collector's many passes over
    # them during the build would all be in front of the window.
    gc.disable()
    from app.ui.profiles import default_data_dir
    from app.ui.startup import StoredFirstPage

    data_dir = args.data_dir or default_data_dir()
    qapp, existing = _application(demo=args.demo)
    if claim is not None:
        claim(data_dir, args.demo)

    from app.ui.controller import AppController, Options

    # The first frame's rows are read from the store while the window is built. Not
    # earlier: a thread importing Python beside PySide6's import (which holds the
    # interpreter for long stretches) made both slower.
    stored = StoredFirstPage.for_start(data_dir, demo=args.demo, relay_url=args.relay_url)
    from app.ui.theme import ThemeManager

    # (the window icon is rendered once the first rows are in: AppController.after_first_rows)
    themes = ThemeManager(
        qapp,
        force=None if args.theme == "system" else args.theme,
        with_style_sheet=False,
        set_style=existing,
    )
    options = Options(
        data_dir=data_dir,
        kiosk=args.kiosk,
        demo=args.demo,
        relay_url=args.relay_url,
        quit_after=args.quit_after,
    )
    controller = AppController(qapp, options, stored_first_page=stored)
    # the window is built plain and polished under the style sheet once (theme.py); the
    # palette and font are in force already
    themes.apply_style_sheet()
    return qapp, controller


def run(qapp: Any, controller: Any, on_loop: Any = None) -> int:
    """The first frame, then the asyncio loop (qasync) and the controller on it."""
    # The window paints with the stored rows before asyncio's loop exists: qasync, the
    # loop and the engine's start-up are not in front of the first frame.
    try:
        controller.show_first_frame()
    finally:
        gc.enable()
    # The engine's threads run Python too; when the Qt thread wants the interpreter
    # back (a paint, a timer) the holder gives it up after at most this long; shorter
    # than the default keeps those waits from adding up during a repaint.
    # (From here on: before the first frame, the one other thread reads the stored
    # rows, and handing the interpreter back and forth that often only slowed both.)
    sys.setswitchinterval(0.001)
    import asyncio

    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    if on_loop is not None:  # (the crash reporter's exception handler)
        on_loop(loop)
    try:
        with loop:
            return int(loop.run_until_complete(controller.run()))
    except RuntimeError as exc:
        if "Event loop stopped before Future completed" not in str(exc):
            raise
        # Qt's own loop ended under the app: the display server went away (Qt exits
        # its loop when the X11 or Wayland connection breaks). Not a bug of ours to
        # report on the next start; what was queued is in the store.
        logging.getLogger("app.ui").warning("the window system ended the app: %s", exc)
        return 1
    finally:
        asyncio.set_event_loop(None)


def main(argv: list[str] | None = None) -> int:
    """The app; any error nobody caught is one line for the user (exit 1) and the whole
    story in the log and the crash report (`app.ui.unexpected`)."""
    args = parse_args(argv)
    from app.ui.support import DesktopSupport

    support = DesktopSupport.start(args.log_level)
    try:
        return _main(args, support)
    except Exception as exc:
        from app.ui import unexpected

        unexpected.report("web2text", exc)
        print(f"web2text: error: internal_error: {type(exc).__name__}: {exc} "
              "(the details are in the log)", file=sys.stderr)
        support.close()
        return 1


def _main(args: argparse.Namespace, support: Any) -> int:
    from PySide6.QtCore import QTimer

    from app.ui.demo_host import DemoUnavailable
    from app.ui.single_instance import AlreadyRunning

    try:
        _qapp, controller = build(args, claim=support.claim)
    except AlreadyRunning:
        print("web2text: already running for this profile; its window was brought forward",
              file=sys.stderr)
        support.close()
        return 0
    support.attach(controller)
    # Ctrl+C in a terminal quits cleanly; the timer lets Python see the signal while Qt waits
    signal.signal(signal.SIGINT, lambda *_: controller.quit())
    signal.signal(signal.SIGTERM, lambda *_: controller.quit())
    tick = QTimer()
    tick.start(200)
    tick.timeout.connect(lambda: None)
    try:
        code = run(_qapp, controller, on_loop=support.watch_loop)
    except DemoUnavailable as exc:
        print(f"web2text: {exc}", file=sys.stderr)
        code = 2
    # Destroy the Qt objects while the QApplication still exists, rather than leaving
    # the order to interpreter finalization.
    tick.stop()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    del tick
    gc.collect()
    support.close()
    _qapp.shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
