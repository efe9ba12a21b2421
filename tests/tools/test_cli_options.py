"""The declarative option tables of tools/_cli.py: argparse gets the groups, order and exclusions they state."""

from __future__ import annotations

import pytest

from tools._cli import ArgumentParser, CliError, OneOf, OptionGroup, add_option_groups, option

TABLES = (
    OptionGroup("input", (OneOf((option("--dir"), option("--s3"))), option("--days", type=float))),
    OptionGroup("output", (option("--json", action="store_true"),)),
)


def parser() -> ArgumentParser:
    made = ArgumentParser(prog="tool")
    add_option_groups(made, TABLES)
    return made


def test_options_of_one_of_exclude_each_other() -> None:
    assert parser().parse_args(["--dir", "x", "--days", "2"]).days == 2.0
    with pytest.raises(CliError, match="not allowed with argument"):
        parser().parse_args(["--dir", "x", "--s3", "s3://b/"])


def test_help_lists_the_groups_and_options_in_table_order() -> None:
    text = parser().format_help().split("\n\n", 1)[1]  # after the usage line
    positions = [text.index(word) for word in ("input:", "--dir DIR", "--s3 S3", "--days DAYS", "output:", "--json")]
    assert positions == sorted(positions)
    assert "[--dir DIR | --s3 S3]" in parser().format_usage()
