"""The desktop's log: a rotating file in the platform's log folder, and stderr.

Every line goes through `Redactor`: phone numbers are masked (`mask_phone`) and
secrets never reach a log (any `Bearer ...` value, the `W2T_TOKEN` value, and
each staff key the app registers with `redact()` once it holds it).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path

LOG_FILE = "web2text.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 4
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Libraries that log every HTTP request at INFO: only their warnings, unless DEBUG.
CHATTY = ("httpx", "httpcore", "twilio.http_client", "botocore", "alembic.runtime")
# Something that looks like a phone number: +, digits and separators, 10+ digits;
# not a date with its time ("2026-12-07 10:12", as every log line starts), which has
# as many digits.
PHONE = re.compile(
    r"(?<![\w+])(?!\d{4}-\d\d-\d\d(?!\d))\+?\(?\d(?:[\s().-]{0,2}\d){9,14}(?!\w)")
BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def log_dir() -> Path:
    """W2T_LOG_DIR, else the platform's folder (~/.local/state/Web2Text/log on Linux,
    ~/Library/Logs/Web2Text on macOS, %LOCALAPPDATA%\\Web2Text\\Logs on Windows)."""
    env = os.environ.get("W2T_LOG_DIR")
    if env:
        return Path(env)
    from platformdirs import user_log_dir

    return Path(user_log_dir("Web2Text", appauthor=False))


def redact(secret: str) -> None:
    """Never write `secret` (a staff key) to a log from now on."""
    if len(secret) >= 8:
        with _secrets_lock:
            _secrets.add(secret)


def scrub(text: str) -> str:
    """`text` with secrets removed and phone numbers masked."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    token = os.environ.get("W2T_TOKEN", "").strip()
    if len(token) >= 8:
        secrets.append(token)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    text = BEARER.sub(r"\1[redacted]", text)
    if PHONE.search(text):
        from app.core.phones import mask_phone

        text = PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return text


class Redactor(logging.Filter):
    """Scrubs each record's message (and traceback) before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = scrub(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = scrub(record.exc_text)
        except Exception:  # a log filter must never take the caller down
            record.msg, record.args = "[a log message that could not be scrubbed]", None
        return True


def setup_logging(level: str = "WARNING", directory: Path | None = None) -> Path:
    """Log to `directory`/web2text.log (rotated) at `level`, and warnings to stderr;
    returns the file's path. Safe to call again (the handlers are replaced)."""
    folder = directory or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "web2text_handler", False):
            root.removeHandler(handler)
            handler.close()
    scrubber = Redactor()
    formatter = logging.Formatter(FORMAT)
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )
    to_stderr = logging.StreamHandler()
    to_stderr.setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    handlers: list[logging.Handler] = [to_file, to_stderr]
    for handler in handlers:
        handler.addFilter(scrubber)
        handler.setFormatter(formatter)
        setattr(handler, "web2text_handler", True)  # noqa: B010 (replaced by the next call)
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name in CHATTY:
        logging.getLogger(name).setLevel(level.upper() if level.upper() == "DEBUG" else "WARNING")
    return path
