"""Stopping the demo frees every loopback port it took (its own module: a second
`start_demo` in a process stops the first)."""

from __future__ import annotations

import socket
from pathlib import Path

from app.sandbox.demo import start_demo


def test_stop_closes_every_port(tmp_path: Path) -> None:
    handle = start_demo(tmp_path / "d", leads=6, live=False, background_history=False)
    urls = [handle.relay_url, handle.simulator_url, handle.dynamodb_url]
    handle.stop()
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((host, int(port))) != 0, url
