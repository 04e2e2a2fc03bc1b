"""Hazards: reports clustered per cell and category, confirmations, triage (tables, rules, store,
service), the nl/fr/en category catalogue (categories.py, data in categories.json), and the events
others react to (events)."""
