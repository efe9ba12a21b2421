"""The partition, region and account a handler runs in, and the Personalize ARNs built from them.

ARNs are built, never listed: the IAM policies are scoped to exact ARNs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import address_book
from .errors import HandlerError


@dataclass(frozen=True)
class AccountContext:
    partition: str
    region: str
    account: str


def account_context(context: Any) -> AccountContext:
    """Partition, region and account of the running Lambda function."""
    arn = getattr(context, "invoked_function_arn", None) or ""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda":
        raise HandlerError(f"cannot read partition/region/account from function ARN {arn!r}")
    return AccountContext(partition=parts[1], region=parts[3], account=parts[4])


def personalize_arn(context: Any, resource_type: str, name: str) -> str:
    where = account_context(context)
    return address_book.personalize_arn(where.partition, where.region, where.account, resource_type, name)
