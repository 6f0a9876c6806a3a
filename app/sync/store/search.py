"""Search over leads (names, phones) and message bodies.

Never ranks or sorts the whole match set: lead hits rank only rowids by FTS
rank, message hits are the most recently stored matches ordered by
`created_at`. Snippets and highlights are cut in Python for the returned rows
only. Queries shorter than a trigram fall back to LIKE.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from app.sync.api import MATCH_END, MATCH_START, SearchHit
from app.sync.inbox import fts_query, match_words, parse_ts, unconfirmed_match
from app.sync.store.access import marks, read_rows

#: message search looks at this many times `limit` most recently stored matches
SEARCH_CANDIDATES = 4
#: characters of context kept before the first match in a message snippet
SNIPPET_BEFORE = 24
SNIPPET_LENGTH = 96

#: (message_sid, conversation_sid, snippet, created_at) of a message hit
MessageHit = tuple[Any, str, str, Any]


def _mark(text: str, words: Sequence[str]) -> str:
    """`text` with every case-insensitive occurrence of the words between match marks."""
    if not words or not text:
        return text
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)),
                         re.IGNORECASE)
    return pattern.sub(lambda m: f"{MATCH_START}{m.group(0)}{MATCH_END}", text)


def _snippet(body: str, words: Sequence[str]) -> str:
    """A window of the body around the first match, matches marked, cuts shown as '…'."""
    lowered = body.lower()
    found = [i for i in (lowered.find(w.lower()) for w in words) if i >= 0]
    first = min(found) if found else 0
    start = max(0, first - SNIPPET_BEFORE)
    # start on a word boundary when one is near (a cut word reads like a typo)
    space = body.rfind(" ", max(0, start - 12), start + 1)
    if start > 0 and space >= 0:
        start = space + 1
    end = min(len(body), start + SNIPPET_LENGTH)
    text = _mark(body[start:end], words)
    return ("…" if start > 0 else "") + text + ("…" if end < len(body) else "")


def _lead_hit(r: Any, words: Sequence[str]) -> SearchHit:
    return SearchHit(lead_id=r[0], conversation_sid=r[1], kind="lead",
                     snippet=f"{_mark(r[2], words)} {_mark(r[3], words)}",
                     title=r[2], at=parse_ts(r[4]))


def _like_search(conn: sqlite3.Connection, like: str, limit: int) -> tuple[list[SearchHit],
                                                                     list[MessageHit]]:
    """Queries too short for trigrams: LIKE over names, phones and bodies."""
    leads = read_rows(conn, "SELECT lead_id, conversation_sid, name, phone, last_activity_at "
                            "FROM leads WHERE name LIKE ? ESCAPE '\\' "
                            "OR phone LIKE ? ESCAPE '\\' LIMIT ?", (like, like, limit))
    messages = read_rows(conn, "SELECT m.message_sid, m.conversation_sid, m.body, m.created_at "
                               "FROM messages m WHERE m.body LIKE ? ESCAPE '\\' "
                               "ORDER BY m.created_at DESC LIMIT ?", (like, limit))
    return [_lead_hit(r, ()) for r in leads], [(r[0], r[1], r[2], r[3]) for r in messages]


def _fts_search(conn: sqlite3.Connection, match: str, limit: int) -> tuple[list[SearchHit],
                                                                      list[MessageHit]]:
    words = match_words(match)
    # rank only the rowids; names and phones are marked in Python for the rows returned
    leads = read_rows(conn, """SELECT d.lead_id, d.conversation_sid, d.name, d.phone,
            d.last_activity_at
        FROM (SELECT rowid AS id, rank AS r FROM leads_fts WHERE leads_fts MATCH ?
              ORDER BY rank LIMIT ?) AS top
        JOIN leads d ON d.id = top.id ORDER BY top.r""", (match, limit))
    # Newest first without sorting every match: FTS5 walks its rowids backwards and
    # stops after a few times `limit` candidates (rowids follow arrival order, which
    # is close to recency); those are ordered by created_at. Queued messages (not
    # indexed until the relay confirms them) are matched word by word.
    unconfirmed, unconfirmed_params = unconfirmed_match(words)
    messages = read_rows(conn, f"""SELECT m.message_sid, m.conversation_sid, m.body,
            m.created_at
        FROM messages m WHERE m.id IN (
            SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?
            ORDER BY rowid DESC LIMIT ?) OR m.id IN ({unconfirmed})
        ORDER BY m.created_at DESC, m.id DESC LIMIT ?""",
                         (match, limit * SEARCH_CANDIDATES, *unconfirmed_params, limit))
    return ([_lead_hit(r, words) for r in leads],
            [(r[0], r[1], _snippet(r[2], words), r[3]) for r in messages])


def _named_message_hits(conn: sqlite3.Connection, messages: list[MessageHit]) -> list[SearchHit]:
    """Message hits titled with the customer of their conversation's newest lead."""
    names: dict[str, tuple[str, str]] = {}
    convs = sorted({conv for _, conv, _, _ in messages})
    if convs:
        for lead_id, conv, name in read_rows(
                conn, f"SELECT lead_id, conversation_sid, name FROM leads "
                      f"WHERE conversation_sid IN ({marks(len(convs))}) ORDER BY date_submitted",
                convs):
            names[conv] = (lead_id, name)
    hits = []
    for sid, conv, snippet, at in messages:
        lead_id, name = names.get(conv, (None, ""))
        hits.append(SearchHit(lead_id=lead_id, conversation_sid=conv, kind="message",
                              snippet=snippet, title=name, at=parse_ts(at), message_sid=sid))
    return hits


def search(conn: sqlite3.Connection, query: str, limit: int) -> list[SearchHit]:
    match, like = fts_query(query)
    if match is None:
        leads, messages = _like_search(conn, like, limit)
    else:
        leads, messages = _fts_search(conn, match, limit)
    return (leads + _named_message_hits(conn, messages))[:limit]
