"""A snapshot's change log folded to each entity's last change (`demo.compact`):
a desktop reading it from cursor 0 ends with the same newest versions, and the
log keeps the relay's rules (seqs 1..n, write times that never go back, groups
within the relay's bounds)."""

from __future__ import annotations

from typing import Any

from app.relay.change_groups import GROUP_MAX_CHANGES
from app.relay.change_records import (
    GAP_ENTITY,
    change_attributes,
    change_json,
    changes_of,
    group_attributes,
    item_at,
    item_seq,
)
from app.sandbox.demo.compact import fold_change_log


def _group(location: str, seq: int, at: int, *changes: tuple[str, str, int, Any]) -> dict[str, Any]:
    return {"LocationId": {"S": location}, "Seq": {"N": str(seq)}, "At": {"N": str(at)},
            **group_attributes([change_json(c) for c in changes])}  # fmt: skip


def _single(location: str, seq: int, at: int, change: tuple[str, str, int, Any]) -> dict[str, Any]:
    return {"LocationId": {"S": location}, "Seq": {"N": str(seq)}, "At": {"N": str(at)},
            **change_attributes(*change)}  # fmt: skip


def _newest(items: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[int, Any]]:
    """What a receiver keeps: per location and entity, the highest version's data."""
    kept: dict[tuple[str, str, str], tuple[int, Any]] = {}
    for item in sorted(items, key=lambda i: (i["LocationId"]["S"], item_seq(i))):
        if item_seq(item) < 1:  # (readers skip the old counter item)
            continue
        for entity, entity_id, version, data in changes_of(item):
            key = (item["LocationId"]["S"], entity, entity_id)
            if key not in kept or version > kept[key][0]:
                kept[key] = (version, data)
    return kept


def test_folding_keeps_each_entitys_newest_version_and_the_logs_rules() -> None:
    log = [
        {"LocationId": {"S": "A"}, "Seq": {"N": "0"}, "At": {"N": "1"}},  # old counter item
        _group("A", 1, 1000, ("lead", "L1", 1, {"s": "new"}), ("conversation", "C1", 1, {})),
        _single("A", 2, 1001, ("message", "M1", 1, {"b": "hi"})),
        _group("A", 3, 1002, ("lead", "L1", 2, {"s": "contacted"}), ("message", "M1", 2, {})),
        {"LocationId": {"S": "A"}, "Seq": {"N": "4"}, "At": {"N": "1003"},
         "Entity": {"S": GAP_ENTITY}},
        _group("A", 5, 1004, ("lead", "L2", 1, {"s": "new"}), ("lead", "L1", 3, {"s": "won"})),
        _group("B", 1, 900, ("lead", "L9", 1, {})),
        _group("B", 2, 950, ("lead", "L9", 4, {"s": "lost"})),
    ]
    folded = fold_change_log(log)
    assert _newest(folded) == _newest(log)
    a = sorted((i for i in folded if i["LocationId"]["S"] == "A"), key=item_seq)
    assert [item_seq(i) for i in a] == [1]
    assert [(e, i, v) for e, i, v, _ in changes_of(a[0])] == [
        ("conversation", "C1", 1), ("message", "M1", 2), ("lead", "L2", 1), ("lead", "L1", 3)]
    assert item_at(a[0]) == 1004
    b = [i for i in folded if i["LocationId"]["S"] == "B"]
    assert [(item_seq(i), item_at(i)) for i in b] == [(1, 950)]


def test_a_long_log_folds_into_groups_within_the_relays_bounds() -> None:
    count = GROUP_MAX_CHANGES * 2 + 5
    log = [
        _single("A", seq, 1000 + seq, ("message", f"M{seq}", 1, {"b": "x" * 50}))
        for seq in range(1, count + 1)
    ]
    folded = sorted(fold_change_log(log), key=item_seq)
    assert [item_seq(i) for i in folded] == [1, 2, 3]  # no holes
    assert [len(changes_of(i)) for i in folded] == [GROUP_MAX_CHANGES, GROUP_MAX_CHANGES, 5]
    ats = [item_at(i) for i in folded]
    assert ats == sorted(ats) and ats[-1] == 1000 + count
    assert [c[1] for i in folded for c in changes_of(i)] == [f"M{s}" for s in range(1, count + 1)]
