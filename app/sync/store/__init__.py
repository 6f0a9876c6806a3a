"""The local store's operations, one module per job.

`mirror` (+ `mirror_messages`, `rows`) applies the relay's changes and `/v1/me`;
`overlay` lays queued local edits over mirrored rows; `outbox` (+ `outbox_row`,
`outbox_delivery`) queues what the user does and tracks its delivery; `queries`
and `search` are what the UI reads; `meta` holds the cursor and `/v1/me`;
`access` is how each of these jobs reaches SQLite.

Every function takes the `Connection` of the `DbThread` it runs on (never the
event loop) as its first argument and is blocking; a write opens exactly one
transaction. Callers use what this package exports.
"""

from app.sync.store.meta import cursor_of, get_me, get_meta, set_meta
from app.sync.store.mirror import apply_changes, apply_received, save_me
from app.sync.store.mirror_scheduled import confirm_scheduled
from app.sync.store.outbox import enqueue_mark_read, enqueue_send, enqueue_update_lead
from app.sync.store.outbox_delivery import (
    discard_row,
    due_heads,
    expedite_pending,
    keep_media_sid,
    list_outbox,
    mark_delivered,
    mark_failed,
    mark_inflight,
    mark_retry,
    outbox_counts,
    rebase_row,
    requeue_inflight,
    retry_row,
)
from app.sync.store.outbox_row import (
    CANCEL_SCHEDULED,
    CLOSE_LEAD,
    CREATE_LEAD,
    FAILED,
    INFLIGHT,
    MARK_READ,
    OPT_OUT,
    PENDING,
    SEND_MESSAGE,
    UPDATE_LEAD,
    OutboxRow,
)
from app.sync.store.outbox_staff import (
    enqueue_cancel_scheduled,
    enqueue_close_lead,
    enqueue_create_lead,
    enqueue_opt_out,
)
from app.sync.store.queries import (
    count_leads,
    get_lead,
    leads_of_conversation,
    list_leads,
    list_locations,
    relay_lead,
    thread,
    waiting_for_reply,
)
from app.sync.store.result import ApplyResult
from app.sync.store.rows import now_iso
from app.sync.store.salvaged import (
    acknowledge_repair,
    probe_write,
    repair_report,
    restore_salvaged,
)
from app.sync.store.search import search
from app.sync.store.shared_templates import get_shared_templates, save_shared_templates

__all__ = [
    "CANCEL_SCHEDULED",
    "CLOSE_LEAD",
    "CREATE_LEAD",
    "FAILED",
    "INFLIGHT",
    "MARK_READ",
    "OPT_OUT",
    "PENDING",
    "SEND_MESSAGE",
    "UPDATE_LEAD",
    "ApplyResult",
    "OutboxRow",
    "acknowledge_repair",
    "apply_changes",
    "apply_received",
    "confirm_scheduled",
    "count_leads",
    "cursor_of",
    "discard_row",
    "due_heads",
    "enqueue_cancel_scheduled",
    "enqueue_close_lead",
    "enqueue_create_lead",
    "enqueue_mark_read",
    "enqueue_opt_out",
    "enqueue_send",
    "enqueue_update_lead",
    "expedite_pending",
    "get_lead",
    "get_me",
    "get_meta",
    "get_shared_templates",
    "keep_media_sid",
    "leads_of_conversation",
    "list_leads",
    "list_locations",
    "list_outbox",
    "mark_delivered",
    "mark_failed",
    "mark_inflight",
    "mark_retry",
    "now_iso",
    "outbox_counts",
    "probe_write",
    "rebase_row",
    "relay_lead",
    "repair_report",
    "requeue_inflight",
    "restore_salvaged",
    "retry_row",
    "save_me",
    "save_shared_templates",
    "search",
    "set_meta",
    "thread",
    "waiting_for_reply",
]
