"""Web2Text desktop UI (PySide6 + qasync). See docs/desktop.md."""
