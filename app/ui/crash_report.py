"""Crash reports: written when Web2Text dies or meets an error nobody caught, and
offered on the next start ("Web2Text closed unexpectedly: open the report / copy it").

- a hard crash (segfault, abort): `faulthandler` writes the Python stacks of
  every thread into `faulthandler.log`; the next start turns a non-empty one
  into a report;
- an uncaught exception in the Qt thread (slots included), another thread or an
  asyncio task: `sys.excepthook`, `threading.excepthook` and the loop's
  exception handler write a report at once.

A report holds the version, the platform, the traceback and the last lines of
the log, all scrubbed like the log (phones masked, keys never). Reports live in
the log folder; one offered to the user is renamed `*.seen.txt`.
"""

from __future__ import annotations

import faulthandler
import logging
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import app
from app.ui.logfile import LOG_FILE, scrub

if TYPE_CHECKING:  # asyncio itself is not imported before the first frame
    import asyncio

log = logging.getLogger(__name__)
FAULT_FILE = "faulthandler.log"
MAX_REPORTS_PER_RUN = 5
LOG_TAIL_LINES = 80


class CrashReporter:
    """Installs the hooks and keeps the reports of one log folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fault_file: IO[str] | None = None
        self._written = 0
        self._lock = threading.Lock()
        self._previous_excepthook: Callable[..., Any] = sys.excepthook
        self._previous_threading_hook: Callable[..., Any] = threading.excepthook

    # --- hooks -----------------------------------------------------------------
    def install(self) -> None:
        """Collect what the last run's faulthandler left, then arm it and the hooks."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.collect_fault_log()
        self._fault_file = open(self.directory / FAULT_FILE, "w", encoding="utf-8")  # noqa: SIM115
        faulthandler.enable(self._fault_file, all_threads=True)
        self._previous_excepthook = sys.excepthook
        self._previous_threading_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._threading_hook

    def uninstall(self) -> None:
        """At a clean exit: the hooks go, and the empty faulthandler file says all went well."""
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_excepthook
        if threading.excepthook == self._threading_hook:
            threading.excepthook = self._previous_threading_hook
        if self._fault_file is not None:
            faulthandler.disable()
            self._fault_file.close()
            self._fault_file = None

    def asyncio_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """For `loop.set_exception_handler`: a report for a task's uncaught exception."""
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            text = "".join(traceback.format_exception(exc))
            self.write("asyncio", f"{context.get('message', '')}\n{text}")
        loop.default_exception_handler(context)

    def _excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            self.write("main thread", "".join(traceback.format_exception(kind, exc, tb)))
        self._previous_excepthook(kind, exc, tb)

    def _threading_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:
            name = args.thread.name if args.thread else "a thread"
            text = "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                      args.exc_traceback))  # fmt: skip
            self.write(f"thread {name}", text)
        self._previous_threading_hook(args)

    def unexpected(self, where: str, exc: BaseException) -> None:
        """For `app.ui.unexpected.add_reporter`: a report for an error nobody caught."""
        self.write(where, "".join(traceback.format_exception(exc)))

    # --- reports ---------------------------------------------------------------
    def write(self, where: str, details: str) -> Path | None:
        """A report of an error in `where`; None once this run wrote its share."""
        with self._lock:
            if self._written >= MAX_REPORTS_PER_RUN:
                return None
            self._written += 1
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.directory / f"crash-{stamp}-{self._written}.txt"
            try:
                path.write_text(self._report(where, details), encoding="utf-8")
            except OSError:
                log.exception("could not write a crash report")
                return None
        log.error("crash report written: %s", path)
        return path

    def _report(self, where: str, details: str) -> str:
        header = [
            f"Web2Text {app.__version__} crash report",
            f"time: {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
            f"where: {where}",
            f"python: {sys.version.split()[0]} ({platform.python_implementation()})",
            f"system: {platform.platform()}",
            f"frozen: {bool(getattr(sys, 'frozen', False))}",
            "",
            scrub(details.rstrip()),
            "",
            f"--- last lines of {LOG_FILE} ---",
        ]
        return "\n".join(header + self._log_tail()) + "\n"

    def _log_tail(self) -> list[str]:
        path = self.directory / LOG_FILE
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ["(no log)"]
        return [scrub(line) for line in lines[-LOG_TAIL_LINES:]]

    def collect_fault_log(self) -> Path | None:
        """The last run's faulthandler output, if it died hard, as a report."""
        path = self.directory / FAULT_FILE
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
        if not text:
            return None
        path.unlink(missing_ok=True)
        return self.write("a fatal error (the program was stopped)", text)

    def pending(self) -> list[Path]:
        """Reports not yet offered to the user, oldest first."""
        return sorted(
            p for p in self.directory.glob("crash-*.txt") if not p.name.endswith(".seen.txt")
        )

    @staticmethod
    def mark_seen(path: Path) -> Path:
        seen = path.with_name(path.name.removesuffix(".txt") + ".seen.txt")
        try:
            path.replace(seen)
        except OSError:
            return path
        return seen
