"""The HTTP API, served by the worker's Faust web server: health, metrics, /api/v1."""
