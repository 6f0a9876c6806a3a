"""Programmable Messaging's send and list (2010-04-01) through the real twilio SDK: a
text from a pool number reaches the handset, is listed newest first by To/From, and
is fetched by its sid; Twilio's refusals the relay acts on (21606, 21610)."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from tests.sandbox.helpers import CUSTOMER, P1, P2, text
from tests.support.twilio_sim import sim_client, wait_until


@pytest.fixture
def client(twilio_sim: SimHandle) -> Client:
    return sim_client(twilio_sim)


def test_a_sent_text_reaches_the_handset_and_is_listed(
    client: Client, twilio_sim: SimHandle
) -> None:
    first = client.messages.create(to=CUSTOMER, from_=P1, body="one")
    second = client.messages.create(to=CUSTOMER, from_=P1, body="two")
    client.messages.create(to=CUSTOMER, from_=P2, body="from another number")
    assert (first.from_, first.to, first.direction) == (P1, CUSTOMER, "outbound-api")
    wait_until(lambda: len(twilio_sim.handset(CUSTOMER)) == 3, what="three texts delivered")
    listed = client.messages.list(to=CUSTOMER, from_=P1, page_size=1)  # paged one by one
    assert [m.sid for m in listed] == [second.sid, first.sid]
    assert client.messages(first.sid).fetch().body == "one"
    by_service = client.messages.create(
        to=CUSTOMER,
        messaging_service_sid=twilio_sim.state.config.messaging_service_sid,
        body="via the service",
    )
    assert by_service.from_ in twilio_sim.state.pool


def test_twilio_refuses_a_foreign_sender_and_an_unsubscribed_recipient(
    client: Client, twilio_sim: SimHandle
) -> None:
    with pytest.raises(TwilioRestException) as foreign:
        client.messages.create(to=CUSTOMER, from_="+19995550100", body="hi")
    assert (foreign.value.status, foreign.value.code) == (400, 21606)
    text(twilio_sim, CUSTOMER, P1, "STOP")
    wait_until(lambda: twilio_sim.handset(CUSTOMER), what="STOP confirmation")
    with pytest.raises(TwilioRestException) as unsubscribed:
        client.messages.create(to=CUSTOMER, from_=P1, body="hi")
    assert (unsubscribed.value.status, unsubscribed.value.code) == (400, 21610)
    assert twilio_sim.state.sent_texts(to=CUSTOMER) == []
