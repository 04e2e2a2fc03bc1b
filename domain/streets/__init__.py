"""Streets: a city's OpenStreetMap network as routable segments (docs/streets.md).

Tag rules, legality, infrastructure classes and danger priors (rules), the tables (tables), the
segment reads and the atomic swap (store), and the import of an .osm.pbf extract (service).
"""
