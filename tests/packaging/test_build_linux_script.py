"""packaging/build-linux's .deb and tarball assembly, on a stand-in program folder.

The real PyInstaller build takes minutes (tests/packaging/test_installed_package.py,
`-m packaging`); this test runs the same script with `--skip-pyinstaller` on a
tiny folder, so the package layout is checked in every run with real dpkg-deb.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("build-linux")
    dist, build = work / "dist", work / "build"
    program = dist / "web2text"
    (program / "_internal").mkdir(parents=True)
    (program / "web2text").write_text(f"#!/bin/sh\necho 'web2text {app.__version__}'\n")
    (program / "web2text").chmod(0o700)  # a strict umask must not leak into the package
    (program / "_internal" / "lib.so").write_bytes(b"\0" * 2048)
    env = {**os.environ, "W2T_DIST": str(dist), "W2T_BUILD": str(build)}
    result = subprocess.run(
        [str(ROOT / "packaging" / "build-linux"), "--skip-pyinstaller"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return dist


def _deb(dist: Path) -> Path:
    debs = list(dist.glob("web2text_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_deb_name_and_control(built: Path) -> None:
    deb = _deb(built)
    assert deb.name.startswith(f"web2text_{app.__version__}_")
    fields = {}
    for name in ("Package", "Version", "Architecture", "Depends", "Installed-Size"):
        fields[name] = subprocess.run(
            ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
        ).stdout.strip()
    assert fields["Package"] == "web2text"
    assert fields["Version"] == app.__version__
    assert fields["Depends"] == (
        "libgl1, libegl1, libxkbcommon0, libfontconfig1, fonts-noto-color-emoji"
    )
    assert int(fields["Installed-Size"]) > 0


def test_deb_layout(built: Path, tmp_path: Path) -> None:
    deb = _deb(built)
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    rows = {line.split()[5].lstrip("."): line for line in listing.splitlines()}
    assert rows["/opt/web2text/web2text"].startswith("-rwxr-xr-x root/root")
    assert "/usr/bin/web2text -> /opt/web2text/web2text" in listing
    assert "/usr/share/applications/web2text.desktop" in rows
    for size in ("16x16", "48x48", "256x256", "scalable"):
        ext = "svg" if size == "scalable" else "png"
        assert f"/usr/share/icons/hicolor/{size}/apps/web2text.{ext}" in rows
    # Owned by root whatever the builder's user was (--root-owner-group).
    assert all(" root/root " in line for line in listing.splitlines())

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    out = subprocess.run([str(root / "opt/web2text/web2text")], capture_output=True, text=True)
    assert out.stdout.strip() == f"web2text {app.__version__}"
    scripts = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(scripts)], check=True)
    assert os.access(scripts / "postinst", os.X_OK)


def test_tarball(built: Path, tmp_path: Path) -> None:
    tarballs = list(built.glob(f"web2text-{app.__version__}-linux-*.tar.gz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(tmp_path, filter="data")
    top = tmp_path / tarballs[0].name.removesuffix(".tar.gz")
    assert (top / "web2text").exists() and (top / "_internal" / "lib.so").exists()
    assert (top / "share/applications/web2text.desktop").exists()
    assert (top / "share/icons/hicolor/256x256/apps/web2text.png").exists()

    # The bundled helper adds a per-user menu entry pointing at this folder.
    data_home = tmp_path / "xdg"
    result = subprocess.run(
        [str(top / "install-desktop-entry")],
        env={**os.environ, "XDG_DATA_HOME": str(data_home)},
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    entry = (data_home / "applications/web2text.desktop").read_text()
    assert f'Exec="{top}/web2text"' in entry
    assert (data_home / "icons/hicolor/48x48/apps/web2text.png").exists()
    subprocess.run(
        [str(top / "install-desktop-entry"), "--remove"],
        env={**os.environ, "XDG_DATA_HOME": str(data_home)}, check=True, capture_output=True,
    )
    assert not (data_home / "applications/web2text.desktop").exists()


def test_appimage_dir(built: Path, tmp_path: Path) -> None:
    env = {**os.environ, "W2T_DIST": str(built), "W2T_BUILD": str(built.parent / "build")}
    result = subprocess.run(
        [str(ROOT / "packaging/linux/build-appimage"), "--appdir-only"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    appdir = Path(result.stdout.strip().splitlines()[-1])
    for name in ("AppRun", "web2text.desktop", "web2text.png", ".DirIcon"):
        assert (appdir / name).exists() or (appdir / name).is_symlink(), name
    out = subprocess.run([str(appdir / "AppRun")], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == f"web2text {app.__version__}"
