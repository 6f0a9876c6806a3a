"""Lead-tracking connectors: Botpress, RLM, DHQ (WEB2TEXT leads, after Twilio) and
Act-On, FloorForce (ACTON leads), plus Nexus as the source of retailers and stores.
See docs/relay.md, "Lead-tracking connectors", and ../shared/connectors.md.

`registry.Connectors` is what a relay process builds from `settings.ConnectorSettings`
(kept light here: the settings are read before anything else is imported)."""
