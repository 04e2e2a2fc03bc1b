"""Safe routes: the ridden-edge and confirmed-hazard rules (rules), the graph's inputs (store), the
per-worker graph cache (service), and routing's index on rides (tables). The graph and search are
geo.routing."""
