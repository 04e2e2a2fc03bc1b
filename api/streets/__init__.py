"""The street network over HTTP: the basemap's segments, the network's extent, the GraphHopper model."""
