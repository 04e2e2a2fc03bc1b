"""Privacy as a capability of its own: consent, guardians, trimming, zones, self-service export and
erasure, retention, and the tables privacy owns (``tables.py``)."""
