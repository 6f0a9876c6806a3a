"""The lead-systems simulator: each system's contract (connectors.md), its faults,
and what it records, driven over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from app.sandbox.lead_systems_sim import (
    LeadSimControl,
    LeadSimControlError,
    LeadSystemsHandle,
    relay_env,
)


def test_nexus_retailers_need_basic_auth_and_stores_a_fresh_cognito_token(
    lead_systems: LeadSystemsHandle,
) -> None:
    env = lead_systems.env()
    control = LeadSimControl(lead_systems.url)
    control.put_nexus_retailer(
        {"id": "r1", "name": "Acme", "rlm_api_key": "k", "subscriptions": [{"status": "Active"}]}
    )
    control.put_nexus_store({"location_id": "l1", "retailer_id": "r1", "universal_id": "u1"})
    auth = (env["NEXUS_API_USERNAME"], env["NEXUS_API_PASSWORD"])
    assert httpx.get(env["NEXUS_API_URL"] + "retailers/r1").status_code == 401
    assert httpx.get(env["NEXUS_API_URL"] + "retailers/r1", auth=auth).json()["rlm_api_key"] == "k"
    assert httpx.get(env["NEXUS_API_URL"] + "retailers/nope", auth=auth).status_code == 404
    subs = httpx.get(env["NEXUS_API_URL"] + "retailers/r1/subscriptions", auth=auth).json()
    assert subs == [{"status": "Active"}]

    store_url = env["NEXUS_AWS_API_URL"] + "nexus/location"
    assert httpx.get(store_url, params={"location_id": "l1"}).status_code == 401
    control._call("POST", "/cognito", {"ttl_s": 1})
    bad = httpx.post(
        env["NEXUS_COGNITO_TOKEN_URL"],
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    )
    assert bad.status_code == 400
    token = httpx.post(
        env["NEXUS_COGNITO_TOKEN_URL"],
        data={
            "grant_type": "client_credentials",
            "client_id": env["NEXUS_COGNITO_CLIENT_ID"],
            "client_secret": env["NEXUS_COGNITO_CLIENT_SECRET"],
        },
    ).json()
    assert token["expires_in"] == 1
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    found = httpx.get(store_url, params={"location_id": "l1"}, headers=headers).json()
    assert found == {"data": [{"location_id": "l1", "retailer_id": "r1", "universal_id": "u1"}]}
    missing = httpx.get(store_url, params={"location_id": "zz"}, headers=headers)
    assert missing.status_code == 404
    by_retailer = httpx.get(
        env["NEXUS_AWS_API_URL"] + "nexus/retailerLocations",
        params={"retailer_id": "r1"},
        headers=headers,
    ).json()
    assert [s["location_id"] for s in by_retailer["data"]] == ["l1"]
    deadline = time.monotonic() + 5
    while httpx.get(store_url, params={"location_id": "l1"}, headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "the token never expired"
        time.sleep(0.1)


def test_rlm_leads_and_notes(lead_systems: LeadSystemsHandle) -> None:
    env = lead_systems.env()
    control = LeadSimControl(lead_systems.url)
    control.set_rlm_mappings([{"dhq_store_id": "u1", "location_name": "Gastonia, NC"}])
    mappings = env["RLM_API_URL"] + "api/v1/dhq_store_rlm_location_mappings.json"
    assert httpx.get(mappings).status_code == 401
    god = {"X-Api-Key": env["RLM_GOD_API_KEY"], "X-User-Email": env["RLM_GOD_EMAIL"]}
    assert httpx.get(mappings, headers=god).json()[0]["location_name"] == "Gastonia, NC"
    created = httpx.post(
        env["RLM_API_URL"] + "api/key-1/leads", json={"lead": {"first_name": "Pat"}}
    ).json()
    assert created["result"] == "Success" and created["lead_uuid"]
    extra = httpx.post(env["RLM_API_URL"] + "api/key-1/leads", json={"lead": {"email": "x"}})
    assert extra.status_code == 422 and extra.json()["result"] == "Error"
    note = {
        "lead_uuid": created["lead_uuid"],
        "sender_phone": "+13125550100",
        "sender_name": "Pat",
        "message": "\n\nhi\n",
        "date": "2026-01-01T00:00:00Z",
    }
    assert httpx.post(env["RLM_API_URL"] + "api/note_from_sms", json=note).json()["result"] == (
        "Success"
    )
    unknown = httpx.post(env["RLM_API_URL"] + "api/note_from_sms", json={**note, "lead_uuid": "x"})
    assert unknown.json() == {"result": "Error", "messages": "Lead not found"}
    [lead] = control.rlm_leads()
    assert lead["api_key"] == "key-1" and [n["message"] for n in lead["notes"]] == ["\n\nhi\n"]


def test_dhq_inquiries_lookup_and_comments(lead_systems: LeadSystemsHandle) -> None:
    env = lead_systems.env()
    base = env["DHQ_API_URL"] + "retailer/rest/"
    auth = {"Authorization": f"Bearer {env['DHQ_API_KEY']}"}
    inquiry = {
        "occurred_at": "2026-01-01T00:00:00Z",
        "inquiry": {
            "external_id": "lead-1",
            "email": "web2text+13125550100@broadlume.com",
            "name": "Pat",
            "contact_method": "cys_inquiry",
        },
    }
    assert httpx.post(base + "r1/store_inquiries", json=inquiry).status_code == 401
    done = httpx.post(base + "r1/store_inquiries", json=inquiry, headers=auth).json()
    assert done["status"] == "success"
    lead_id = done["data"]["lead"]["id"]
    found = httpx.get(
        base + "r1/store_inquiries", params={"external_id": "lead-1"}, headers=auth
    ).json()
    assert found["data"]["store_inquiries"][0]["lead_id"] == lead_id
    nothing = httpx.get(base + "r1/store_inquiries", params={"external_id": "x"}, headers=auth)
    assert nothing.json()["data"]["store_inquiries"] == []
    comment = {"comment": {"body": "**| Pat**: hi", "author_id": 262}}
    ok = httpx.post(base + f"leads/{lead_id}/comments", json=comment, headers=auth).json()
    assert ok["status"] == "success"
    gone = httpx.post(base + "leads/nope/comments", json=comment, headers=auth)
    assert gone.status_code == 404 and gone.json()["status"] == "failure"
    [stored] = LeadSimControl(lead_systems.url).dhq_inquiries()
    assert [c["body"] for c in stored["comments"]] == ["**| Pat**: hi"]


def test_botpress_acton_and_floorforce(lead_systems: LeadSystemsHandle) -> None:
    env = lead_systems.env()
    control = LeadSimControl(lead_systems.url)
    control.add_botpress_row({"conversationId": "c1", "summary": "Wants oak", "topics": ["oak"]})
    find = env["BOTPRESS_API_URL"] + "/v1/tables/Int_Connor_Conversations_Table/rows/find"
    headers = {
        "Authorization": f"Bearer {env['BOTPRESS_API_TOKEN']}",
        "x-bot-id": env["BOTPRESS_BOT_ID"],
        "x-workspace-id": env["BOTPRESS_WORKSPACE_ID"],
    }
    body = {"filter": {"conversationId": {"$eq": "c1"}}}
    rows = httpx.post(find, json=body, headers=headers).json()["rows"]
    assert rows[0]["summary"] == "Wants oak"
    assert httpx.post(find, json=body).status_code == 401

    grant = {
        "grant_type": "password",
        "username": env["ACTON_USERNAME"],
        "password": env["ACTON_PASSWORD"],
        "client_id": env["ACTON_CLIENT_ID"],
        "client_secret": env["ACTON_CLIENT_SECRET"],
    }
    token = httpx.post(env["ACTON_BASE_URL"] + "/token", data=grant).json()["access_token"]
    assert (
        httpx.post(env["ACTON_BASE_URL"] + "/token", data={**grant, "password": "x"}).status_code
        == 401
    )
    record = httpx.post(
        env["ACTON_BASE_URL"] + "/api/1/list/l_9/record",
        json={"First Name": "Pat"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert record["status"] == "success"
    assert control.acton_records() == {"l_9": [{"First Name": "Pat"}]}

    ff = env["FF_API_URL"] + "/external/postactonformdata"
    assert httpx.post(ff, data={"First Name": "Pat", "Last Name": "Doe"}).status_code == 200
    assert httpx.post(ff, json={"First Name": "Pat", "Last Name": "Doe"}).status_code == 415
    assert httpx.post(ff, data={"First Name": "Pat"}).status_code == 400
    assert control.floorforce_posts() == [{"First Name": "Pat", "Last Name": "Doe"}]


def test_faults_per_system_and_the_received_log(lead_systems: LeadSystemsHandle) -> None:
    control = LeadSimControl(lead_systems.url)
    rlm = lead_systems.env()["RLM_API_URL"] + "api/k/leads"
    control.set_faults({"rlm": {"fail_next": 2, "fail_status": 502}})
    assert [httpx.post(rlm, json={"lead": {}}).status_code for _ in range(3)] == [502, 502, 200]
    assert len(control.rlm_leads()) == 1  # the failed ones did nothing
    control.set_faults({"rlm": {"rate_timeout": 1}})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(rlm, json={"lead": {}}, timeout=0.3)
    control.set_faults({"rlm": {"rate_timeout_after_commit": 1}, "dhq": {"rate_5xx": 1}})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(rlm, json={"lead": {}}, timeout=0.3)
    assert len(control.rlm_leads()) == 2  # acted, though the caller never heard of it
    dhq = lead_systems.env()["DHQ_API_URL"] + "retailer/rest/r/store_inquiries"
    assert httpx.post(dhq, json={}).status_code in (500, 503)
    control.set_faults({"rlm": {"latency_ms": 150}})
    started = time.monotonic()
    assert httpx.post(rlm, json={"lead": {}}).status_code == 200
    assert time.monotonic() - started >= 0.15
    assert lead_systems.faults.snapshot()["dhq"]["rate_5xx"] == 1.0  # other systems kept
    control.set_faults({"rlm": {"fail_next": 1, "path_contains": "note_from_sms"}})
    assert httpx.post(rlm, json={"lead": {}}).status_code == 200  # another path: untouched
    control.clear_faults()
    assert lead_systems.faults.snapshot() == {}
    received = control.received("rlm")
    assert [r["fault"] for r in received] == [
        "error",
        "error",
        None,
        "hang",
        "hang_after",
        None,
        None,
    ]
    assert received[2]["body"] == {"lead": {}} and received[2]["status"] == 200
    with pytest.raises(LeadSimControlError) as bad:
        control.set_faults({"rlm": {"rate_5xx": 2}})
    assert bad.value.reason == "invalid_faults"
    with pytest.raises(LeadSimControlError):
        control.set_faults({"twilio": {}})


def test_the_received_log_keeps_no_secret(lead_systems: LeadSystemsHandle) -> None:
    env = lead_systems.env()
    httpx.post(
        env["DHQ_API_URL"] + "retailer/rest/r/store_inquiries",
        json={},
        headers={"Authorization": f"Bearer {env['DHQ_API_KEY']}"},
    )
    [entry] = lead_systems.received("dhq")
    assert entry["auth"] == "Bearer" and env["DHQ_API_KEY"] not in repr(entry)


def test_cli_prints_the_relay_environment() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app.sandbox.lead_systems_sim.cli", "--port", "4999", "--print-env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = dict(line.split("=", 1) for line in out.splitlines())
    from app.sandbox.lead_systems_sim import LeadSimConfig

    assert lines == relay_env("http://127.0.0.1:4999", LeadSimConfig())


def test_one_room_per_job() -> None:
    """Small modules and functions; the state knows nothing of HTTP."""
    import ast
    from pathlib import Path

    import app.sandbox.lead_systems_sim as pkg

    root = Path(pkg.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        assert len(path.read_text().splitlines()) <= 400, path
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert (node.end_lineno or node.lineno) - node.lineno < 60, (path, node.name)
            if path.parent.name == "state" and isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith(("fastapi", "starlette")), path
