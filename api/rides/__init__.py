"""Rides over HTTP: /rides (upload as JSON or GPX, list, read, delete)."""
