"""Open data: NGSI-LD entities (rules), what is public (store), the daily dump (service), and the
push to a city's context broker (broker)."""
