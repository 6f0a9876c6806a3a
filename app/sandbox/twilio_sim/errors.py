"""The simulator's errors: Twilio's JSON shape {"code", "message", "more_info", "status"}
on Twilio's paths, the project's {"code", "message", "reason"} on the `/_sim` plane."""

from __future__ import annotations

from typing import Any


class TwilioApiError(Exception):
    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        return body


def not_found(path: str) -> TwilioApiError:
    return TwilioApiError(404, 20404, f"The requested resource {path} was not found")


def bad_param(message: str) -> TwilioApiError:
    # Twilio reports a malformed or missing parameter as HTTP 400; the sim uses one
    # code (20001) for all of them since callers branch on the status, not the code.
    return TwilioApiError(400, 20001, message)


def binding_exists(conversation_sid: str) -> TwilioApiError:
    # Twilio's exact wording; callers parse the existing conversation SID out of it.
    return TwilioApiError(
        409,
        50416,
        f"A binding for this participant and proxy address already exists in Conversation "
        f"{conversation_sid}",
    )


def conversation_closed(conversation_sid: str) -> TwilioApiError:
    return TwilioApiError(
        409, 50434, f"Conversation {conversation_sid} is closed and cannot be modified"
    )


class ControlError(Exception):
    """A refused `/_sim` request. The control plane is ours, so it answers in the
    project's error shape with a stable snake_case reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def body(self) -> dict[str, Any]:
        return {"code": self.status, "message": self.message, "reason": self.reason}
