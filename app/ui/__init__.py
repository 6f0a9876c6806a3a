"""Web2Text desktop UI (PySide6 + qasync). See docs/desktop.md."""

from __future__ import annotations

import sys


def _keep_none_alive() -> None:
    """Work around PySide6 6.12 dropping references to the singletons None, True and
    False: every call of a method that returns nothing (QFont.setBold, QPainter.setPen,
    QLabel.setText, ...) loses one on None, and every emit of a Signal(bool) one on True.

    On Python 3.12+ these objects are immortal and the bug is harmless; on 3.11 a count
    reaches zero after some thousands of calls and the process aborts ("none_dealloc",
    "bool_dealloc"). Painting a list does thousands of them, so the app would die within
    minutes. Raising the counts by 2**40 makes them as good as immortal (what 3.12
    does); they are static objects, so the count is never used for freeing anyway.
    """
    if sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):  # debug builds
        return
    import ctypes

    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40


_keep_none_alive()
