"""The one domain error type.

Every refused operation raises :class:`DomainError` with a stable ``code`` and details naming what
is wrong. Views, the API and the admin translate it (HTTP 400/404/409, a form error, an admin
message) so all three always agree.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused operation: ``code`` is stable for scripts, ``detail`` is for people."""

    #: HTTP status the API answers with. 400 = bad request/refused transition, 409 = conflict.
    status = 400

    def __init__(self, code: str, detail: str, *, status: int | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.extra}

    def __str__(self) -> str:
        return self.detail
