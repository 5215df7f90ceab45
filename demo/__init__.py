"""The demo: a generated organisation served by the emulators, synced by real connectors.

``hub up --demo`` runs the whole product with no Jira at hand; ``hub demo seed --out DIR``
writes the generated data as files to look at.
"""
