"""``canonical_http``: in-house sources that already serve canonical events."""
