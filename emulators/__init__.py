"""Local HTTP emulators of the sources' real APIs (Jira, HubSpot, Salesforce, Zendesk,
Intercom, a canonical tracker), built from the recorded samples in ``api-samples``.

Tests and benchmarks run connectors against them; the demo (``hub up --demo``) serves a
generated organisation from them. They reproduce each contract: auth, pagination,
incremental cursors, 429 with Retry-After, and the errors the real APIs answer.
"""
