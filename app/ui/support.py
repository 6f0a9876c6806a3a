"""What makes the desktop supportable, wired to the app in one place: the log file,
crash reports and their prompt, Help > About, one instance per profile folder,
the update banner. `main` calls `start` first thing, `claim` once the
QApplication exists, `attach` once the controller does, `watch_loop` on the
asyncio loop, and `close` at exit."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.ui.crash_report import CrashReporter
from app.ui.logfile import log_dir, redact, setup_logging

if TYPE_CHECKING:  # asyncio itself is not imported before the first frame
    import asyncio

log = logging.getLogger(__name__)


class DesktopSupport:
    def __init__(self, log_path: Path, reporter: CrashReporter) -> None:
        self.log_path = log_path
        self.reporter = reporter
        self.instance: Any = None  # app.ui.single_instance.SingleInstance
        self.controller: Any = None
        self.updates: Any = None  # app.ui.update_banner.UpdateCheck
        self.prompt: Any = None
        self.about: Any = None

    @classmethod
    def start(cls, level: str) -> DesktopSupport:
        """The log file and the crash hooks, before anything else can fail."""
        folder = log_dir()
        path = setup_logging(level, folder)
        reporter = CrashReporter(folder)
        reporter.install()
        from app.ui import unexpected

        unexpected.add_reporter(reporter.unexpected)
        log.info("Web2Text starting; log %s", path)
        return cls(path, reporter)

    def claim(self, data_dir: Path, demo: bool) -> None:
        """Become the one instance for `data_dir`, or raise AlreadyRunning (after the
        running one was asked to come forward)."""
        from app.ui.single_instance import SingleInstance, server_name

        self.instance = SingleInstance(server_name(data_dir, demo))
        self.instance.claim()

    def attach(self, controller: Any) -> None:
        from PySide6.QtCore import QTimer

        from app.ui.about import add_help_menu
        from app.ui.update_banner import UpdateCheck

        self.controller = controller
        add_help_menu(controller.window, self.show_about)
        if self.instance is not None:
            self.instance.activated.connect(controller.show_window)
        self.updates = UpdateCheck(controller.window)
        controller.engineStarted.connect(self._engine_started)
        # once the event loop runs, i.e. after the first frame
        QTimer.singleShot(0, self.offer_crash_reports)

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.set_exception_handler(self.reporter.asyncio_handler)

    def offer_crash_reports(self) -> None:
        from app.ui.crash_prompt import offer_reports

        self.prompt = offer_reports(self.reporter, self.controller.window)

    def show_about(self) -> None:
        from app.ui.about import AboutDialog

        profile = self.controller.profile
        self.about = AboutDialog(
            relay_url=profile.relay_url if profile is not None else None,
            data_dir=self.controller.options.data_dir,
            log_dir=self.log_path.parent,
            parent=self.controller.window,
        )
        self.about.open()

    def _engine_started(self, engine: Any) -> None:
        self.updates.follow(lambda: engine.me)
        profile = self.controller.profile
        if profile is not None:
            # the key stays out of the log from now on (read off the Qt thread: the
            # keyring may block on D-Bus)
            import asyncio

            self._redact = asyncio.ensure_future(
                asyncio.to_thread(self._redact_key, self.controller.secrets, profile)
            )

    @staticmethod
    def _redact_key(secrets: Any, profile: Any) -> None:
        key = secrets.get(profile)
        if key:
            redact(key)

    def close(self) -> None:
        if self.updates is not None:
            self.updates.stop()
        if self.instance is not None:
            self.instance.close()
        from app.ui import unexpected

        unexpected.remove_reporter(self.reporter.unexpected)
        self.reporter.uninstall()
