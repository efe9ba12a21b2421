"""Split a filter expression into tokens, refusing characters and quotes Personalize would refuse."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.filters.tree import FilterExpressionError


@dataclass(frozen=True)
class Token:
    kind: str  # WORD, STRING, NUMBER, PARAM, OP, PUNCT, END
    text: str
    position: int  # 1-based


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<STRING>"[^"]*")
  | (?P<unterminated>"[^"]*$)
  | (?P<single>'[^']*'?)
  | (?P<NUMBER>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<PARAM>\$[A-Za-z0-9_]*)
  | (?P<WORD>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<OP><=|>=|!=|<>|=|<|>)
  | (?P<PUNCT>[().,|*])
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None:
            raise FilterExpressionError(
                f"unexpected character {text[index]!r}; filter expressions use words, double-quoted"
                " strings, numbers, $PLACEHOLDERS, parentheses, commas, comparison operators and |",
                index + 1,
            )
        kind, value = match.lastgroup or "", match.group()
        if kind == "unterminated":
            raise FilterExpressionError("string is not closed; end it with a double quote (\")", index + 1)
        if kind == "single":
            raise FilterExpressionError(
                f"{value} uses single quotes; write string values in double quotes, e.g. \"{value.strip(chr(39))}\"",
                index + 1,
            )
        if kind == "OP" and value == "<>":
            raise FilterExpressionError("<> is not an operator here; use != (or NOT IN for strings)", index + 1)
        if kind != "space":
            tokens.append(Token(kind, value, index + 1))
        index = match.end()
    tokens.append(Token("END", "", len(text) + 1))
    return tokens
