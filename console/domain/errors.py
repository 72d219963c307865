"""Named domain errors. Views map each to a 4xx with its message; none of them carries identity."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes. `status` is the HTTP status a view should answer."""

    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status = 404
    code = "not_found"


class ContactNotFound(NotFound):
    code = "contact_not_found"


class OperatorNotFound(NotFound):
    code = "operator_not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class ContactUnavailable(Conflict):
    """Another operator holds the contact, or it is no longer waiting."""

    code = "contact_unavailable"


class AlreadyAccepted(Conflict):
    code = "already_accepted"


class OperatorUnavailable(Conflict):
    """The operator's presence does not allow taking contacts (break, offline)."""

    code = "operator_unavailable"


class AtCapacity(Conflict):
    code = "at_capacity"


class NotYourContact(DomainError):
    status = 403
    code = "not_your_contact"


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class AuthenticationFailed(DomainError):
    status = 401
    code = "authentication_failed"


class AccountLocked(DomainError):
    status = 423
    code = "account_locked"
