"""The application controller: profiles, sign-in, engine lifecycle, tray, kiosk, quitting."""

from __future__ import annotations

import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from app.sync.api import Engine
from app.ui import placement
from app.ui.bridge import EngineBridge
from app.ui.demo_host import DemoHost, DemoUnavailable
from app.ui.engine_lifecycle import (
    EngineFactory,
    EngineImport,
    close_engine,
    default_engine_factory,
    open_engine_patiently,
)
from app.ui.escalation import Escalations
from app.ui.first_frame import AfterFirstRows, FirstFrame, freeze_startup_objects
from app.ui.mainwindow import MainWindow
from app.ui.notifier import Notifier
from app.ui.profiles import Profile, ProfileStore, Secrets
from app.ui.settings import Settings
from app.ui.sign_in_flow import SignIn, Who
from app.ui.startup import StoredFirstPage
from app.ui.tasks import Tasks
from app.ui.tray import TrayController

if TYPE_CHECKING:
    import asyncio

    from app.ui.kiosk import IdleWatcher, LockScreen
    from app.ui.kiosk_pin import PinGate
    from app.ui.notify_policy import NotificationPolicy
    from app.ui.sign_out import SignOutChoice, SignOutDialog
    from app.ui.signin import SignInDialog

__all__ = ["AppController", "DemoUnavailable", "Options", "default_engine_factory"]


class Options(NamedTuple):
    """How the app was started.

    A NamedTuple: creating a dataclass costs more start-up than this.
    """

    data_dir: Path
    kiosk: bool = False
    demo: bool = False
    relay_url: str | None = None
    quit_after: float | None = None


class AppController(QObject):
    """The app: the window, the tray, who is signed in and their engine, the order of
    start-up and of quitting."""

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
        self.settings_path = options.data_dir / "settings.json"
        self.settings = Settings.load(self.settings_path)
        self.tasks = Tasks("controller")
        self._build_window(options, tray_available)
        self._build_notifications(app, options)
        self._engine_import = EngineImport(self.engine_factory is default_engine_factory)
        self._first_frame = FirstFrame(app, self.window)
        self._stored = stored_first_page
        self._demo = DemoHost()
        self.idle: IdleWatcher | None = None
        self.engine: Engine | None = None
        self.bridge: EngineBridge | None = None
        self.profile: Profile | None = None
        self._lock_screen: LockScreen | None = None
        self.sign_out_dialog: SignOutDialog | None = None  # the last one opened
        self.pins: PinGate | None = None  # the PIN checks, made with the lock screen
        self._init_start_state()
        self.sign_in = self._make_sign_in(options)
        self._connect()

    def _build_window(self, options: Options, tray_available: bool | None) -> None:
        # the tray icon is drawn once the inbox's first page is in (after_first_rows)
        self.tray = TrayController(self, available=tray_available, deferred=True)
        self.window = MainWindow(kiosk=options.kiosk, tray_available=self.tray.available)
        self.window.set_templates(self.settings.templates)
        # on the screen it was on when it last closed, else sized from the screen's room
        self.placement_path = options.data_dir / placement.FILE_NAME
        self._placement = placement.restore(placement.load(self.placement_path))
        placement.apply(self.window, self._placement)
        self._placed = False  # shown once where _placement says
        self._last_place: placement.Placement | None = None  # when it was last hidden

    def _build_notifications(self, app: QApplication, options: Options) -> None:
        """Notifications, escalations, and what waits for the inbox's first rows."""
        self.notifier = Notifier(
            self.tray, self.window, locked=self._locked, before_count=self.after_first_rows,
            tasks=self.tasks, parent=self,
        )
        self.escalations = Escalations(self.notifier.show, self.tasks, self)
        self.escalations.dueCount.connect(self.window.sidebar.set_needs_reply_count)
        self._after_rows = AfterFirstRows(
            app, self.window, self.tray, finish_window=self.window.finish_build,
            data_dir=options.data_dir, tasks=self.tasks, parent=self,
        )

    def _make_sign_in(self, options: Options) -> SignIn:
        return SignIn(
            data_dir=options.data_dir,
            relay_url=options.relay_url,
            env=self.env,
            secrets=self.secrets,
            window=self.window,
            quit_event=lambda: self._quit,
            preload_engine=self._engine_import.start,
        )

    def _init_start_state(self) -> None:
        self._gc_frozen = False
        self._unread_after_rows = False
        # a quit can be asked for before the asyncio loop exists (the window closed during
        # the first frame): a flag until then, the event once something waits on it
        self._quit_requested = False
        self._quit_event: asyncio.Event | None = None
        self._start: asyncio.Future[bool] | None = None  # run()'s first start, while under way
        self._start_cut = False  # quit() has cancelled it

    def _connect(self) -> None:
        self.app.setQuitOnLastWindowClosed(False)
        w = self.window
        w.leads_model.loaded.connect(self._on_leads_loaded)
        self.tray.openRequested.connect(self.show_window)
        self.tray.conversationRequested.connect(w.open_conversation)
        self.tray.quitRequested.connect(self.quit)
        w.settingsRequested.connect(self.open_settings)
        w.switchStaffRequested.connect(self.lock)
        w.lockRequested.connect(self.lock)
        w.signOutRequested.connect(self.ask_sign_out)
        w.destroyed.connect(lambda *_: self.quit())
        # from the start, not only once the loop runs: a window closed during the first
        # frame or while the engine starts must end the app or leave the tray, as later
        w.closedWithoutTray.connect(self.quit)
        w.closeToTray.connect(self.tray.show_icon)
        w.closeToTray.connect(self._remember_placement)

    @property
    def policy(self) -> NotificationPolicy | None:
        """The running engine's notification policy."""
        return self.notifier.policy

    @property
    def lock_screen(self) -> LockScreen:
        """Kiosk lock / staff switch screen, built on first use."""
        if self._lock_screen is None:
            from app.ui.kiosk import LockScreen
            from app.ui.kiosk_pin import PinGate

            if self.pins is None:
                self.pins = PinGate(self.options.data_dir)
            self._lock_screen = LockScreen(self.window, self.pins, self.tasks)
            self._lock_screen.staffChosen.connect(self._on_staff_chosen)
            self._lock_screen.addStaffRequested.connect(lambda: self.tasks.spawn(self._add_staff()))
        return self._lock_screen

    def _locked(self) -> bool:
        return self._lock_screen is not None and self._lock_screen.isVisible()

    # ------------------------------------------------------------------ run / quit

    def show_first_frame(self) -> None:
        """Show the window with the inbox's stored rows and let it paint, before anything
        of the engine: the app's one first-frame path (once; later calls do nothing).

        `main.run` calls it before the asyncio loop exists (qasync, the loop and the
        engine come after the first frame); `run()` calls it too, for starts on a loop
        that already runs (the tests). See `FirstFrame.show`.
        """
        self._first_frame.show(
            lambda: self._stored or self._stored_first_page(),
            self.window.show_cached_inbox,
            self.show_window,
        )

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
        self._after_rows.start_waiting()
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
            except Exception as exc:  # a bug: to the log and the crash report, not a crash
                from app.ui import unexpected

                unexpected.report("start", exc)
                self.window.health.show_start_problem(
                    "Web2Text could not start; the details are in its log. Quit and start "
                    "it again, or contact support.")
                started = True  # the window stays, with the explanation
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
        self._after_rows.cancel()  # an app that ends needs no icons or preloads
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
        import gc

        self.window.quitting = True
        self._after_rows.cancel()
        self.notifier.stop()
        self.escalations.stop()
        if self.idle is not None:
            self.idle.stop()
        if self.sign_in.dialog is not None:
            self.sign_in.dialog.reject()
        await self._stop_engine()
        await self.window.tasks.cancel_all()
        await self.tasks.cancel_all()
        await self._demo.stop()
        await self._save_placement()
        self.tray.hide()
        self.window.close()
        if self._gc_frozen:  # the app is ending: hand those objects back to the collector
            gc.unfreeze()
            self._gc_frozen = False

    def show_window(self) -> None:
        if not self._placed:
            self._placed = True
            placement.show_placed(self.window, self._placement, full_screen=self.options.kiosk)
        elif self.options.kiosk:
            self.window.showFullScreen()
        else:
            self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def _remember_placement(self) -> None:
        """The window's screen and place as it is hidden (into the tray)."""
        self._last_place = placement.remember(self.window)

    async def _save_placement(self) -> None:
        """Where the window is (or was when last hidden), for the next start; written
        off the Qt thread."""
        import asyncio

        if self.window.isVisible():
            self._remember_placement()
        if self._last_place is not None:
            await asyncio.to_thread(placement.save, self.placement_path, self._last_place)

    # ------------------------------------------------------------------ who is signed in

    @property
    def profiles(self) -> ProfileStore:
        return self.sign_in.profiles

    @property
    def signin(self) -> SignInDialog | None:
        """The sign-in dialog, while it is open."""
        return self.sign_in.dialog

    async def _first_start(self) -> bool:
        if self.options.demo:
            self.window.set_demo(True)
            who: Who | None = await self.sign_in.from_demo(self._demo)
        else:
            who = await self.sign_in.first()
        if who is None:
            return False
        await self.start_engine(*who)
        self._unlock()
        return True

    async def _add_staff(self) -> None:
        current = self.profile.relay_url if self.profile else ""
        who = await self.sign_in.ask(relay_url=current)
        if who is not None:
            await self.start_engine(*who)
            self._unlock()

    # ------------------------------------------------------------------ engine

    async def start_engine(self, profile: Profile, key: str) -> None:
        """Stop the running engine (if any) and start `profile`'s; a cancel (the app
        quits meanwhile) stops what was started."""
        await self._stop_engine()
        if self.engine_factory is default_engine_factory:
            self._engine_import.start()
            # the rest of the window is built while the engine's modules import
            self.window.finish_build()
            await self._engine_import.wait()
        data_dir = self.profiles.engine_dir(profile)
        engine, bridge = await open_engine_patiently(
            self.engine_factory, profile, key, data_dir, self,
            self.window.health.show_start_problem)
        self.engine, self.bridge, self.profile = engine, bridge, profile
        self._unread_after_rows = True  # the tray count follows the inbox's first page
        self.notifier.set_engine(engine, bridge)
        self.window.set_engine(engine, bridge)
        self.escalations.set_engine(engine, bridge)
        self.engineStarted.emit(engine)

    async def _stop_engine(self) -> None:
        engine, bridge = self.engine, self.bridge
        self.engine = self.bridge = None
        if engine is None:
            return
        self.notifier.set_engine(None, None)
        self.escalations.set_engine(None, None)
        self.window.set_engine(None, None)
        await close_engine(engine, bridge)

    # ------------------------------------------------------------------ start-up order

    def _stored_first_page(self) -> StoredFirstPage:
        return StoredFirstPage.for_start(
            self.options.data_dir, demo=self.options.demo, relay_url=self.options.relay_url
        )

    def _on_leads_loaded(self) -> None:
        if self._unread_after_rows:
            self._unread_after_rows = False
            self.notifier.refresh_unread_soon()
            QTimer.singleShot(0, self, self.after_first_rows)
            if self.engine_factory is default_engine_factory:  # the app, not a test's fake
                freeze_startup_objects()
                self._gc_frozen = True

    def after_first_rows(self) -> None:
        """What the first frame did without (once; see AfterFirstRows)."""
        self._after_rows.run()

    # ------------------------------------------------------------------ settings / kiosk

    def open_settings(self) -> None:
        from app.ui.settings_dialog import SettingsDialog

        inbox = self.window.inbox
        targets = [
            (inbox.location_names.get(ident, ident), minutes)
            for ident, minutes in inbox.reply_targets.items()
        ]
        dlg = SettingsDialog(self.settings, self.window, reply_targets=targets)
        dlg.saved.connect(self._settings_saved)
        dlg.sharedTemplatesRequested.connect(lambda: self.window.open_shared_templates(dlg))
        dlg.open()
        dlg.activateWindow()  # the keyboard goes to it (Esc closes it)

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
            self._unlock()
            return
        self.tasks.spawn(self._switch(profile))

    async def _switch(self, profile: Profile) -> None:
        who = await self.sign_in.switch_to(profile)
        if who is not None:
            await self.start_engine(*who)
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_screen is not None:
            self._lock_screen.hide()

    # ------------------------------------------------------------------ sign out

    def ask_sign_out(self) -> None:
        """The confirmation (sign out; "forget this PC" as a second choice)."""
        from app.ui.sign_out import SignOutDialog

        if self.profile is None:
            return
        pending = self.engine.status().pending if self.engine is not None else 0
        dlg = self.sign_out_dialog = SignOutDialog(self.profile, self.window, pending=pending)
        dlg.confirmed.connect(lambda choice: self.tasks.spawn(self._sign_out(choice)))
        dlg.open()
        dlg.activateWindow()

    async def _sign_out(self, choice: SignOutChoice) -> None:
        """Stop the engine, remove the key (and with "forget", the profile's data), then
        another staff member: the lock screen's list, or the sign-in dialog."""
        from app.ui.kiosk_pin import PinGate
        from app.ui.sign_out import sign_out

        await self._stop_engine()
        self.profile = None
        if self.pins is None:
            self.pins = PinGate(self.options.data_dir)
        await sign_out(choice, self.profiles, self.secrets, self.pins)
        self.window.leads_model.set_engine(None)
        if self.profiles.profiles():
            self.lock()
            return
        who = await self.sign_in.ask()
        if who is None:
            self.quit()
            return
        await self.start_engine(*who)
