"""The original service's end-to-end cases (`broadlume/Web2TextLeadProcessor`,
`modules/e2e_tests/src/tests/`), ported as the relay's own black-box
compatibility tests: one test per case, against a real relay on DynamoDB Local
with the Twilio simulator standing in for Twilio (and its directory for Nexus).

The original's assertions were no-ops (`expect(a === b)`, boolean supertest
callbacks); here each case asserts the exact answer. Where the relay keeps a
documented fix of the original's faults (DESIGN.md, "Faults of the original to
fix"), the test asserts the fixed answer and says so:

- test_lead_auth.py, test_dealer_auth.py, test_admin_auth.py: the three
  Authentication suites (Lead, Dealer, Admin);
- test_dealer_status.py: DealerStatus;
- test_lead_creation.py: LeadCreation (WEB2TEXT and ACTON);
- test_lead_close.py: LeadClose.
"""
