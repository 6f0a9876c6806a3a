"""The desktop's figures from the measured processes' answers, with their goals."""

from __future__ import annotations

import statistics
from typing import Any

GOALS = {
    "cold_start_stored": 1.3,  # x the bare window
    "cold_start_engine": 2.0,  # x the bare window
    "open_ms": 16.0,
    "search_ms": 16.0,
    "memory_mb": 200.0,
    "stall_ms": 16.0,
}


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def cold_start(bare: list[dict[str, Any]], ours: list[dict[str, Any]]) -> dict[str, Any]:
    b = med([r["first_paint_s"] for r in bare])
    stored = med([r["first_paint_s"] for r in ours])
    live = med([r["live_paint_s"] for r in ours])
    return {
        "figure": "process start → first paint of the inbox with rows",
        "baseline_bare_window_s": [round(r["first_paint_s"], 3) for r in bare],
        "baseline_median_s": round(b, 3),
        "stored_rows_s": [round(r["first_paint_s"], 3) for r in ours],
        "stored_rows_median_s": round(stored, 3),
        "stored_rows_ratio": round(stored / b, 2),
        "stored_goal": f"<= {GOALS['cold_start_stored']}x",
        "stored_ok": stored / b <= GOALS["cold_start_stored"],
        "from_store": [bool(r.get("from_store")) for r in ours],
        "engine_rows_s": [round(r["live_paint_s"], 3) for r in ours],
        "engine_rows_median_s": round(live, 3),
        "engine_rows_ratio": round(live / b, 2),
        "engine_goal": f"<= {GOALS['cold_start_engine']}x",
        "engine_ok": live / b <= GOALS["cold_start_engine"],
        "cpu_to_first_paint_median_s": {
            "bare": round(med([r["cpu_s"] for r in bare]), 3),
            "ours": round(med([r["cpu_s"] for r in ours]), 3),
        },
        "rows_painted": ours[0]["rows"],
    }


def _timed(full: dict[str, Any], key: str, what: str, goal: float) -> dict[str, Any]:
    ours = full[f"{key}_ms"]
    return {
        "figure": what,
        "ours_ms": ours,
        "ours_median_ms": med(ours),
        "ours_max_ms": max(ours),
        "qt_thread_cpu_median_ms": med(full[f"{key}_qt_cpu_ms"]),
        "baseline_query_only_ms": full[f"{key}_query_only_ms"],
        "baseline_median_ms": med(full[f"{key}_query_only_ms"]),
        "goal": f"<= {goal} ms median",
        "ok": med(ours) <= goal,
    }


def open_conversation(full: dict[str, Any]) -> dict[str, Any]:
    return _timed(
        full, "open_big", "open_lead → 5,000-message conversation painted", GOALS["open_ms"]
    )


def search(full: dict[str, Any]) -> dict[str, Any]:
    return _timed(
        full, "search", "query → highlighted results painted (debounce excluded)",
        GOALS["search_ms"],
    )  # fmt: skip


def memory(full: dict[str, Any], bare: list[dict[str, Any]]) -> dict[str, Any]:
    peak = full["after_use"]["peak_rss_mb"]
    return {
        "figure": "resident memory with that data, after opening and searching",
        "ours_rss_mb": full["after_use"]["rss_mb"],
        "ours_peak_mb": peak,
        "baseline_bare_window_mb": med([r["rss_mb"] for r in bare]),
        "goal": f"<= {GOALS['memory_mb']} MB",
        "ok": peak <= GOALS["memory_mb"],
    }


def stall(live: dict[str, Any], what: str) -> dict[str, Any]:
    busy, idle = live["busy"], live["idle"]
    return {
        "figure": f"longest Qt-thread stall (5 ms heartbeat's longest gap - 5 ms) while {what}",
        "ours_stall_ms": busy["stall_ms"],
        "ours_p99_gap_ms": busy["p99_gap_ms"],
        "baseline_idle_stall_ms": idle["stall_ms"],
        "baseline_idle_p99_gap_ms": idle["p99_gap_ms"],
        "apply_s": live["apply_s"],
        "stalls_at": live["stalls_at"],
        "full_gc": live["full_gc"],
        "peak_rss_mb": live["peak_rss_mb"],
        "goal": f"<= {GOALS['stall_ms']} ms",
        "ok": busy["stall_ms"] <= GOALS["stall_ms"],
        **{k: live[k] for k in ("texts", "open_thread_rows", "changes") if k in live},
    }


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table (for bench/RESULTS.md)."""
    rows = ["| figure | scale | ours | baseline | goal | met |", "|---|---|---|---|---|---|"]
    for scale, r in results.items():
        if not isinstance(r, dict) or "cold_start" not in r:
            continue
        c = r["cold_start"]
        rows += [
            f"| cold start, stored rows | {scale} | {c['stored_rows_median_s']} s "
            f"({c['stored_rows_ratio']}x) | bare window {c['baseline_median_s']} s | "
            f"{c['stored_goal']} | {_ok(c['stored_ok'])} |",
            f"| cold start, engine rows | {scale} | {c['engine_rows_median_s']} s "
            f"({c['engine_rows_ratio']}x) | bare window {c['baseline_median_s']} s | "
            f"{c['engine_goal']} | {_ok(c['engine_ok'])} |",
        ]
        for key, name in (("open_conversation", "open 5,000-message thread"),
                          ("search", "search painted")):
            f = r[key]
            rows.append(
                f"| {name} | {scale} | median {f['ours_median_ms']} ms (Qt CPU "
                f"{f['qt_thread_cpu_median_ms']} ms) | query alone {f['baseline_median_ms']} ms"
                f" | {f['goal']} | {_ok(f['ok'])} |"
            )
        m = r["memory"]
        rows.append(
            f"| resident memory | {scale} | {m['ours_peak_mb']} MB | bare window "
            f"{m['baseline_bare_window_mb']} MB | {m['goal']} | {_ok(m['ok'])} |"
        )
        for key, name in (("ui_stall_changes", "stall, 10,000 changes"),
                          ("ui_stall_texts", "stall, 50 texts/s for 10 s")):
            f = r[key]
            rows.append(
                f"| {name} | {scale} | {f['ours_stall_ms']} ms | idle app "
                f"{f['baseline_idle_stall_ms']} ms | {f['goal']} | {_ok(f['ok'])} |"
            )
    return "\n".join(rows)


def _ok(ok: bool) -> str:
    return "✔" if ok else "✘"
