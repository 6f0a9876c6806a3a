"""Names of the relay-owned lead attributes the connectors keep (no imports: the
lead repository's views read them too)."""

#: the connectors' intents, unconfirmed and done steps, by integration (progress.py)
PROGRESS_ATTR = "ConnectorProgress"
