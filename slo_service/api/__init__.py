"""HTTP API (FastAPI): thin routers over the runtime; OpenAPI at /docs."""
