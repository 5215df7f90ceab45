"""The hub's kernel: what every other package stands on, and nothing of theirs.

Canonical events and their codec, the error families, topics, settings, validation,
logging with secret scrubbing, secret references, metrics, and the Kafka plumbing
(producing, following topics, reading the log). It imports no other package of ours, so a
connector, a projection or a drift rule can be read and tested with this package alone.
"""
