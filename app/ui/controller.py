"""The application controller: profiles, sign-in, engine lifecycle, tray, kiosk, quitting."""

from __future__ import annotations

import contextlib
import gc
import importlib
import inspect
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from app.sync.api import (
    ChangesApplied,
    Engine,
    InboundMessages,
    SyncState,
    SyncStatus,
)
from app.ui.bridge import EngineBridge
from app.ui.mainwindow import MainWindow
from app.ui.profiles import KeyringUnavailable, Profile, ProfileStore, Secrets
from app.ui.settings import Settings
from app.ui.startup import StoredFirstPage, remove_old_snapshots
from app.ui.tasks import Tasks
from app.ui.tray import TrayController

if TYPE_CHECKING:
    import asyncio

    from app.ui.kiosk import IdleWatcher, LockScreen
    from app.ui.notify_policy import NotificationPolicy
    from app.ui.signin import SignInDialog, StaffInfo

log = logging.getLogger(__name__)

#: how long the window waits for the stored first page of the inbox before it shows
#: without rows (the engine fills them in a moment later)
FIRST_PAGE_WAIT_S = 0.5
#: how long the first frame waits for the window's paint before the app goes on (the
#: asyncio loop, the engine's imports and start) without it
FIRST_PAINT_WAIT_S = 0.5

EngineFactory = Callable[[Profile, str, Path], Engine]


def default_engine_factory(profile: Profile, key: str, data_dir: Path) -> Engine:
    from app.sync.engine import SyncEngine
    from app.ui.engine_host import ThreadedEngine

    # the engine's network and stream parsing run on a thread of their own, not on the
    # Qt thread (engine_host.py)
    return ThreadedEngine(SyncEngine(data_dir=data_dir, relay_url=profile.relay_url, token=key))


class Options(NamedTuple):
    """How the app was started.

    A NamedTuple: creating a dataclass costs ~1 ms of start-up, this a fifth of it.
    """

    data_dir: Path
    kiosk: bool = False
    demo: bool = False
    relay_url: str | None = None
    quit_after: float | None = None


class DemoUnavailable(Exception):
    pass


class AppController(QObject):
    engineStarted = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        app: QApplication,
        options: Options,
        *,
        engine_factory: EngineFactory | None = None,
        secrets: Secrets | None = None,
        tray_available: bool | None = None,
        env: Mapping[str, str] | None = None,
        stored_first_page: StoredFirstPage | None = None,
    ) -> None:
        super().__init__()
        self.app = app
        self.options = options
        self.env = dict(os.environ if env is None else env)
        self.engine_factory = engine_factory or default_engine_factory
        self.secrets = secrets or Secrets()
        self.profiles = ProfileStore(options.data_dir)
        self.settings_path = options.data_dir / "settings.json"
        self.settings = Settings.load(self.settings_path)
        self.tasks = Tasks("controller")
        self.policy: NotificationPolicy | None = None  # one per engine start
        # the tray icon is drawn once the inbox's first page is in (after_first_rows)
        self.tray = TrayController(self, available=tray_available, deferred=True)
        self.window = MainWindow(kiosk=options.kiosk, tray_available=self.tray.available)
        self.window.set_templates(self.settings.templates)
        self._lock_screen: LockScreen | None = None
        self._after_rows_done = False
        self._gc_frozen = False
        self._stored = stored_first_page
        self._first_frame_shown = False
        self._painted = False  # the window has painted
        self._paint_wait: QEventLoop | None = None  # show_first_frame's, while it waits
        self._paint_probe = _FirstPaint(self._on_first_paint)
        self.window.installEventFilter(self._paint_probe)
        self._engine_import: asyncio.Future[Any] | None = None
        self._unread_after_rows = False
        self._after_rows_timer = QTimer(self)
        self._after_rows_timer.setSingleShot(True)
        self._after_rows_timer.setInterval(3000)
        self._after_rows_timer.timeout.connect(self.after_first_rows)
        self.window.leads_model.loaded.connect(self._on_leads_loaded)
        self.idle: IdleWatcher | None = None
        self.engine: Engine | None = None
        self.bridge: EngineBridge | None = None
        self.profile: Profile | None = None
        self.signin: SignInDialog | None = None
        # a quit can be asked for before the asyncio loop exists (the window closed during
        # the first frame): a flag until then, the event once something waits on it
        self._quit_requested = False
        self._quit_event: asyncio.Event | None = None
        self._start: asyncio.Future[bool] | None = None  # run()'s first start, while under way
        self._start_cut = False  # quit() has cancelled it
        self._demo_module: object | None = None
        self._unread_timer = QTimer(self)
        self._unread_timer.setSingleShot(True)
        self._unread_timer.setInterval(200)
        self._unread_timer.timeout.connect(lambda: self.tasks.spawn(self._refresh_unread()))

        app.setQuitOnLastWindowClosed(False)
        self.tray.openRequested.connect(self.show_window)
        self.tray.conversationRequested.connect(self.window.open_conversation)
        self.tray.quitRequested.connect(self.quit)
        self.window.settingsRequested.connect(self.open_settings)
        self.window.switchStaffRequested.connect(self.lock)
        self.window.lockRequested.connect(self.lock)
        self.window.destroyed.connect(lambda *_: self.quit())
        # from the start, not only once the loop runs: a window closed during the first
        # frame or while the engine starts must end the app or leave the tray, as later
        self.window.closedWithoutTray.connect(self.quit)
        self.window.closeToTray.connect(self.tray.show_icon)

    @property
    def lock_screen(self) -> LockScreen:
        """Kiosk lock / staff switch screen, built on first use."""
        if self._lock_screen is None:
            from app.ui.kiosk import LockScreen

            self._lock_screen = LockScreen(self.window)
            self._lock_screen.staffChosen.connect(self._on_staff_chosen)
            self._lock_screen.addStaffRequested.connect(lambda: self._ask_sign_in(switch=True))
        return self._lock_screen

    def _locked(self) -> bool:
        return self._lock_screen is not None and self._lock_screen.isVisible()

    # ------------------------------------------------------------------ run / quit

    def show_first_frame(self) -> None:
        """Show the window with the inbox's stored rows and let it paint, before anything
        of the engine: the app's one first-frame path (once; later calls do nothing).

        `main.run` calls it before the asyncio loop exists (qasync, the loop and the
        engine come after the first frame); `run()` calls it too, for starts on a loop
        that already runs (the tests). Blocks for at most FIRST_PAGE_WAIT_S for the rows
        and FIRST_PAINT_WAIT_S for the paint, which it waits for in a local Qt event loop
        that takes no input: so not from inside an asyncio task (that loop would run
        other tasks' steps inside it).
        """
        if self._first_frame_shown:
            return
        self._first_frame_shown = True
        stored = self._stored or self._stored_first_page()
        # before the window maps, so that its first frame has the rows (bounded: a busy
        # disk cannot hold the window back)
        page = stored.result(FIRST_PAGE_WAIT_S)
        if page is not None:
            self.window.show_cached_inbox(*page)
        self.show_window()
        if not self._painted:
            # the engine's imports and queries would only share the interpreter with the
            # paint and delay it; nothing here needs asyncio
            wait = self._paint_wait = QEventLoop()
            QTimer.singleShot(int(FIRST_PAINT_WAIT_S * 1000), wait, wait.quit)
            wait.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            self._paint_wait = None
        # what the paint left queued (its own follow-ups) finishes with the frame
        self.app.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def _on_first_paint(self) -> None:
        self._painted = True
        wait = self._paint_wait
        if wait is not None:  # once the paint is through, not in the middle of it
            QTimer.singleShot(0, wait, wait.quit)

    @property
    def _quit(self) -> asyncio.Event:
        """Set when the app should end (made on first use: asyncio is not imported
        before the first frame)."""
        if self._quit_event is None:
            import asyncio

            self._quit_event = asyncio.Event()
            if self._quit_requested:
                self._quit_event.set()
        return self._quit_event

    def run(self) -> Coroutine[Any, Any, int]:
        """The app, as a coroutine for the asyncio loop (`loop.run_until_complete(
        controller.run())`), that returns the exit code once the app has quit.

        Shows the first frame first, unless `main.run` already did: not itself a
        coroutine function, because that waits in a local Qt event loop, which must run
        where run() is called rather than inside the loop's task."""
        self.show_first_frame()
        return self._run()

    async def _run(self) -> int:
        import asyncio

        if self.options.quit_after is not None:
            # an installer's smoke test, there to prove that the app starts: a start under
            # way is finished before it quits (a sign-in dialog still closes)
            QTimer.singleShot(
                int(self.options.quit_after * 1000), lambda: self.quit(cut_start=False)
            )
        # icons and preloads wait for the first rows (they would only compete with the
        # engine's start for the interpreter), or 3 s at most (no profile yet, sign-in)
        self._after_rows_timer.start()
        # the start (keyring, the engine's imports and start, the demo) can take seconds: a
        # quit meanwhile (the window closed with no tray to live in, Ctrl+C) cuts it short
        # (see quit) instead of ending the app only once the engine is up
        start = self._start = asyncio.ensure_future(self._first_start())
        if self._quit_requested:  # the window was closed during the first frame
            start.cancel()
        try:
            await asyncio.wait([start])
        finally:
            self._start = None
            start.cancel()  # (done already, unless run() itself is cancelled)
        if not start.cancelled():
            try:
                started = start.result()
            except DemoUnavailable as exc:
                self.failed.emit(str(exc))
                await self.shutdown()
                raise
            if not started and not self._quit_requested:
                # nobody signed in (dialog cancelled): nothing to show
                self.quit()
        if self.options.kiosk and not self._quit_requested:
            from app.ui.kiosk import IdleWatcher

            self.idle = IdleWatcher(self.app, self.settings.idle_lock_minutes, self)
            self.idle.idle.connect(self.lock)
        await self._quit.wait()
        await self.shutdown()
        return 0

    def quit(self, *, cut_start: bool = True) -> None:
        """End the app. A start still under way is cut short, and what it had started
        stopped (start_engine), unless `cut_start` is false; a sign-in dialog closes."""
        self._quit_requested = True
        if self._quit_event is not None:
            self._quit_event.set()
        start = self._start
        # once: a second quit (Ctrl+C after closing, Quit clicked twice) must not cancel
        # the cut start's own clean-up (stopping its engine, waiting for the demo)
        if cut_start and start is not None and not self._start_cut:
            self._start_cut = True
            start.cancel()

    async def shutdown(self) -> None:
        """Stop everything in order; bounded so a stuck peer cannot hang the exit."""
        import asyncio

        self.window.quitting = True
        self._after_rows_timer.stop()
        self._unread_timer.stop()
        if self.idle is not None:
            self.idle.stop()
        if self.signin is not None:
            self.signin.reject()
        await self._stop_engine()
        await self.window.tasks.cancel_all()
        await self.tasks.cancel_all()
        stop = getattr(self._demo_module, "stop_demo", None)
        if callable(stop):
            with contextlib.suppress(Exception):
                if inspect.iscoroutinefunction(stop):
                    await asyncio.wait_for(stop(), 10)
                else:  # stopping servers blocks: not on the Qt thread
                    await asyncio.wait_for(asyncio.to_thread(stop), 15)
        self.tray.hide()
        self.window.close()
        if self._gc_frozen:  # the app is ending: hand those objects back to the collector
            gc.unfreeze()
            self._gc_frozen = False

    def show_window(self) -> None:
        if self.options.kiosk:
            self.window.showFullScreen()
        else:
            self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    # ------------------------------------------------------------------ profiles

    async def _first_start(self) -> bool:
        import asyncio

        # (sign-in is imported when a start needs it: not on the first frame's path)
        from app.ui.signin import SignInError, check_key

        opts = self.options
        if opts.demo:
            self.window.set_demo(True)
            relay_url, key, data_dir = await self._start_demo()
            info = await check_key(relay_url, key)
            profile = Profile(info.staff_id, info.name, relay_url, info.retailer_id)
            self.profiles = ProfileStore(Path(data_dir))
            self.profiles.save(profile)
            self.secrets.remember_for_session(profile, key)  # demo keys die with the demo
            await self.start_engine(profile, key)
            return True
        token = self.env.get("W2T_TOKEN", "").strip()
        if opts.relay_url and token:
            try:
                info = await check_key(opts.relay_url, token)
            except SignInError as exc:
                return await self._ask_sign_in(note=exc.message, relay_url=opts.relay_url)
            from app.ui.signin import normalize_relay_url

            profile = self._profile_from(normalize_relay_url(opts.relay_url), info)
            await self._store_key(profile, token)
            await self.start_engine(profile, token)
            return True
        last = self.profiles.last_used()
        if opts.relay_url and (last is None or last.relay_url != opts.relay_url.rstrip("/")):
            return await self._ask_sign_in(relay_url=opts.relay_url)
        if last is not None:
            # the keyring lookup and the engine's imports overlap (both off this thread)
            self._preload_engine()
            stored: str | None = await asyncio.to_thread(self.secrets.get, last)
            chosen = stored or token or None
            if chosen:
                await self.start_engine(last, chosen)
                return True
            return await self._ask_sign_in(
                relay_url=last.relay_url,
                note=f"Sign in again as {last.staff_name}: the key "
                "is not in this computer's keyring.",
            )
        return await self._ask_sign_in()

    def _profile_from(self, relay_url: str, info: StaffInfo) -> Profile:
        profile = Profile(info.staff_id, info.name, relay_url, info.retailer_id)
        self.profiles.save(profile)
        return profile

    async def _store_key(self, profile: Profile, key: str) -> None:
        import asyncio

        # keyring backends talk D-Bus / the OS store synchronously: off the Qt thread
        try:
            await asyncio.to_thread(self.secrets.put, profile, key)
        except KeyringUnavailable as exc:
            self.secrets.remember_for_session(profile, key)
            self.window.show_notice("Key not saved", str(exc), None, None)

    async def _ask_sign_in(
        self, *, relay_url: str = "", note: str = "", switch: bool = False
    ) -> bool:
        import asyncio

        if self.engine is None:
            # nobody is signed in: the stored inbox of the last profile does not stay on
            # screen behind the sign-in dialog
            self.window.leads_model.set_engine(None)
        from app.ui.signin import SignInDialog

        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[str, str, StaffInfo] | None] = loop.create_future()
        dlg = SignInDialog(
            self.window,
            relay_url=relay_url or (self.profile.relay_url if self.profile else ""),
            note=note,
        )
        self.signin = dlg

        def ok(url: str, key: str, info: StaffInfo) -> None:
            if not done.done():
                done.set_result((url, key, info))

        def cancelled() -> None:
            if not done.done():
                done.set_result(None)

        dlg.signedIn.connect(ok)
        dlg.rejected.connect(cancelled)
        dlg.open()
        quit_wait: asyncio.Future[bool] = asyncio.ensure_future(self._quit.wait())
        signed_in = False
        try:
            waiters: list[asyncio.Future[Any]] = [done, quit_wait]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            signed_in = done.done() and done.result() is not None
        finally:
            quit_wait.cancel()
            self.signin = None
            if not signed_in:  # cancelled, or the app quits (which may cut the start short)
                dlg.reject()
        if not signed_in:
            return False
        url, key, info = done.result()  # type: ignore[misc]
        profile = self._profile_from(url, info)
        await self._store_key(profile, key)
        await self.start_engine(profile, key)
        self.lock_screen.hide()
        return True

    async def _start_demo(self) -> tuple[str, str, str]:
        import asyncio

        try:
            demo = importlib.import_module("app.sandbox.demo")
        except ImportError as exc:
            raise DemoUnavailable(
                "The demo is not part of this build (app.sandbox.demo is missing). "
                "Run without --demo, or install the full source checkout."
            ) from exc
        self._demo_module = demo
        start = demo.start_demo
        # the demo resets its folder: keep it apart from real profiles
        folder = self.options.data_dir / "demo"
        if inspect.iscoroutinefunction(start):
            result = await start(folder)
        else:  # blocking (servers start, data is seeded): off the Qt thread
            starting = asyncio.ensure_future(asyncio.to_thread(start, folder))
            try:
                result = await asyncio.shield(starting)
            except asyncio.CancelledError:
                # the app quits meanwhile: the thread cannot be interrupted, so it finishes
                # first; stop_demo (shutdown) then stops what it started rather than
                # leaving its servers running in a process without a window
                await asyncio.wait([starting])
                raise
        relay_url, key, data_dir = result
        return str(relay_url), str(key), str(data_dir)

    # ------------------------------------------------------------------ engine

    async def start_engine(self, profile: Profile, key: str) -> None:

        await self._stop_engine()
        if self.engine_factory is default_engine_factory:
            self._preload_engine()
            assert self._engine_import is not None
            # the rest of the window is built while the engine's modules import
            self.window.finish_build()
            await self._engine_import
        engine = self.engine_factory(profile, key, self.profiles.engine_dir(profile))
        bridge = EngineBridge(self)
        engine.add_listener(bridge)
        bridge.inboundMessages.connect(self._on_inbound)
        bridge.statusChanged.connect(self._on_status)
        bridge.changesApplied.connect(self._on_changes)
        try:
            await engine.start()
        except BaseException:
            # cancelled (the app quit while it started) or failed: whatever it opened is
            # closed, as a started engine's would be at quit
            await self._close_engine(engine, bridge)
            raise
        self.engine, self.bridge, self.profile = engine, bridge, profile
        from app.ui.notify_policy import NotificationPolicy

        self.policy = NotificationPolicy()
        self._unread_after_rows = True  # the tray count follows the inbox's first page
        self.window.set_engine(engine, bridge)
        self._on_status(engine.status())
        self.engineStarted.emit(engine)

    async def _stop_engine(self) -> None:

        engine, bridge = self.engine, self.bridge
        self.engine = self.bridge = None
        if engine is None:
            return
        self.window.set_engine(None, None)
        await self._close_engine(engine, bridge)

    async def _close_engine(self, engine: Engine, bridge: EngineBridge | None) -> None:
        """Detach `bridge` and stop `engine`, bounded; shielded, so that a cancel of
        the caller (a quit) cannot leave the engine half stopped."""
        import asyncio

        if bridge is not None:
            engine.remove_listener(bridge)
            bridge.deleteLater()
        try:
            await asyncio.shield(asyncio.wait_for(engine.stop(), timeout=10))
        except (TimeoutError, Exception):
            log.exception("engine did not stop cleanly")

    # ------------------------------------------------------------------ events

    def _on_status(self, status: SyncStatus) -> None:
        if status.state is SyncState.ONLINE and self.policy is not None:
            self.policy.catch_up_finished()

    def _on_changes(self, _ev: ChangesApplied) -> None:
        if not self._unread_timer.isActive():
            self._unread_timer.start()

    def _on_inbound(self, batch: InboundMessages) -> None:
        if self.policy is None:  # (events come from a started engine, which made one)
            return
        focused = self.window.isVisible() and self.window.isActiveWindow() and not self._locked()
        for n in self.policy.decide(batch, self.window.open_conversation_sid, focused):
            if self.tray.available:
                self.tray.notify(n)
            else:
                self.tray.shown.append(n)
                self.window.show_notice(n.title, n.body, n.conversation_sid, n.lead_id)

    async def _refresh_unread(self) -> None:
        self.after_first_rows()  # the tray icon exists before it shows a count
        if self.engine is None:
            return
        rows = await self.engine.list_locations()
        self.tray.set_unread(sum(r.unread for r in rows))

    # ------------------------------------------------------------------ start-up order

    def _preload_engine(self) -> None:
        """Import the engine's stack (SQLAlchemy, httpx: a few hundred ms) on a worker
        thread, once, so the window keeps painting meanwhile."""
        import asyncio

        if self._engine_import is None and self.engine_factory is default_engine_factory:
            self._engine_import = asyncio.ensure_future(
                asyncio.to_thread(importlib.import_module, "app.sync.engine")
            )

    def _stored_first_page(self) -> StoredFirstPage:
        return StoredFirstPage.for_start(
            self.options.data_dir, demo=self.options.demo, relay_url=self.options.relay_url
        )

    def _on_leads_loaded(self) -> None:
        if self._unread_after_rows:
            self._unread_after_rows = False
            self._unread_timer.start()
            QTimer.singleShot(0, self, self.after_first_rows)
            if self.engine_factory is default_engine_factory:  # the app, not a test's fake
                _freeze_startup_objects()
                self._gc_frozen = True

    def after_first_rows(self) -> None:
        """What the first frame does without: window and tray icons (SVG renders), and
        modules a row, the composer or the quiet-hours check will soon need."""
        import asyncio

        if self._after_rows_done or self._quit_requested:
            return
        self._after_rows_done = True
        self._after_rows_timer.stop()
        from app.ui.resources import app_icon

        icon = app_icon()
        self.app.setWindowIcon(icon)
        self.window.setWindowIcon(icon)
        self.tray.show_icon()
        # shortcuts and the panes not in the first frame, whether or not an engine
        # starts (sign-in first, a failed start): the keyboard works from here on
        self.window.finish_build()
        # modules the first paint did not need but a row, the composer or the quiet-hours
        # check soon will (phonenumbers alone is ~40 ms): imported now, off this thread,
        # rather than in the middle of painting a row
        self.tasks.spawn(asyncio.to_thread(_preload, "app.ui.quiet", "app.core.phones"))
        # an earlier build's copies of the inbox, left in the data folder
        self.tasks.spawn(asyncio.to_thread(remove_old_snapshots, self.options.data_dir))

    # ------------------------------------------------------------------ settings / kiosk

    def open_settings(self) -> None:
        from app.ui.settings_dialog import SettingsDialog

        dlg = SettingsDialog(self.settings, self.window)
        dlg.saved.connect(self._settings_saved)
        dlg.open()

    def _settings_saved(self, settings: Settings) -> None:
        self.settings = settings
        settings.save(self.settings_path)
        self.window.set_templates(settings.templates)
        if self.idle is not None:
            self.idle.set_minutes(settings.idle_lock_minutes)

    def lock(self) -> None:
        self.lock_screen.set_profiles(self.profiles.profiles(), self.profile)
        self.lock_screen.lock()

    def _on_staff_chosen(self, profile: Profile) -> None:
        if self.profile is not None and profile.key_user == self.profile.key_user and self.engine:
            self.lock_screen.hide()
            return
        self.tasks.spawn(self._switch(profile))

    async def _switch(self, profile: Profile) -> None:
        import asyncio

        key = await asyncio.to_thread(self.secrets.get, profile)
        if not key:
            await self._ask_sign_in(
                relay_url=profile.relay_url, switch=True, note=f"Sign in as {profile.staff_name}."
            )
            return
        self.profiles.save(profile)
        await self.start_engine(profile, key)
        self.lock_screen.hide()


def _freeze_startup_objects() -> None:
    """Exempt what start-up built (Qt bindings, SQLAlchemy, the engine, the window: a
    few hundred thousand objects) from the cyclic garbage collector.

    A full collection walks every tracked object and stops every Python thread while it
    runs: with those objects it took 0.2-0.3 s, triggered by whichever thread allocates
    (the engine's, while a burst of changes streams in), and froze the window for that
    long. Frozen objects are never collected again: they live as long as the app anyway.
    A young-generation pass first, so that fresh garbage is not frozen with them.
    """
    gc.collect(1)
    gc.freeze()


def _preload(*modules: str) -> None:
    for name in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


class _FirstPaint(QObject):
    """Calls `on_paint` when the watched window first paints."""

    def __init__(self, on_paint: Callable[[], None]) -> None:
        super().__init__()
        self._on_paint: Callable[[], None] | None = on_paint

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.Paint and self._on_paint is not None:
            on_paint, self._on_paint = self._on_paint, None
            obj.removeEventFilter(self)
            on_paint()
        return False
