"""Benchmarks, run on demand: ``python -m bench [--quick] [--only NAME]``.

Each prints one JSON line ``{"name", "value", "unit", "baseline", "ratio"}`` with its
baseline measured in the same run on the same machine. Nothing here runs in the tests.
"""
