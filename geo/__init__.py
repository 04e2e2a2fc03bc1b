"""Pure geometry over trace points, H3 cells and graphs: no database, no HTTP, nothing of the project.

Positions are named ``lat``/``lon`` at every boundary; GeoJSON output is
``[lon, lat]`` (RFC 7946). Import the modules directly.
"""
