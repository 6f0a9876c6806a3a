"""Who the app runs as, and with which key.

A start finds its staff member in one of four ways: the demo's (`--demo`), a key from
the environment (`--relay-url` with `W2T_TOKEN`: provisioning a PC without typing),
the last profile with its key from the keyring, or the sign-in dialog. Each ends in
a saved profile and its key (in the keyring, or kept for the session); the app then
starts that staff member's engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.ui.demo_host import DemoHost
from app.ui.profiles import KeyringUnavailable, Profile, ProfileStore, Secrets

if TYPE_CHECKING:
    import asyncio

    from app.sync.api import Me
    from app.ui.mainwindow import MainWindow
    from app.ui.signin import SignInDialog

log = logging.getLogger(__name__)

#: a staff member and their key
Who = tuple[Profile, str]


class SignIn:
    def __init__(
        self,
        *,
        data_dir: Path,
        relay_url: str | None,
        env: Mapping[str, str],
        secrets: Secrets,
        window: MainWindow,
        quit_event: Callable[[], asyncio.Event],
        preload_engine: Callable[[], None],
    ) -> None:
        """`quit_event`: set when the app ends (a dialog then closes unanswered);
        `preload_engine`: starts the engine's imports (they overlap a keyring lookup)."""
        self.profiles = ProfileStore(data_dir)
        self._data_dir = data_dir
        self._relay_url = relay_url
        self._token = env.get("W2T_TOKEN", "").strip()
        self._secrets = secrets
        self._window = window
        self._quit_event = quit_event
        self._preload_engine = preload_engine
        self.dialog: SignInDialog | None = None  # while the sign-in dialog is open

    async def first(self) -> Who | None:
        """The staff member a start runs as (None: nobody signed in)."""
        if self._relay_url and self._token:
            return await self.from_environment(self._relay_url, self._token)
        last = self.profiles.last_used()
        if self._relay_url and (last is None or last.relay_url != self._relay_url.rstrip("/")):
            return await self.ask(relay_url=self._relay_url)
        if last is None:
            return await self.ask()
        refused = _insecure(last.relay_url)
        if refused:  # saved by an older version: the key is never sent in clear
            return await self.ask(relay_url=last.relay_url, note=refused)
        # the keyring lookup and the engine's imports overlap (both off this thread)
        self._preload_engine()
        key = await self._stored_key(last) or self._token or None
        if key:
            return last, key
        # the keyring is locked, missing or wiped: ask again; this staff member's queued
        # messages and data stay on this PC and go out once they are signed in
        return await self.ask(relay_url=last.relay_url, note=self._why_sign_in(last))

    def _why_sign_in(self, profile: Profile) -> str:
        problem = self._secrets.problem
        if problem == "KeyringLocked":
            why = "this computer's keyring is locked"
        elif problem == "NoKeyringError":
            why = "this computer has no keyring to keep the key in"
        elif problem:
            why = f"this computer's keyring could not be read ({problem})"
        else:
            why = "the key is not in this computer's keyring"
        return (f"Sign in again as {profile.staff_name}: {why}. Messages waiting on this PC "
                "are kept and go out once you are signed in.")

    async def from_demo(self, demo: DemoHost) -> Who:
        """The demo's staff member: its profiles live in the demo's folder, its key only
        for the session (demo keys die with the demo)."""
        from app.ui.signin import check_key

        # the engine's imports overlap the demo's start (both off this thread; the
        # demo's servers spend much of it waiting on each other's sockets)
        self._preload_engine()
        # the demo resets its folder: kept apart from real profiles
        relay_url, key, data_dir = await demo.start(self._data_dir / "demo")
        info = await check_key(relay_url, key)
        self.profiles = ProfileStore(Path(data_dir))
        profile = self._save_profile(relay_url, info)
        self._secrets.remember_for_session(profile, key)
        return profile, key

    async def from_environment(self, relay_url: str, key: str) -> Who | None:
        """A key handed over by the environment: checked, then moved into the keyring."""
        # (sign-in is imported when a start needs it: not on the first frame's path)
        from app.ui.signin import SignInError, check_key, normalize_relay_url

        try:
            info = await check_key(relay_url, key)
        except SignInError as exc:
            return await self.ask(note=exc.message, relay_url=relay_url)
        profile = self._save_profile(normalize_relay_url(relay_url), info)
        await self.store_key(profile, key)
        return profile, key

    async def switch_to(self, profile: Profile) -> Who | None:
        """Another saved staff member (the kiosk's staff switch)."""
        key = await self._stored_key(profile)
        if not key:
            note = f"Sign in as {profile.staff_name}."
            return await self.ask(relay_url=profile.relay_url, note=note)
        self.profiles.save(profile)
        return profile, key

    async def ask(self, *, relay_url: str = "", note: str = "") -> Who | None:
        """The sign-in dialog; None when it is cancelled or the app quits meanwhile."""
        if self._window.engine is None:
            # nobody is signed in: the stored inbox of the last profile does not stay on
            # screen behind the sign-in dialog
            self._window.leads_model.set_engine(None)
        answer = await self._dialog_answer(relay_url, note)
        if answer is None:
            return None
        url, key, info = answer
        profile = self._save_profile(url, info)
        await self.store_key(profile, key)
        return profile, key

    async def _dialog_answer(
        self, relay_url: str, note: str
    ) -> tuple[str, str, Me] | None:
        import asyncio

        from app.ui.signin import SignInDialog

        done: asyncio.Future[tuple[str, str, Me] | None] = (
            asyncio.get_running_loop().create_future()
        )
        dlg = self.dialog = SignInDialog(self._window, relay_url=relay_url, note=note)

        def answer(result: tuple[str, str, Me] | None) -> None:
            if not done.done():
                done.set_result(result)

        dlg.signedIn.connect(lambda url, key, info: answer((url, key, info)))
        dlg.rejected.connect(lambda: answer(None))
        dlg.open()
        quit_wait: asyncio.Future[bool] = asyncio.ensure_future(self._quit_event().wait())
        try:
            waiters: list[asyncio.Future[Any]] = [done, quit_wait]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            quit_wait.cancel()
            self.dialog = None
            if not (done.done() and done.result() is not None):
                dlg.reject()  # cancelled, or the app quits (which may cut the start short)
        return done.result() if done.done() else None

    def _save_profile(self, relay_url: str, info: Me) -> Profile:
        profile = Profile(info.staff_id, info.name, relay_url, info.retailer_id)
        try:
            self.profiles.save(profile)
        except OSError as exc:  # a full or read-only data folder: the engine says so too
            log.warning("could not save the profile list: %s", exc)
        return profile

    async def _stored_key(self, profile: Profile) -> str | None:
        import asyncio

        # keyring backends talk D-Bus / the OS store synchronously: off the Qt thread
        key: str | None = await asyncio.to_thread(self._secrets.get, profile)
        return key

    async def store_key(self, profile: Profile, key: str) -> None:
        """Into the OS keyring; without one, for this session (and the user is told)."""
        import asyncio

        try:
            await asyncio.to_thread(self._secrets.put, profile, key)
        except KeyringUnavailable as exc:
            self._secrets.remember_for_session(profile, key)
            self._window.show_notice("Key not saved", str(exc), None, None)


def _insecure(relay_url: str) -> str | None:
    """Why a saved profile's relay must not get its key (plain http to another host)."""
    from app.core.relay_url import InsecureRelayUrl, check_relay_url

    try:
        check_relay_url(relay_url)
    except InsecureRelayUrl:
        return "The relay address must start with https:// (keys are never sent unencrypted)."
    return None
