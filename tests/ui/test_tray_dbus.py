"""The real tray and the real desktop notification: Xvfb + a D-Bus session with a
StatusNotifierWatcher and a registered host, so Qt uses the D-Bus tray; dbus-monitor
sees the org.freedesktop.Notifications.Notify call users would see (qt-headless.md).
Skipped where Xvfb, dbus-run-session or status-notifier-watcher are missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.xvfb

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("Xvfb", "dbus-run-session", "dbus-monitor", "status-notifier-watcher")

HOST = """
import os, sys
from PySide6.QtCore import QCoreApplication
from PySide6.QtDBus import QDBusConnection, QDBusInterface
app = QCoreApplication(sys.argv)
bus = QDBusConnection.sessionBus()
name = f"org.kde.StatusNotifierHost-{os.getpid()}"
bus.registerService(name)
QDBusInterface("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher",
               "org.kde.StatusNotifierWatcher", bus).call("RegisterStatusNotifierHost", name)
print("host registered", flush=True)
app.exec()
"""

APP = """
import app.ui
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app.sync.api import InboundMessage, InboundMessages
from datetime import UTC, datetime
a = QApplication([])
a.setApplicationName("Web2Text")
from app.ui.notify_policy import NotificationPolicy
from app.ui.tray import TrayController
tray = TrayController()
print("tray available", tray.available, flush=True)
tray.set_unread(3)
print("tooltip", tray.icon.toolTip() if tray.icon else None, flush=True)
policy = NotificationPolicy()
policy.catch_up_finished()
msg = InboundMessage("IM1", "CH1", "L1", "Maria Gonzalez", "loc", "Is it in stock?",
                     datetime.now(UTC))
batch = InboundMessages((msg,))
for n in policy.decide(batch, None, False):
    tray.notify(n)
QTimer.singleShot(1500, a.quit)
a.exec()
"""

SCRIPT = """#!/bin/bash
Xvfb :{display} -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
sleep 0.5
status-notifier-watcher >/dev/null 2>&1 &
WATCHER=$!
sleep 0.5
{python} {dir}/host.py > {dir}/host.log 2>&1 &
HOST=$!
for i in $(seq 50); do grep -q registered {dir}/host.log 2>/dev/null && break; sleep 0.1; done
dbus-monitor --session \\
  "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \\
  > {dir}/monitor.log 2>&1 &
MON=$!
sleep 0.5
cd {root} && DISPLAY=:{display} QT_QPA_PLATFORM=xcb {python} {dir}/tray_app.py
sleep 0.5
kill $MON $HOST $WATCHER $XVFB 2>/dev/null
"""


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason="needs " + ", ".join(TOOLS))
def test_real_tray_icon_and_desktop_notification(tmp_path: Path) -> None:
    (tmp_path / "host.py").write_text(HOST)
    (tmp_path / "tray_app.py").write_text(APP)  # not app.py: it would shadow `app`
    script = tmp_path / "run.sh"
    script.write_text(SCRIPT.format(display=93, python=sys.executable, dir=tmp_path, root=ROOT))
    script.chmod(0o755)
    proc = subprocess.run(
        ["dbus-run-session", "--", str(script)], capture_output=True, text=True, timeout=90
    )
    assert "tray available True" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert "tooltip Web2Text — 3 unread messages" in proc.stdout
    monitor = (tmp_path / "monitor.log").read_text()
    assert "member=Notify" in monitor, monitor[-2000:]
    assert 'string "Web2Text"' in monitor
    assert 'string "Maria Gonzalez"' in monitor and 'string "Is it in stock?"' in monitor
