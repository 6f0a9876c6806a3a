"""QA suite of the hosted relay (issue #4, "Tests"), against the real relay on
DynamoDB Local with the Twilio simulator:

- test_fuzz.py: schemathesis over /openapi.json, zero 5xx, error bodies checked;
- test_auth_matrix.py: every route x every kind of key, legacy keys and
  `admin migrate-keys`, staff location/retailer scoping;
- test_webhook_security.py: X-Twilio-Signature on the signed webhooks,
  checkOptInStatus's key;
- test_bad_input.py: bad input of every kind on the lead routes, duplicates;
- test_logs.py: a real `web2text-relay serve` process logs no phone number and
  no secret.

Run: `.venv/bin/pytest tests/relay_qa -q` (about 2 minutes on an idle machine);
the long fuzz run: `W2T_QA_FUZZ_SLOW_EXAMPLES=100 .venv/bin/pytest
tests/relay_qa/test_fuzz.py -k long`.
"""
