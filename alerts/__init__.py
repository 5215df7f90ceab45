"""Drift rules and the alert engine: from projections to notifications people act on.

Pure parts (rules, forecast, engine, dispatch, payloads, digests) take state and time and
return new state; the hub's worker (``hub.alerting``) does the I/O around them.
"""
