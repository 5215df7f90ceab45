"""Every API error has one shape: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from aiohttp import web

__all__ = ["ApiError", "error_response"]


class ApiError(Exception):
    """Raised by a view; the middleware turns it into the JSON error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="hub"'} if status == 401 else None
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )
