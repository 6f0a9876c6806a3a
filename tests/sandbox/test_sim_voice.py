"""Voice: `/_sim/call` posts the signed voice webhook, follows its TwiML `<Dial>` (the
dialed phone sees the caller id the TwiML names) and posts the dialed leg's status
callback events the `<Number>` asked for."""

from __future__ import annotations

import httpx
from twilio.twiml.voice_response import Dial, VoiceResponse

from app.sandbox.twilio_sim import SimHandle
from tests.sandbox.helpers import CUSTOMER, P1, P2, STORE
from tests.support.twilio_sim import WebhookRecorder


def _dial_twiml(status_url: str, events: str = "initiated ringing answered completed") -> str:
    response = VoiceResponse()
    dial = Dial(caller_id=P2, timeout=20)
    dial.number(STORE, status_callback=status_url, status_callback_event=events)
    response.append(dial)
    return str(response)


def _call(sim: SimHandle, **body: object) -> httpx.Response:
    return httpx.post(f"{sim.url}/_sim/call", json={"from": CUSTOMER, "to": P1, **body})


def test_a_call_dials_the_number_the_twiml_names(
    twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    voice_url = webhook_recorder.url + "/voice"
    twilio_sim.set_voice_url(voice_url)
    webhook_recorder.reply = _dial_twiml(webhook_recorder.url + "/status")
    answer = _call(twilio_sim, duration=95)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["dialed"] == STORE and result["callerId"] == P2
    assert result["status"] == "completed" and result["duration"] == 95
    assert "<Dial" in result["twiml"]

    voice = webhook_recorder.requests("/voice")[0]
    assert voice.signature_valid(twilio_sim.auth_token, voice_url)
    assert voice.form["From"] == CUSTOMER and voice.form["To"] == P1
    assert voice.form["CallSid"] == result["callSid"] and voice.form["CallStatus"] == "ringing"
    assert voice.form["Direction"] == "inbound"

    events = webhook_recorder.wait_for(4, path="/status")
    assert [e.form["CallStatus"] for e in events] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert all(e.form["ParentCallSid"] == result["callSid"] for e in events)
    assert all(e.signature_valid(twilio_sim.auth_token) for e in events)
    assert events[-1].form["CallDuration"] == "95"
    assert twilio_sim.calls(STORE) == [
        {"from": P2, "at": twilio_sim.calls(STORE)[0]["at"], "status": "completed", "duration": 95}
    ]
    assert httpx.get(f"{twilio_sim.url}/_sim/handset/{STORE}").json()["calls"][0]["from"] == P2


def test_an_unanswered_call_reports_no_answer(
    twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    twilio_sim.set_voice_url(webhook_recorder.url + "/voice")
    webhook_recorder.reply = _dial_twiml(webhook_recorder.url + "/status", "completed")
    result = _call(twilio_sim, answer=False).json()
    assert result["status"] == "no-answer" and result["duration"] == 0
    (event,) = webhook_recorder.wait_for(1, path="/status")
    assert event.form["CallStatus"] == "no-answer" and event.form["CallDuration"] == "0"
    assert twilio_sim.calls(STORE)[0]["status"] == "no-answer"


def test_twiml_without_a_dial_and_a_failing_webhook(
    twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    twilio_sim.set_voice_url(webhook_recorder.url + "/voice")
    response = VoiceResponse()
    response.say("This number is not monitored.")
    response.hangup()
    webhook_recorder.reply = str(response)
    result = _call(twilio_sim).json()
    assert result["dialed"] is None and result["said"] == ["This number is not monitored."]
    webhook_recorder.fail_next(1, 500)
    failed = _call(twilio_sim).json()
    assert failed["status"] == "failed" and failed["error"] == "HTTP 500"


def test_bad_calls_are_refused(twilio_sim: SimHandle, webhook_recorder: WebhookRecorder) -> None:
    assert _call(twilio_sim).json()["reason"] == "invalid_call"  # no voice URL yet
    twilio_sim.set_voice_url(webhook_recorder.url + "/voice")
    for body in (
        {"to": "+19995550000"},
        {"from": "12"},
        {"answer": "yes"},
        {"duration": -1},
        {"extra": True},
    ):
        answer = _call(twilio_sim, **body)
        assert answer.status_code == 400, body
        assert answer.json()["reason"] == "invalid_call"
    bad_url = httpx.post(f"{twilio_sim.url}/_sim/voice-url", json={"url": "ftp://x"})
    assert bad_url.json()["reason"] == "invalid_url"
