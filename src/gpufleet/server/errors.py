"""Errors the services raise; ``app.py`` maps each to its HTTP status with the message as
``detail``. Messages name the field or the object they are about."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInputError(ServiceError):
    """Input the schema cannot judge: an unknown project or GPU model, a gang too large."""

    status_code = 400


class UnauthorizedError(ServiceError):
    """No token, an unknown one or an expired one."""

    status_code = 401


class ForbiddenError(ServiceError):
    """Not allowed for this role or project."""

    status_code = 403


class NotFoundError(ServiceError):
    status_code = 404


class ConflictError(ServiceError):
    """A change the current state refuses (job state machine, duplicate name)."""

    status_code = 409


class UnprocessableError(ServiceError):
    """Well-formed input that cannot be used as it is (a report missing what was asked)."""

    status_code = 422
