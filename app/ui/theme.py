"""Light and dark looks that follow the system's colour scheme.

One `Theme` holds the colours the custom-painted parts (inbox rows, bubbles,
badges) use, so the palette, the style sheet and the delegates never disagree.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.ui.resources import resource_text


class Theme(NamedTuple):
    """The colours of one look.

    A NamedTuple: creating a dataclass costs ~1 ms of start-up, this a fifth of it.
    """

    dark: bool
    window: str
    surface: str  # panels, lists
    surface_alt: str  # hovered rows, inputs
    border: str
    text: str
    text_muted: str
    accent: str
    accent_text: str
    selection: str
    bubble_in: str
    bubble_in_text: str
    bubble_out: str
    bubble_out_text: str
    bubble_store: str
    bubble_store_text: str
    danger: str
    warning: str
    warning_bg: str
    danger_bg: str
    success: str
    badge: str
    info: str  # marks that say where something came from ("Texted in")
    info_bg: str

    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))


LIGHT = Theme(
    dark=False,
    window="#F4F5F7",
    surface="#FFFFFF",
    surface_alt="#F0F2F5",
    border="#E1E4E8",
    text="#1C2024",
    text_muted="#6B7280",
    accent="#2F6FEB",
    accent_text="#FFFFFF",
    selection="#E7EEFD",
    bubble_in="#EEF0F3",
    bubble_in_text="#1C2024",
    bubble_out="#2F6FEB",
    bubble_out_text="#FFFFFF",
    bubble_store="#DDF3E4",
    bubble_store_text="#10391F",
    danger="#D93036",
    warning="#A35200",
    warning_bg="#FFF4E0",
    danger_bg="#FDECEC",
    success="#1F9D55",
    badge="#E5484D",
    info="#6B3FC4",
    info_bg="#F0E9FC",
)

DARK = Theme(
    dark=True,
    window="#111317",
    surface="#181B20",
    surface_alt="#22262D",
    border="#2C3139",
    text="#E8EAED",
    text_muted="#9AA1AC",
    accent="#5B8DEF",
    accent_text="#FFFFFF",
    selection="#23324F",
    bubble_in="#262A31",
    bubble_in_text="#E8EAED",
    bubble_out="#3D6FD8",
    bubble_out_text="#FFFFFF",
    bubble_store="#1E3A2A",
    bubble_store_text="#CFEFDA",
    danger="#F2555A",
    warning="#F5A524",
    warning_bg="#3A2E14",
    danger_bg="#3B1A1C",
    success="#3DD68C",
    badge="#E5484D",
    info="#C9B1FF",
    info_bg="#33294A",
)


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def palette_for(theme: Theme) -> QPalette:
    p = QPalette()
    c = theme.color
    roles = QPalette.ColorRole
    p.setColor(roles.Window, c("window"))
    p.setColor(roles.WindowText, c("text"))
    p.setColor(roles.Base, c("surface"))
    p.setColor(roles.AlternateBase, c("surface_alt"))
    p.setColor(roles.Text, c("text"))
    p.setColor(roles.PlaceholderText, c("text_muted"))
    p.setColor(roles.Button, c("surface"))
    p.setColor(roles.ButtonText, c("text"))
    p.setColor(roles.Highlight, c("accent"))
    p.setColor(roles.HighlightedText, c("accent_text"))
    p.setColor(roles.ToolTipBase, c("surface"))
    p.setColor(roles.ToolTipText, c("text"))
    p.setColor(roles.Link, c("accent"))
    p.setColor(roles.Mid, c("border"))
    p.setColor(roles.Midlight, c("surface_alt"))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.Text, roles.ButtonText, roles.WindowText):
        p.setColor(disabled, role, c("text_muted"))
    return p


#: the style sheet's universal base size, e.g. `QWidget { font-size: 10pt; }`
_BASE_FONT_RULE = re.compile(r"^QWidget\s*\{\s*font-size:\s*([\d.]+)pt;\s*\}[ \t]*$", re.M)


def style_sheet(theme: Theme) -> str:
    qss = resource_text("web2text.qss")
    # longest names first: "@text_muted" must not be eaten by "@text"
    for key, value in sorted(theme._asdict().items(), key=lambda kv: -len(kv[0])):
        if isinstance(value, str):
            qss = qss.replace("@" + key, value)
    return qss


def split_base_font(qss: str) -> tuple[str, float | None]:
    """The style sheet without its universal font-size rule, and that size.

    A `QWidget { font-size }` rule gives every widget a style-sheet font of its own to
    resolve when it is polished: about a quarter of the time it takes to build the
    main window. The same size as the application's default font is inherited by
    every widget instead, for free; rules for particular widgets still apply.
    """
    match = _BASE_FONT_RULE.search(qss)
    if match is None:
        return qss, None
    return qss[: match.start()] + qss[match.end() :], float(match.group(1))


class ThemeManager(QObject):
    """Applies the theme matching the system scheme, now and whenever it changes."""

    changed = Signal(object)

    def __init__(
        self,
        app: QApplication,
        force: str | None = None,
        *,
        with_style_sheet: bool = True,
        set_style: bool = True,
    ) -> None:
        """`with_style_sheet=False`: palette, font and theme now, the style sheet only at
        `apply_style_sheet()`. Widgets built under an application style sheet are
        polished one by one, again at every reparenting: building the main window that
        way took twice as long as building it plain and applying the sheet once
        afterwards (main.build).

        `set_style=False`: the application was made with Fusion already (`-style
        Fusion` in its arguments, main.build). `setStyle` returns the style, and
        PySide then makes the Python type QStyle (its enums: ~13 ms) for nothing."""
        super().__init__(app)
        self._app = app
        self._force = force  # "light" | "dark" | None (follow the system)
        self.theme = LIGHT
        self._qss = ""  # the style sheet of the theme in force
        if set_style:
            app.setStyle("Fusion")
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_scheme)
        self.apply(with_style_sheet=with_style_sheet)

    def _on_scheme(self, _scheme: Qt.ColorScheme) -> None:
        self.apply()

    def apply(self, *, with_style_sheet: bool = True) -> None:
        dark = self._force == "dark" if self._force else system_prefers_dark()
        self.theme = DARK if dark else LIGHT
        set_current(self.theme)
        self._app.setPalette(palette_for(self.theme))
        qss, base_pt = split_base_font(style_sheet(self.theme))
        if base_pt is not None and self._app.font().pointSizeF() != base_pt:
            font = QFont(self._app.font())
            font.setPointSizeF(base_pt)
            self._app.setFont(font)
        self._qss = qss
        if with_style_sheet:
            self.apply_style_sheet()
        self.changed.emit(self.theme)

    def apply_style_sheet(self) -> None:
        """The style sheet of the theme `apply()` chose (deferred with
        `with_style_sheet=False`): palette and font are not set again."""
        self._app.setStyleSheet(self._qss)


_current: list[Theme] = [LIGHT]


def current() -> Theme:
    """The theme in force (delegates read it at paint time)."""
    return _current[0]


def set_current(theme: Theme) -> None:
    _current[0] = theme
