"""What the worker's routes and tasks use, held in one typed object.

Built once in ``hub.wiring`` and handed to every API module with each call, instead of
attributes hung on the Faust app: a reader sees every dependency a handler has, and mypy
checks each use.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.state import ConnectState
from connectors.webhooks import ReplayGuard
from core.metrics import Metrics
from core.publish import AsyncPublisher
from core.secrets import SecretResolver
from core.settings import Settings
from hub.alerting import AlertingService
from hub.app import HubApp
from hub.dashboard.session import SessionKeys
from hub.fold_loop import FoldLoop
from hub.read_model import ReadModel
from hub.theme_service import ThemeService

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """The worker's services; ``app`` is the running Faust worker (leadership, assignment)."""

    app: HubApp
    settings: Settings
    bootstrap_servers: str
    api_token: str
    metrics: Metrics
    secrets: SecretResolver
    publisher: AsyncPublisher  # origin "api"; webhooks count under their own origin
    connect_state: ConnectState
    read_model: ReadModel
    fold_loop: FoldLoop
    alerting: AlertingService
    webhook_guard: ReplayGuard
    sessions: SessionKeys  # the dashboard's sign-in cookies and CSRF tokens
    themes: ThemeService  # feedback themes over the read model's requests
