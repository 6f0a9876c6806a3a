"""Unexpected errors of the desktop: never a traceback in the user's face.

Every error nobody planned for (a task that failed, an engine that would not start for
a reason it did not name) goes through `report`: the full traceback to the log, and to
every crash reporter registered with `add_reporter` (the support module registers its
crash report writer there). What the user sees is a short sentence, from the caller.

An `EngineError` is not unexpected: it is the engine refusing something with a stable
reason (a full disk, a damaged store being repaired), which the screens show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("web2text.unexpected")

#: where an unexpected error goes besides the log: (where it happened, the error)
Reporter = Callable[[str, BaseException], None]

_reporters: list[Reporter] = []


def add_reporter(reporter: Reporter) -> None:
    """Also hand every unexpected error to `reporter` (e.g. a crash report writer)."""
    if reporter not in _reporters:
        _reporters.append(reporter)


def remove_reporter(reporter: Reporter) -> None:
    if reporter in _reporters:
        _reporters.remove(reporter)


def report(where: str, exc: BaseException) -> None:
    """Log `exc` with its traceback and hand it to the crash reporters."""
    log.error("unexpected error in %s: %s", where, type(exc).__name__, exc_info=exc)
    for reporter in list(_reporters):
        try:
            reporter(where, exc)
        except Exception:  # a reporter that fails must not hide the error it reports
            log.exception("a crash reporter failed")


def expected(exc: BaseException) -> bool:
    """An error the screens show for what it is (a refusal with a stable reason)."""
    from app.sync.api import EngineError

    return isinstance(exc, EngineError)
