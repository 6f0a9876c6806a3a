"""`web2text-sync` on a damaged PC, as a real subprocess: a damaged store is repaired
and reported once in the JSON, a full or read-only data folder is one line of JSON with
exit code 6, a locked keyring is a clear `keyring_unavailable`, and no error is ever a
traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.sync import store
from app.sync.db import Database
from tests.sync.damage import (
    Drive,
    checkpoint,
    fill,
    kept_files,
    overwrite_page,
    pages_of,
    tiny_disk,
)
from tests.sync.fake_relay import TOKEN, change, conv_data, lead_data

SCRIPT = str(Path(sys.executable).with_name("web2text-sync"))
REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, token: str | None = TOKEN,
        keyring_backend: str = "keyring.backends.null.Keyring") -> tuple[int, Any, str]:
    """Exit code, the one line of JSON on stdout, and stderr."""
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": keyring_backend,
           "PYTHONPATH": str(REPO)}
    env.pop("W2T_TOKEN", None)
    if token:
        env["W2T_TOKEN"] = token
    proc = subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr  # one line, always
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(lines[0]), proc.stderr


def queue(data_dir: Path, bodies: list[str]) -> None:
    """What `send` does, many times over, without a process each (`send`'s own store
    calls: `store.enqueue_send` on the store's writer)."""
    db = Database.open(data_dir)
    try:
        for body in bodies:
            db.writer.call(store.enqueue_send, "CH1", body, None)
    finally:
        db.close()


def test_a_damaged_store_is_repaired_and_reported_once(tmp_path: Path, fake_relay: Any) -> None:
    relay, url = fake_relay
    relay.publish(change("conversation", conv_data("CH1")), change("lead", lead_data("l1", "CH1")))
    d = tmp_path / "data"
    bodies = [f"note {i:03d} " + "x" * 90 for i in range(120)]
    assert cli("--data-dir", str(d), "send", "CH1", bodies[0])[0] == 0
    queue(d, bodies[1:])
    checkpoint(d)
    overwrite_page(d, pages_of(d, "outbox")[1])

    code, out, _ = cli("--data-dir", str(d), "status")
    assert code == 0 and out["pending"] == 120  # every row kept
    repair = out["repair"]
    assert repair["keptAt"] == str(kept_files(d)[0]) and len(repair["saved"]) == 120
    assert "120 messages waiting to be sent" in repair["message"]
    code, out, _ = cli("--data-dir", str(d), "status")
    assert "repair" not in out  # told once
    code, out, _ = cli("--data-dir", str(d), "--relay-url", url, "run", "--until-idle",
                       "--timeout", "60")
    assert code == 0 and out["pending"] == 0, out
    assert [b for _, b in relay.sent] == bodies


def test_a_full_disk_is_one_line_with_the_folder_and_the_room_needed(tmp_path: Path,
                                                                      fake_relay: Any) -> None:
    relay, url = fake_relay
    relay.publish(change("conversation", conv_data("CH1")), change("lead", lead_data("l1", "CH1")))
    with tiny_disk(tmp_path, 16) as disk:
        d = disk / "Web2Text"
        assert cli("--data-dir", str(d), "send", "CH1", "before")[0] == 0
        filler = fill(disk)  # the store is closed: its next open needs room for its WAL
        code, out, _ = cli("--data-dir", str(d), "send", "CH1", "on a full disk")
        assert code == 6, out
        assert out["error"] == "disk_full" and out["folder"] == str(d)
        assert out["needed_bytes"] > out["free_bytes"] and str(d) in out["message"]
        filler.unlink()
        code, out, _ = cli("--data-dir", str(d), "--relay-url", url, "run", "--until-idle",
                           "--timeout", "60")
        assert code == 0, out
    assert [b for _, b in relay.sent] == ["before"]


def test_a_read_only_data_folder_is_exit_6(tmp_path: Path) -> None:
    drive = Drive(tmp_path)
    try:
        d = drive.where / "Web2Text"
        assert cli("--data-dir", str(d), "send", "CH1", "queued")[0] == 0
        drive.read_only()
        code, out, _ = cli("--data-dir", str(d), "send", "CH1", "refused")
        assert (code, out["error"], out["folder"]) == (6, "data_folder_read_only", str(d))
        code, out, _ = cli("--data-dir", str(d), "--relay-url", "http://127.0.0.1:9", "run",
                           "--until-idle", "--timeout", "5")
        assert (code, out["error"]) == (6, "data_folder_read_only")
    finally:
        drive.close()


def test_a_locked_keyring_says_so_and_the_queue_waits_for_a_key(tmp_path: Path,
                                                               fake_relay: Any) -> None:
    relay, url = fake_relay
    relay.publish(change("conversation", conv_data("CH1")), change("lead", lead_data("l1", "CH1")))
    d = str(tmp_path / "data")
    locked = "tests.support.broken_keyring.LockedKeyring"
    code, _, _ = cli("--data-dir", d, "send", "CH1", "queued while locked",
                     keyring_backend=locked)
    assert code == 0
    code, out, _ = cli("--data-dir", d, "--relay-url", url, "run", "--until-idle",
                       token=None, keyring_backend=locked)
    assert code == 3 and out["error"] == "keyring_unavailable"
    assert "KeyringLocked" in out["message"] and "W2T_TOKEN" in out["message"]
    code, out, _ = cli("--data-dir", d, "status", token=None,
                       keyring_backend="tests.support.broken_keyring.BrokenKeyring")
    assert code == 0 and out["pending"] == 1 and "RuntimeError" in out["error"]
    # the key given again (it cannot be saved: the keyring stays locked): delivered once
    code, out, _ = cli("--data-dir", d, "run", "--until-idle", "--timeout", "60",
                       keyring_backend=locked)
    assert code == 0, out
    assert relay.sent == [("CH1", "queued while locked")]


def test_every_error_is_one_line_of_json(tmp_path: Path) -> None:
    code, out, stderr = cli("--data-dir", str(tmp_path), "send")
    assert code == 1 and out["error"] == "usage" and stderr == ""
    code, out, _ = cli("--data-dir", str(tmp_path), "run", "--timeout", "soon")
    assert code == 1 and out["error"] == "usage"
    code, out, _ = cli("--data-dir", str(tmp_path), "send", "CH1", " ")
    assert code == 1 and out["error"] == "empty_body"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, out, _ = cli("--data-dir", str(blocker / "Web2Text"), "send", "CH1", "hi")
    assert code == 6 and out["error"] == "data_folder_missing"
