"""Errors of the custom-resource handlers, and the AWS error code of a botocore ClientError."""

from __future__ import annotations

from botocore.exceptions import ClientError


class HandlerError(Exception):
    """A request that cannot be honoured; the message reaches CloudFormation."""


class ResourceFailedError(HandlerError):
    """Personalize reported a FAILED status for a resource."""


class OperationNotDeclaredError(HandlerError):
    """A handler called an operation its API_OPERATIONS (and IAM policy) lacks."""


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None
