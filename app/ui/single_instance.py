"""One Web2Text per user and profile folder: a second launch brings the running
window forward (through a QLocalServer) instead of failing on the store's lock.

The server's name is derived from the user and the data folder (and whether it
is the demo), so a second profile folder (`--data-dir`) may run beside it. A
name left behind by a crashed process is taken over once nothing answers on it.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)
ACTIVATE = b"activate\n"
CONNECT_MS = 500


def server_name(data_dir: Path, demo: bool) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without one)
        user = "user"
    key = f"{user}\0{data_dir.expanduser().resolve()}\0{'demo' if demo else 'app'}"
    return "web2text-" + hashlib.sha256(key.encode()).hexdigest()[:20]


class AlreadyRunning(Exception):
    """Another Web2Text holds this profile folder; it was asked to show its window."""


class SingleInstance(QObject):
    """The running instance's listener; `activated` fires when a second launch knocks."""

    activated = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server: QLocalServer | None = None

    def running(self) -> bool:
        """Whether an instance listens on this name (asked nothing)."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        answered = socket.waitForConnected(CONNECT_MS)
        socket.abort()
        return answered

    def forward_to_running(self) -> bool:
        """Ask a running instance to come forward; False when none answers."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_MS):
            return False
        socket.write(ACTIVATE)
        socket.flush()
        socket.waitForBytesWritten(CONNECT_MS)
        socket.disconnectFromServer()
        return True

    def claim(self) -> None:
        """Become the running instance, or raise AlreadyRunning after waking it."""
        if self.forward_to_running():
            raise AlreadyRunning(self.name)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # nobody answered above, so the name is a crashed run's leftover
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                log.warning("single instance: cannot listen on %s: %s", self.name,
                            server.errorString())  # fmt: skip
                return
        server.newConnection.connect(self._knock)
        self.server = server

    def _knock(self) -> None:
        assert self.server is not None
        while (socket := self.server.nextPendingConnection()) is not None:
            # the knocking side writes right after connecting; a local socket's few
            # bytes are there at once (no per-socket slots: nothing outlives this call)
            ready = socket.bytesAvailable() or socket.waitForReadyRead(CONNECT_MS)
            if ready and bytes(socket.readAll().data()).startswith(ACTIVATE.strip()):
                log.info("a second launch asked for the window")
                self.activated.emit()
            socket.disconnectFromServer()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server.deleteLater()
            self.server = None
