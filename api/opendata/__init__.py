"""Open data over HTTP: the read-only NGSI-LD context API (/ngsi-ld/v1)."""
