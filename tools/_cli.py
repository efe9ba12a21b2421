"""Helpers shared by the command-line tools: error reporting, AWS sessions, text tables.

The tools promise a one-line error message and a non-zero exit code instead of a
traceback; everything that can go wrong for a user funnels through `CliError` or
`describe_aws_error` here.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import boto3
import botocore.exceptions

from tools._entry import EXIT_INTERRUPTED, EXIT_USAGE

EXIT_OK = 0
EXIT_FAILURE = 1  # the run went through but something failed (events not sent, rows skipped in strict mode)

# A factory that returns a boto3 client for a service name; main() functions take one so
# tests can hand in moto-backed or Stubber-wrapped clients.
ClientFactory = Callable[..., Any]  # (service, **client options) -> a boto3 client


class CliError(Exception):
    """An error the user can fix; printed as `prog: error: message` without a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


class ArgumentParser(argparse.ArgumentParser):
    """argparse parser that raises CliError instead of exiting, so main(argv) can return a code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        # Reached by --help; keep argparse's behaviour (print and stop) but through an exception
        # the caller turns into a return value.
        if message:
            self._print_message(message, sys.stderr)
        raise _ParserExit(status)


class _ParserExit(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def run_main(
    prog: str,
    body: Callable[[], int],
    stderr: TextIO | None = None,
    *,
    stdout: TextIO | None = None,
    lost_on_broken_pipe: str = "everything was written",
) -> int:
    """Run a tool body, turning expected failures into messages and exit codes.

    `lost_on_broken_pipe` completes "output closed before ..." when the reader of `stdout`
    goes away (`--json | head`).
    """
    stderr = stderr or sys.stderr
    try:
        return body()
    except BrokenPipeError:
        if stdout is sys.stdout:
            # Python's own recipe: point stdout at /dev/null so the flush at exit raises nothing.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"{prog}: error: output closed before {lost_on_broken_pipe} (broken pipe)", file=stderr)
        return EXIT_FAILURE
    except _ParserExit as exc:
        return exc.status
    except CliError as exc:
        print(f"{prog}: error: {exc}", file=stderr)
        return exc.exit_code
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(f"{prog}: error: {describe_aws_error(exc)}", file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=stderr)
        return EXIT_INTERRUPTED


def describe_aws_error(exc: Exception) -> str:
    """A short, actionable description of a boto3/botocore error."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE (or pass --profile), "
            "environment variables, or run where an IAM role is available"
        )
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return "no AWS region configured: pass --region or set AWS_DEFAULT_REGION"
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return f"AWS profile not found: {exc}"
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "request")
        return f"{operation} failed: {error.get('Code', 'Unknown')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def aws_error_code(exc: BaseException) -> str | None:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def boto3_client_factory(profile: str | None, region: str | None) -> ClientFactory:
    """Clients from one boto3 session; `config` lets a caller switch off botocore's own retries."""
    session = boto3.Session(profile_name=profile, region_name=region)

    def make_client(service: str, **kwargs: Any) -> Any:
        return session.client(service, **kwargs)

    return make_client


@dataclass(frozen=True)
class Option:
    """One `add_argument` call: the flags and argparse's keyword settings."""

    flags: tuple[str, ...]
    settings: dict[str, Any]


def option(*flags: str, **settings: Any) -> Option:
    return Option(flags, settings)


@dataclass(frozen=True)
class OneOf:
    """Options that exclude each other (an argparse mutually exclusive group)."""

    options: tuple[Option, ...]


@dataclass(frozen=True)
class OptionGroup:
    """A titled section of --help; its entries are added in order."""

    title: str
    entries: tuple[Option | OneOf, ...]


def add_option_groups(parser: argparse.ArgumentParser, groups: Sequence[OptionGroup]) -> None:
    """Add the groups in order: the order of --help and of the usage line."""
    for group in groups:
        section = parser.add_argument_group(group.title)
        for entry in group.entries:
            if isinstance(entry, OneOf):
                exclusive = section.add_mutually_exclusive_group()
                for item in entry.options:
                    exclusive.add_argument(*item.flags, **item.settings)
            else:
                section.add_argument(*entry.flags, **entry.settings)


AWS_OPTIONS = OptionGroup(
    "AWS",
    (
        option("--profile", help="AWS profile name (default: the usual boto3 lookup)"),
        option("--region", help="AWS region (default: AWS_DEFAULT_REGION, else the profile's region)"),
    ),
)


def parse_timestamp(text: str, option: str) -> datetime:
    """ISO 8601 (naive means UTC) or epoch seconds, returned as an aware UTC datetime."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise CliError(f"{option}: {text!r} is not a time")
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text)  # accepts a trailing Z since Python 3.11
    except ValueError:
        raise CliError(
            f"{option}: {text!r} is not a time; use ISO 8601 (2024-05-01T12:00:00Z) or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right_align: set[int] | None = None) -> str:
    """Plain-text table; columns in `right_align` (by index) are right-aligned (numbers)."""
    right_align = right_align or set()
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def render(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right_align else cell.ljust(widths[i]) for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    lines = [render(headers), render(["-" * w for w in widths])]
    lines.extend(render(row) for row in rows)
    return "\n".join(lines)


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 day`, `2 days`; `plural_noun` where adding "s" is wrong (`metric series`)."""
    return f"{count:,} {noun if count == 1 else plural_noun or noun + 's'}"


def format_number(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"
