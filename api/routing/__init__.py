"""Safe routes over HTTP: GET /routes/safe."""
