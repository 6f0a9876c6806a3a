"""Web2Text desktop UI (PySide6 + qasync). See docs/desktop.md."""

from __future__ import annotations

import sys


def _keep_none_alive() -> None:
    """Work around PySide6 6.12 dropping a reference to None on every call of a method
    that returns nothing (QFont.setBold, QPainter.setPen, QLabel.setText, ...).

    On Python 3.12+ None is immortal and the bug is harmless; on 3.11 None's count
    reaches zero after some ten thousand such calls and the process aborts with
    "none_dealloc". Painting a list does thousands of them, so the app would die within
    minutes. Raising the count by 2**40 makes None as good as immortal (what 3.12 does);
    None is a static object, so the count is never used for freeing anyway.
    """
    if sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):  # debug builds
        return
    import ctypes

    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


_keep_none_alive()
