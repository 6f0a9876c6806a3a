"""Media at Twilio, which the SDK does not cover: the Media Content Service of the
conversations' chat service (upload a file, then a message names it by MediaSid;
fetch its content through a temporary URL) and the media of a received MMS
(`MediaUrl{n}` of the inbound webhook, Programmable Messaging's Media resource).

Raw requests on a `requests` session, with the account's basic auth, the same URL
rewriting to `W2T_TWILIO_BASE_URL` as the SDK's client, a timeout and bounded
retries of transient failures. Credentials only ever go to Twilio's own hosts."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from app.relay.config import Settings

MCS_BASE = "https://mcs.us1.twilio.com"
CACHE_BYTES = 32 * 1024 * 1024
CONVERSATIONS_BASE = "https://conversations.twilio.com"


class MediaError(Exception):
    """Twilio refused or could not serve a media request (`status`: its HTTP status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MediaContent:
    data: bytes
    content_type: str


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, MediaError):
        return exc.status is None or exc.status == 429 or exc.status >= 500
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout)


class TwilioMedia:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session = requests.Session()
        self.session.trust_env = False
        self._service_sid: str | None = None
        self._lock = threading.Lock()
        # several desktops open the same new photo at once: fetch it once
        self.cache = ContentCache()

    # ------------------------------------------------------------------ plumbing
    def _url(self, url: str) -> str:
        base = self.settings.twilio_base_url
        if not base:
            return url
        target, parts = urlsplit(base), urlsplit(url)
        path = target.path.rstrip("/") + parts.path
        return urlunsplit((target.scheme, target.netloc, path, parts.query, ""))

    def trusted(self, url: str) -> bool:
        """Whether `url` is Twilio's (or, in the sandbox, the simulator's)."""
        host = (urlsplit(url).hostname or "").lower()
        base = self.settings.twilio_base_url
        if base and url.startswith(base.rstrip("/") + "/"):
            return True
        return urlsplit(url).scheme == "https" and (
            host == "twilio.com" or host.endswith(".twilio.com")
        )

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        def once() -> requests.Response:
            response = self.session.request(
                method,
                self._url(url),
                auth=(self.settings.twilio_account_sid, self.settings.twilio_auth_token),
                timeout=self.settings.twilio_timeout_s,
                allow_redirects=False,
                **kwargs,
            )
            if response.status_code == 302 and method == "GET":
                return self._follow(response.headers.get("location", ""))
            if response.status_code >= 300:
                raise MediaError(f"Twilio answered {response.status_code}", response.status_code)
            return response

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.twilio_max_attempts),
            wait=wait_exponential_jitter(multiplier=0.2, max=3.0),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        return retrying(once)

    def _follow(self, location: str) -> requests.Response:
        """A redirect to the temporary URL: no credentials travel with it."""
        if not self.trusted(location):
            raise MediaError("media redirect to an unexpected host")
        response = self.session.get(
            self._url(location), timeout=self.settings.twilio_timeout_s, allow_redirects=False
        )
        if response.status_code >= 300:
            raise MediaError(f"media host answered {response.status_code}", response.status_code)
        return response

    # ------------------------------------------------------------------ operations
    def service_sid(self) -> str:
        """The conversations' chat service (Conversations `/v1/Configuration`)."""
        with self._lock:
            if self._service_sid is None:
                answer = self._send("GET", f"{CONVERSATIONS_BASE}/v1/Configuration").json()
                self._service_sid = str(answer["default_chat_service_sid"])
            return self._service_sid

    def upload(self, data: bytes, content_type: str, filename: str | None) -> dict[str, Any]:
        """Upload to MCS; Twilio's media JSON (`sid`, `size`, `content_type`, ...)."""
        params = {"Filename": filename} if filename else None
        url = f"{MCS_BASE}/v1/Services/{self.service_sid()}/Media"
        response = self._send(
            "POST", url, data=data, params=params, headers={"Content-Type": content_type}
        )
        result: dict[str, Any] = response.json()
        return result

    def content(self, media_sid: str) -> MediaContent:
        """A media file's bytes: its JSON, then its temporary URL (without credentials)."""
        cached = self.cache.get(media_sid)
        if cached is not None:
            return cached
        info = self._send("GET", f"{MCS_BASE}/v1/Services/{self.service_sid()}/Media/{media_sid}")
        temporary = str((info.json().get("links") or {}).get("content_direct_temporary") or "")
        if not temporary:
            raise MediaError("Twilio gave no content URL for the media")
        response = self._follow(temporary)
        content = MediaContent(response.content, response.headers.get("content-type", ""))
        self.cache.put(media_sid, content)
        return content

    def fetch_mms(self, url: str) -> MediaContent:
        """The content of a received MMS attachment (`MediaUrl{n}`)."""
        if not self.trusted(url):
            raise MediaError("MediaUrl is not a Twilio URL")
        response = self._send("GET", url)
        return MediaContent(response.content, response.headers.get("content-type", ""))


class ContentCache:
    """The last photos served by this process, bounded in bytes (least recent out)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, MediaContent] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, sid: str) -> MediaContent | None:
        with self._lock:
            found = self._items.get(sid)
            if found is not None:
                self._items.move_to_end(sid)
            return found

    def put(self, sid: str, content: MediaContent) -> None:
        if len(content.data) > self.max_bytes // 4:
            return
        with self._lock:
            if sid in self._items:
                return
            self._items[sid] = content
            self._bytes += len(content.data)
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old.data)
