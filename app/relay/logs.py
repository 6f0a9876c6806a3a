"""JSON logs with the request id of the request being served; phones masked.

Log records may carry extra fields (`extra={...}`); any string that looks like a
phone number is masked before it is written, and authorization headers are
never logged at all.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "w2t_request_id", default=None
)

# E.164 ("+13125550142") or a formatted NANP number ("(312) 555-0142"); not digits
# inside identifiers such as UUIDs or SIDs.
_PHONE_RE = re.compile(r"(?<![\w-])(?:\+\d{8,15}|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4})(?![\w-])")
_STD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


def mask_phone(text: str) -> str:
    try:
        from app.core.phones import mask_phone as core_mask

        return str(core_mask(text))
    except Exception:
        digits = re.sub(r"\D", "", text)
        return f"+{digits[:1]}***{digits[-2:]}" if len(digits) > 4 else "***"


def mask_text(text: str) -> str:
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = _clean(value)
        if record.exc_info:
            out["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the relay's loggers (idempotent)."""
    root = logging.getLogger("app")
    if any(getattr(h, "_w2t", False) for h in root.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler._w2t = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
