"""The staff key: `W2T_TOKEN` first (and then saved to the keyring), else the keyring
under service "web2text" and the relay URL."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend

from app.sync.cli import KEYRING_SERVICE, resolve_token


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)


def test_env_token_wins_and_moves_into_the_keyring(ring: MemoryKeyring,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W2T_TOKEN", "from-env")
    assert resolve_token("https://relay.example") == "from-env"
    assert ring.items == {(KEYRING_SERVICE, "https://relay.example"): "from-env"}
    monkeypatch.delenv("W2T_TOKEN")
    assert resolve_token("https://relay.example") == "from-env"  # now from the keyring
    assert resolve_token("https://other.example") is None


def test_no_keyring_backend_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        monkeypatch.delenv("W2T_TOKEN", raising=False)
        assert resolve_token("https://relay.example") is None
        monkeypatch.setenv("W2T_TOKEN", "t")
        assert resolve_token("https://relay.example") == "t"
    finally:
        keyring.set_keyring(previous)
