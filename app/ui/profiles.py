"""Staff profiles on this PC and their keys in the OS keyring.

A profile is who signs in (staff id and name) and where (relay URL); it owns a
folder for its local store. Profiles are listed in `profiles.json` in the data
folder; the staff key is never written to a file: it goes to the OS keyring
(service `Web2Text`, user `<relay URL>|<staff id>`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

KEYRING_SERVICE = "Web2Text"


def default_data_dir() -> Path:
    from platformdirs import user_data_dir  # on use: its import is a few ms of start-up

    return Path(user_data_dir("Web2Text", appauthor=False))


class KeyringUnavailable(Exception):
    """No usable OS keyring (e.g. a headless Linux session)."""

    reason = "keyring_unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "This computer has no password store (OS keyring) Web2Text can use, so the staff "
            "key cannot be saved. Start a desktop session with a keyring (GNOME Keyring, "
            "KWallet, macOS Keychain, Windows Credential Manager), or set the W2T_TOKEN "
            "environment variable to the key for this session." + (f" ({detail})" if detail else "")
        )


class Profile(NamedTuple):
    """One staff member on this PC.

    A NamedTuple: creating a dataclass costs ~1 ms of start-up, this a fifth of it.
    """

    staff_id: str
    staff_name: str
    relay_url: str
    retailer_id: str = ""

    @property
    def key_user(self) -> str:
        return f"{self.relay_url}|{self.staff_id}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.staff_id) or "staff"


class Secrets:
    """Staff keys in the OS keyring; an in-session fallback keeps `W2T_TOKEN` usable.

    A keyring in trouble (locked, missing, wiped, a backend that fails its own way) is
    never an error here: a key that cannot be read is a key to ask for again
    (`problem` says why), one that cannot be saved is kept for the session."""

    def __init__(self) -> None:
        self._session: dict[str, str] = {}
        #: why the last `get` could not read the keyring (None: it could)
        self.problem: str | None = None

    @staticmethod
    def available() -> bool:
        import keyring

        backend = keyring.get_keyring()
        return getattr(backend, "priority", 0) > 0 and "fail" not in type(backend).__module__

    def get(self, profile: Profile) -> str | None:
        if profile.key_user in self._session:
            return self._session[profile.key_user]
        import keyring  # imported on use: backend discovery is slow, keep it off start-up

        self.problem = None
        try:
            return keyring.get_password(KEYRING_SERVICE, profile.key_user)
        except Exception as exc:  # locked, no backend, or a backend's own error (D-Bus)
            log.warning("keyring read failed: %s", type(exc).__name__)
            self.problem = type(exc).__name__
            return None

    def put(self, profile: Profile, key: str) -> None:
        """Save the key in the keyring; raises KeyringUnavailable if there is none."""
        import keyring
        import keyring.errors

        try:
            keyring.set_password(KEYRING_SERVICE, profile.key_user, key)
        except keyring.errors.NoKeyringError as exc:
            raise KeyringUnavailable() from exc
        except Exception as exc:  # locked, or a backend's own error
            raise KeyringUnavailable(type(exc).__name__) from exc
        self._session.pop(profile.key_user, None)

    def remember_for_session(self, profile: Profile, key: str) -> None:
        self._session[profile.key_user] = key

    def delete(self, profile: Profile) -> None:
        self._session.pop(profile.key_user, None)
        import keyring
        import keyring.errors

        with contextlib.suppress(Exception):  # (a locked or broken keyring)
            keyring.delete_password(KEYRING_SERVICE, profile.key_user)


class ProfileStore:
    """`profiles.json` in the data folder: the profiles and which one was used last."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "profiles.json"

    def load(self) -> tuple[list[Profile], str | None]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return [], None
        profiles = []
        for item in raw.get("profiles", []):
            try:
                profiles.append(Profile(**{k: str(v) for k, v in item.items()}))
            except TypeError:
                continue
        return profiles, raw.get("last")

    def profiles(self) -> list[Profile]:
        return self.load()[0]

    def last_used(self) -> Profile | None:
        profiles, last = self.load()
        for p in profiles:
            if p.key_user == last:
                return p
        return profiles[0] if profiles else None

    def save(self, profile: Profile, make_last: bool = True) -> None:
        profiles, last = self.load()
        profiles = [p for p in profiles if p.key_user != profile.key_user] + [profile]
        if make_last:
            last = profile.key_user
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"profiles": [p._asdict() for p in profiles], "last": last}, indent=2),
            encoding="utf-8",
        )
        os.replace(tmp, self.path)

    def remove(self, profile: Profile) -> None:
        profiles, last = self.load()
        profiles = [p for p in profiles if p.key_user != profile.key_user]
        if last == profile.key_user:
            last = profiles[0].key_user if profiles else None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            json.dumps({"profiles": [p._asdict() for p in profiles], "last": last}, indent=2),
            encoding="utf-8",
        )

    def engine_dir(self, profile: Profile) -> Path:
        """Each staff member's own local store (kiosks hold several)."""
        return self.data_dir / "profiles" / profile.slug
