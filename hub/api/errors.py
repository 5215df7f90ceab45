"""Every API error has one shape: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from aiohttp import web

__all__ = ["ApiError", "error_response"]


class ApiError(Exception):
    """Raised by a view; the middleware turns it into the JSON error shape."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def error_response(
    status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> web.Response:
    """``fields``: one ``{field, message}`` per problem, when the body was wrong."""
    headers = {"WWW-Authenticate": 'Bearer realm="hub"'} if status == 401 else None
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return web.json_response({"error": error}, status=status, headers=headers)
