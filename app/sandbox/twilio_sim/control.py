"""A small client for the simulator's `/_sim` control plane, for code that only has
the simulator's URL (the demo's simulated phones, tests of a subprocess)."""

from __future__ import annotations

from typing import Any

import httpx


class SimControlError(RuntimeError):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class SimControl:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SimControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            try:
                data = response.json()
            except ValueError:
                data = {}
            raise SimControlError(
                response.status_code, str(data.get("reason", "error")), str(data.get("message", ""))
            )
        result: dict[str, Any] = response.json()
        return result

    def inbound(
        self, from_: str, to: str, body: str, media: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """`from_` texts pool number `to` (`media`: `[{"contentType", "filename",
        "dataBase64"}]`)."""
        payload: dict[str, Any] = {"from": from_, "to": to, "body": body}
        if media:
            payload["media"] = media
        return self._call("POST", "/_sim/inbound", payload)

    def call(self, from_: str, to: str, answer: bool = True, duration: int = 30) -> dict[str, Any]:
        """`from_` calls pool number `to`; the simulated callee answers or not."""
        body = {"from": from_, "to": to, "answer": answer, "duration": duration}
        return self._call("POST", "/_sim/call", body)

    def handset(self, phone: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._call("GET", f"/_sim/handset/{phone}")["messages"]
        return messages

    def calls(self, phone: str) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self._call("GET", f"/_sim/handset/{phone}")["calls"]
        return calls

    def set_voice_url(self, url: str | None) -> None:
        self._call("POST", "/_sim/voice-url", {"url": url})

    def set_line_types(self, mapping: dict[str, str]) -> None:
        self._call("POST", "/_sim/lookup", mapping)

    def set_faults(self, faults: dict[str, Any]) -> None:
        self._call("POST", "/_sim/faults", faults)

    def clear_faults(self) -> None:
        self._call("POST", "/_sim/faults", {})

    def tick(self, seconds: float) -> int:
        changed: int = self._call("POST", "/_sim/tick", {"seconds": seconds})["changed"]
        return changed

    def set_webhook_url(self, url: str | None) -> None:
        self._call("POST", "/_sim/webhook-url", {"url": url})

    def reset(self) -> None:
        self._call("POST", "/_sim/reset")

    def idle(self) -> bool:
        return bool(self._call("GET", "/_sim/idle")["idle"])
