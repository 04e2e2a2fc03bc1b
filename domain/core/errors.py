"""Domain errors: raised where a rule lives, mapped to HTTP once, in `api.problems`."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every rule violation the API turns into a problem document.

    `code` is a stable, machine-readable slug (it becomes the problem `type`);
    `detail` is a human sentence; `extra` carries structured members such as
    the missing consent purpose.
    """

    code = "domain-error"
    title = "Request cannot be processed"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class InvalidInput(DomainError):
    """A value is well-formed but breaks a rule; `field` is its path in the request."""

    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, field: str, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, **extra)
        self.field = field


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Forbidden"


class ConsentRequired(Forbidden):
    """Processing for `purpose` has no effective consent; a guardian may be needed."""

    code = "consent-required"
    title = "Consent required"

    def __init__(self, purpose: str, *, guardian_needed: bool) -> None:
        if guardian_needed:
            detail = (
                f"A guardian must consent to '{purpose}' before this account can use it "
                "(the user is under 13)."
            )
        else:
            detail = f"This needs your consent for '{purpose}'. Grant it with PUT /me/consents/{purpose}."
        super().__init__(detail, purpose=purpose, guardianConsentRequired=guardian_needed)
        self.purpose = purpose
        self.guardian_needed = guardian_needed


class NotFound(DomainError):
    code = "not-found"
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"


class TooManyRequests(DomainError):
    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, retryAfter=retry_after_s)
        self.retry_after_s = retry_after_s
