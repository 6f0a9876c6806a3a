"""The relay's change log of a snapshot, folded to each entity's last change.

Seeding writes every step of every lead, conversation and message into the log
(`app.relay.change_records`): several versions of each entity, most of them
outdated by the time the snapshot is made. Every change carries the entity's
whole view and its version, and receivers keep only the newest version, so a
log holding just the last change of each entity brings a new desktop to the
same inbox. Folded, the snapshot restores fewer items into DynamoDB and the
desktop's first sync reads fewer changes. The folded log keeps the log's rules:
per location, seqs 1..n without holes, write times that never go back, group
items within the relay's own bounds.
"""

from __future__ import annotations

from typing import Any

from app.relay.change_groups import GROUP_MAX_BYTES, GROUP_MAX_CHANGES
from app.relay.change_records import (
    change_json,
    changes_of,
    group_attributes,
    item_at,
    item_seq,
)

Item = dict[str, Any]


def fold_change_log(items: list[Item]) -> list[Item]:
    """`items` (a scan of the ChangeLog table) with only each entity's last change."""
    by_location: dict[str, list[Item]] = {}
    for item in items:
        if item_seq(item) >= 1:  # (seq 0: an earlier design's counter item)
            by_location.setdefault(item["LocationId"]["S"], []).append(item)
    folded: list[Item] = []
    for location_id, log in by_location.items():
        log.sort(key=item_seq)
        folded.extend(_groups(location_id, _last_changes(log)))
    return folded


def _last_changes(log: list[Item]) -> list[tuple[str, int]]:
    """(change as stored, write time in ms) of each entity's newest version, in the
    order of those changes in the log."""
    latest: dict[tuple[str, str], tuple[int, int, str, int]] = {}
    order = 0
    for item in log:
        at = item_at(item)
        for change in changes_of(item):
            entity, entity_id, version, _ = change
            known = latest.get((entity, entity_id))
            if known is None or version >= known[1]:
                latest[(entity, entity_id)] = (order, version, change_json(change), at)
            order += 1
    kept = sorted(latest.values())
    return [(stored, at) for _, _, stored, at in kept]


def _groups(location_id: str, changes: list[tuple[str, int]]) -> list[Item]:
    """Group items at seqs 1..n holding `changes` in order."""
    groups: list[tuple[list[str], int]] = []
    size = 0
    for stored, at in changes:
        if not groups or len(groups[-1][0]) >= GROUP_MAX_CHANGES or (
            size + len(stored) + 1 > GROUP_MAX_BYTES
        ):
            groups.append(([], 0))
            size = 0
        members, last_at = groups[-1]
        members.append(stored)
        groups[-1] = (members, max(last_at, at))
        size += len(stored) + 1
    items: list[Item] = []
    at_so_far = 0
    for seq, (members, at) in enumerate(groups, start=1):
        at_so_far = max(at_so_far, at)
        items.append({
            "LocationId": {"S": location_id},
            "Seq": {"N": str(seq)},
            "At": {"N": str(at_so_far)},
            **group_attributes(members),
        })  # fmt: skip
    return items
