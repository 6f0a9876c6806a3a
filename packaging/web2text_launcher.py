"""Entry point of the frozen desktop app (PyInstaller runs this file as __main__).

It does exactly what the `web2text` console script does, so the installed
program and `pip install` behave the same.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen program that (or whose libraries) spawns a multiprocessing child
    # would otherwise start a second copy of the whole app.
    multiprocessing.freeze_support()
    from app.ui.main import main

    sys.exit(main())
