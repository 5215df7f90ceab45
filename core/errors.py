"""One error root, with families named by what the caller should do about them."""

from __future__ import annotations

__all__ = [
    "HubError",
    "FatalError",
    "ConfigError",
    "RetriableError",
    "SkippableError",
    "BrokerUnavailableError",
]


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class FatalError(HubError):
    """Retrying will not help: a person has to change something."""


class ConfigError(FatalError):
    """A setting or a configuration file is wrong; the message names it."""


class RetriableError(HubError):
    """Worth trying again, after ``retry_after`` seconds when the source said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BrokerUnavailableError(RetriableError):
    """The Kafka broker did not answer."""


class SkippableError(HubError):
    """This one record cannot be processed; dead-letter it and carry on."""
