"""Entry point of the frozen desktop app (PyInstaller runs this file as __main__).

It does exactly what the `web2text` console script does, so the installed
program and `pip install` behave the same. `--version` and `--help` never get
here: pyi_rth_web2text_cli.py answers them before Qt is loaded.
"""

import sys

if __name__ == "__main__":
    import multiprocessing

    # pydantic before PySide6: shiboken's import hook looks at the source of each
    # module imported after PySide6, and on pydantic's package (whose module
    # __getattr__ imports a half-imported submodule) it raised ImportError in the
    # frozen program: the embedded demo's first pydantic import failed.
    import pydantic  # noqa: F401

    # A frozen program that (or whose libraries) spawns a multiprocessing child
    # would otherwise start a second copy of the whole app.
    multiprocessing.freeze_support()
    from app.ui.main import main

    sys.exit(main())
