"""Planner exports over HTTP (/planner/*) and the planners' offline map page (/planner/map)."""
