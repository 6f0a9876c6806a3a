"""The demo's own data folder: wiped and re-created by every start, never a real profile."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.sandbox.demo.handle import DemoError

MARKER = ".web2text-demo"


def default_demo_dir() -> Path:
    env = os.environ.get("W2T_DEMO_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("Web2Text", appauthor=False)) / "demo"


def reset_demo_dir(path: Path) -> Path:
    """Empty `path` for a new demo, but only if it is a demo folder (or empty/new).

    The marker file guards against wiping a real profile when someone points
    W2T_DEMO_DIR (or `data_dir`) at the wrong folder.
    """
    path = path.expanduser().resolve()
    if path.exists():
        if not path.is_dir():
            raise DemoError(f"{path} is a file, not a folder for demo data", "demo_dir_invalid")
        if (path / MARKER).exists():
            shutil.rmtree(path)
        elif any(path.iterdir()):
            raise DemoError(
                f"{path} holds files that are not demo data; choose an empty folder "
                "(W2T_DEMO_DIR) so the demo never mixes with a real profile",
                "demo_dir_not_empty",
            )
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text(
        "Web2Text demo data: deleted and re-created by every `web2text --demo`.\n",
        encoding="utf-8",
    )
    return path
