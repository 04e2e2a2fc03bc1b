"""Hazards over HTTP (/hazards, /hazard-categories) and the Open311 GeoReport v2 facade (/open311/v2)."""
