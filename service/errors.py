"""The domain's errors: what a service refuses, and why, in words for people and a code for programs.

The domain raises these; each entry point says them its own way (service/http_errors.py turns them
into the API's JSON envelope or an error page, the command line into a message and a non-zero
exit). Nothing here knows HTTP.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal: `code` is stable for programs, `message` is meant for the person who asked."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """The thing does not exist, or belongs to another account (which is the same to the asker)."""

    code = "not_found"

    def __init__(self, what: str = "resource") -> None:
        super().__init__(f"{what} not found")


class Conflict(DomainError):
    """The request clashes with what is stored (a name taken, a mode already set, a replay)."""

    code = "conflict"


class InvalidInput(DomainError):
    """The input cannot be used; `part` names where in it the problem is, when one part is, and
    `expected` the kind of value it wanted there (date, number, ...), for pages to say in words."""

    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, part: str | None = None,
                 expected: str | None = None) -> None:
        super().__init__(message, code=code)
        self.part = part
        self.expected = expected


class TooLarge(DomainError):
    """The input is over one of the limits that protect the service."""

    code = "payload_too_large"


class NotAuthenticated(DomainError):
    """No credentials, or credentials nobody issued."""

    code = "unauthorized"


class Forbidden(DomainError):
    """Known credentials that do not allow this."""

    code = "forbidden"


class TooManyAttempts(DomainError):
    """Too many tries (failed sign-ins, uploads) in a limit's window; `retry_after` seconds to wait."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(DomainError):
    """The database is busy with a long write; the same request may succeed in a moment."""

    code = "busy"
    retry_after = 5
