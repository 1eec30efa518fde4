"""The error a request cannot get past, whichever layer finds it.

Service code raises :class:`ServiceError`; the HTTP layer answers it in the
:class:`~protocol.ErrorOut` shape.  It lives apart from both so that either can
import it.
"""

from __future__ import annotations

from i18n import _


class ServiceError(Exception):
    """A request that cannot be carried out; ``code`` is stable, ``message`` translated."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def not_found() -> ServiceError:
    return ServiceError(404, "not_found", _("Not found."))
