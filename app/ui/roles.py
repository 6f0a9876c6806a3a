"""The item-data roles the app's models answer, beyond Qt's own."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

#: the row's object (LeadRow, ThreadItem, SearchHit)
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
#: a lead row's location as the row shows it ("" while the inbox shows one location)
LOCATION_ROLE = Qt.ItemDataRole.UserRole + 3
#: the line above a message bubble: who wrote it ("Automatic message · <location>")
AUTHOR_ROLE = Qt.ItemDataRole.UserRole + 4

Index = QModelIndex | QPersistentModelIndex
