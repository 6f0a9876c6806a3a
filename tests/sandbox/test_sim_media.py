"""Media like Twilio's Media Content Service: upload a raw body to the chat service,
reference it by MediaSid in a message, fetch it through a temporary signed URL; a
phone's MMS (`/_sim/inbound` `media`) reaches the conversation and the inbound webhook,
and handsets show what they received."""

from __future__ import annotations

import base64
import json

import httpx
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from tests.sandbox.helpers import CUSTOMER, P1, P2, STORE, add_webhook, pair_conversation
from tests.support.twilio_sim import WebhookRecorder, sim_client, wait_until

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
AUTH = ("AC" + "5" * 32, "sim-test-auth-token")


def _service_sid(client: Client) -> str:
    return str(client.conversations.v1.configuration().fetch().default_chat_service_sid)


def _upload(
    sim: SimHandle, service: str, data: bytes, content_type: str, **params: str
) -> httpx.Response:
    return httpx.post(
        f"{sim.url}/v1/Services/{service}/Media",
        content=data,
        headers={"Content-Type": content_type},
        params=params,
        auth=(sim.account_sid, sim.auth_token),
    )


def test_upload_attach_and_fetch_through_a_temporary_url(twilio_sim: SimHandle) -> None:
    client = sim_client(twilio_sim)
    service = _service_sid(client)
    assert service.startswith("IS")
    uploaded = _upload(twilio_sim, service, PNG, "image/png", Filename="car.png")
    assert uploaded.status_code == 201, uploaded.text
    media = uploaded.json()
    assert media["sid"].startswith("ME") and media["size"] == len(PNG)
    assert media["content_type"] == "image/png" and media["filename"] == "car.png"

    conv = pair_conversation(client)
    msg = client.conversations.v1.conversations(conv).messages.create(
        author=STORE, body="Here it is", media_sid=media["sid"]
    )
    assert msg.media == [
        {
            "sid": media["sid"],
            "size": len(PNG),
            "content_type": "image/png",
            "filename": "car.png",
            "category": "media",
        }
    ]
    # the customer's handset shows the attachment
    wait_until(lambda: twilio_sim.handset(CUSTOMER), what="customer handset")
    entry = twilio_sim.handset(CUSTOMER)[0]
    assert entry["body"] == "Here it is" and entry["from"] == P1
    assert entry["media"] == [{"contentType": "image/png", "filename": "car.png", "size": len(PNG)}]

    fetched = httpx.get(f"{twilio_sim.url}/v1/Services/{service}/Media/{media['sid']}", auth=AUTH)
    assert fetched.json()["message_sid"] == msg.sid
    temporary = fetched.json()["links"]["content_direct_temporary"]
    content = httpx.get(temporary)  # no credentials: the URL itself is the permission
    assert content.status_code == 200 and content.content == PNG
    assert content.headers["content-type"] == "image/png"
    # the authenticated Content link redirects to such a URL
    redirect = httpx.get(
        f"{twilio_sim.url}/v1/Services/{service}/Media/{media['sid']}/Content", auth=AUTH
    )
    assert redirect.status_code == 302
    assert httpx.get(redirect.headers["location"]).content == PNG


def test_a_temporary_url_needs_its_signature_and_expires(twilio_sim: SimHandle) -> None:
    service = _service_sid(sim_client(twilio_sim))
    sid = _upload(twilio_sim, service, PNG, "image/png").json()["sid"]
    url = httpx.get(f"{twilio_sim.url}/v1/Services/{service}/Media/{sid}", auth=AUTH).json()[
        "links"
    ]["content_direct_temporary"]
    forged = url[: url.rindex("=") + 1] + "forged"
    assert httpx.get(forged).status_code == 403
    twilio_sim.advance(301)
    assert httpx.get(url).status_code == 403


def test_uploads_need_auth_a_known_service_and_a_body(twilio_sim: SimHandle) -> None:
    service = _service_sid(sim_client(twilio_sim))
    anonymous = httpx.post(
        f"{twilio_sim.url}/v1/Services/{service}/Media",
        content=PNG,
        headers={"Content-Type": "image/png"},
    )
    assert anonymous.status_code == 401
    assert _upload(twilio_sim, "IS" + "0" * 32, PNG, "image/png").status_code == 404
    assert _upload(twilio_sim, service, b"", "image/png").status_code == 400
    client = sim_client(twilio_sim)
    conv = pair_conversation(client)
    unknown = httpx.post(
        f"{twilio_sim.url}/v1/Conversations/{conv}/Messages",
        data={"MediaSid": "ME" + "0" * 32},
        auth=AUTH,
    )
    assert unknown.status_code == 400


def test_an_mms_reaches_the_conversation_and_the_inbound_webhook(
    twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> None:
    client = sim_client(twilio_sim)
    conv = pair_conversation(client)
    add_webhook(client, conv, webhook_recorder.url + "/sync", ["onMessageAdded"])
    twilio_sim.set_webhook_url(webhook_recorder.url + "/inbound")
    result = httpx.post(
        f"{twilio_sim.url}/_sim/inbound",
        json={
            "from": CUSTOMER,
            "to": P1,
            "body": "",
            "media": [
                {
                    "contentType": "image/jpeg",
                    "filename": "floor.jpg",
                    "dataBase64": base64.b64encode(b"\xff\xd8jpeg").decode(),
                }
            ],
        },
    ).json()
    assert result["conversation_sid"] == conv
    assert [m["contentType"] for m in result["media"]] == ["image/jpeg"]

    added = webhook_recorder.wait_for(1, event="onMessageAdded")[0]
    media = json.loads(added.form["Media"])
    assert media == [
        {
            "Sid": result["media"][0]["sid"],
            "Filename": "floor.jpg",
            "ContentType": "image/jpeg",
            "Size": 6,
            "Category": "media",
        }
    ]
    inbound = webhook_recorder.wait_for(1, path="/inbound")[0]
    assert inbound.form["NumMedia"] == "1"
    assert inbound.form["MediaContentType0"] == "image/jpeg"
    url = inbound.form["MediaUrl0"]
    assert url.startswith(twilio_sim.url + "/2010-04-01/Accounts/")
    assert httpx.get(url, auth=AUTH).content == b"\xff\xd8jpeg"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url + ".json", auth=AUTH).json()["parent_sid"] == result["sid"]
    # the store's handset gets the photo from the customer's proxy for it
    wait_until(lambda: twilio_sim.handset(STORE), what="store handset")
    assert twilio_sim.handset(STORE)[0]["from"] == P2
    assert twilio_sim.handset(STORE)[0]["media"][0]["filename"] == "floor.jpg"


def test_bad_media_on_inbound_is_refused(twilio_sim: SimHandle) -> None:
    for media in (
        "x",
        [{"contentType": "image/png"}],
        [{"contentType": "png", "dataBase64": "AAAA"}],
        [{"contentType": "image/png", "dataBase64": "not base64!"}],
        [{"contentType": "image/png", "dataBase64": "AAAA", "extra": 1}],
    ):
        answer = httpx.post(
            f"{twilio_sim.url}/_sim/inbound",
            json={"from": CUSTOMER, "to": P1, "body": "x", "media": media},
        )
        assert answer.status_code == 400, media
        assert answer.json()["reason"] == "invalid_inbound"
