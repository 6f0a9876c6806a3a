"""Build the real installers, unpack the .deb into a temporary root and run the
installed program offscreen: `--version`, then a demo start that opens the main
window, syncs the seeded leads and quits by itself.

Takes minutes (PyInstaller): runs only with `-m packaging` (see conftest.py).
`W2T_PACKAGING_DIST=/path/to/dist` reuses a build made by packaging/build-linux.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

import app

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 1200  # a cold PyInstaller build on two busy cores

pytestmark = [pytest.mark.slow, pytest.mark.packaging, pytest.mark.timeout(BUILD_TIMEOUT + 600)]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ready = os.environ.get("W2T_PACKAGING_DIST")
    if ready:
        return Path(ready)
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb")
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.skip("needs PyInstaller (pip install '.[packaging]')")
    work = tmp_path_factory.mktemp("installers")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "W2T_DIST": str(work / "dist"),
        "W2T_BUILD": str(work / "build"),
    }
    result = subprocess.run(
        [str(ROOT / "packaging" / "build-linux")],
        env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return work / "dist"


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    debs = sorted(dist.glob(f"web2text_{app.__version__}_*.deb"))
    assert debs, f"no .deb in {dist}"
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True, timeout=300)
    return root


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "QT_", "AWS_"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    env.pop("PYTHONPATH", None)  # the frozen program must not need the source tree
    return env


def test_installed_version(installed: Path, tmp_path: Path) -> None:
    program = installed / "opt/web2text/web2text"
    assert os.readlink(installed / "usr/bin/web2text") == "/opt/web2text/web2text"
    # the dynamic loader names every library it opens: Qt must not be among them
    result = subprocess.run(
        [str(program), "--version"], env={**_env(tmp_path), "LD_DEBUG": "files"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"web2text {app.__version__}"
    assert "libpython3" in result.stderr  # (the loader did report)
    assert "libQt6" not in result.stderr and "shiboken6" not in result.stderr


def test_installed_demo_opens_and_quits(installed: Path, tmp_path: Path) -> None:
    """The full demo as a user gets it: it restores the snapshot its build shipped
    (nothing played, nothing saved in the user's cache), the engine syncs the
    seeded inbox, and the program quits by itself, cleanly."""
    from app.sandbox import demo as demo_package
    from app.sandbox import demo_data

    program = installed / "opt/web2text/web2text"
    # A quit timer long enough for the engine's first sync after the restore, so
    # the synced inbox can be checked; bench/packaging/startup.py --demo times it.
    env = {**_env(tmp_path), "W2T_LOG_LEVEL": "INFO"}
    started = time.monotonic()
    result = subprocess.run(
        [str(program), "--demo", "--quit-after", "60"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=400,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-4000:]
    # No uncaught exception anywhere (thread, ASGI app, Qt slot). The relay's own
    # JSON log lines may quote a handled one; those start with "{".
    crashes = [
        line for line in result.stderr.splitlines()
        if line.startswith("Traceback") or "Exception in ASGI application" in line
    ]
    assert not crashes, result.stderr[-4000:]
    assert elapsed >= 60  # it stayed up until --quit-after, then left by itself
    log = (tmp_path / ".local/state/Web2Text/log/web2text.log").read_text()
    assert "(restored)" in log, log[-3000:]
    assert not list((tmp_path / ".cache").rglob("demo-*.json.gz"))  # nothing played, saved

    # The demo lived in its own folder, and the engine synced the seeded inbox into it.
    demo = tmp_path / ".local/share/Web2Text/demo"
    assert (demo / ".web2text-demo").exists()
    stores = list(demo.rglob("sync.db"))
    assert stores, sorted(str(p) for p in demo.rglob("*"))
    with sqlite3.connect(stores[0]) as db:
        leads = db.execute("SELECT count(*) FROM leads").fetchone()[0]
        messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    staff = next(s for s in demo_data.STAFF if s.staff_id == demo_package.DEFAULT_STAFF)
    seeded = [lead for lead in demo_data.build_seed(7, demo_package.DEFAULT_LEADS)
              if lead.location_key in staff.locations]  # fmt: skip
    assert leads >= len(seeded), (leads, len(seeded))  # the staff member's locations' share
    assert messages >= leads  # greetings, lead details and histories
    assert (demo / "profiles.json").exists()  # signed in as the demo staff member
    # Nothing outside the demo folder: the real profile stays untouched.
    assert not (tmp_path / ".local/share/Web2Text/profiles.json").exists()


def test_tarball_runs(dist: Path, tmp_path: Path) -> None:
    tarballs = sorted(dist.glob(f"web2text-{app.__version__}-linux-*.tar.gz"))
    assert tarballs
    with tarfile.open(tarballs[-1]) as tar:
        tar.extractall(tmp_path, filter="tar")
    top = tmp_path / tarballs[-1].name.removesuffix(".tar.gz")
    result = subprocess.run(
        [str(top / "web2text"), "--version"], env=_env(tmp_path), cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert app.__version__ in result.stdout


def test_installed_bundle_ships_notices_and_leaves_out_unused_parts(
    dist: Path, installed: Path
) -> None:
    internal = installed / "opt/web2text/_internal"
    notices = (internal / "licenses/THIRD_PARTY_NOTICES.txt").read_text()
    assert "LGPL-3.0" in notices and "PySide6" in notices and "moto" in notices
    for name in ("QT-NOTICE.txt", "LGPL-3.0.txt", "GPL-3.0.txt"):
        assert (internal / "licenses" / name).exists()
        assert (installed / "usr/share/doc/web2text" / name).exists()
    # the demo's seeded inbox, made by the build for this code
    assert list((internal / "demo-snapshots").glob("demo-7-40-*.json.gz"))
    files = {str(p.relative_to(internal)) for p in internal.rglob("*")}
    unused = [f for f in files if "libQt6Qml" in f or "libQt6Quick" in f
              or "plugins/sqldrivers" in f or "plugins/qmltooling" in f]
    assert not unused, unused[:10]
    modules = _bundled_modules(installed / "opt/web2text/web2text")
    assert "app.ui.main" in modules and "moto.dynamodb" in modules
    assert "twilio.rest.conversations" in modules
    # the relay reads an opt-out text's time through the 2010 API's Messages
    assert "twilio.rest.api.v2010.account.message" in modules
    left_out = ("phonenumbers.geodata", "phonenumbers.carrierdata", "twilio.rest.video",
                "moto.ec2", "PySide6.QtQml", "setuptools")
    assert not [m for m in modules if m.startswith(left_out)]
    deb = sorted(dist.glob(f"web2text_{app.__version__}_*.deb"))[-1]
    assert deb.stat().st_size <= 70 * 1024 * 1024, deb.stat().st_size  # the goal of #18


def _bundled_modules(program: Path) -> set[str]:
    """The Python modules in the program's PYZ archive."""
    import tempfile

    from PyInstaller.archive.readers import CArchiveReader, ZlibArchiveReader

    archive = CArchiveReader(str(program))
    with tempfile.NamedTemporaryFile(suffix=".pyz") as pyz:
        pyz.write(archive.extract("PYZ.pyz"))
        pyz.flush()
        return set(ZlibArchiveReader(pyz.name).toc)
