"""Pure folds from canonical events to the state product ops asks about.

Every fold here is ``(state | None, event) -> state`` and knows nothing of Kafka.
``projections.tracking`` wraps any fold so a replayed or re-delivered event changes nothing.
"""
