"""PyInstaller runtime hook of the frozen app: `--version` and `--help` answered first.

Custom runtime hooks run before PyInstaller's own, and PyInstaller's PySide6 hook
imports PySide6.QtCore (Qt's core and ICU libraries) before the launcher's first
line. Asking the app's own argument parser here keeps those answers, which scripts
and IT tools ask for, free of Qt, and identical to `web2text`'s (argparse prints
and exits). Any other command line goes on to the launcher unchanged.
"""


def _answer_cheap_flags() -> None:
    import sys

    if {"--version", "-h", "--help"} & set(sys.argv[1:]):
        from app.ui.main import parse_args

        parse_args(sys.argv[1:])  # exits with argparse's answer; returns if none was due


_answer_cheap_flags()
del _answer_cheap_flags
