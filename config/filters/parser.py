"""The recursive-descent parser of the documented grammar (config.filters), with the rules beyond it."""

from __future__ import annotations

import re

from config.filters.lexer import Token, tokenize
from config.filters.tree import (
    ACTIONS,
    CONTEXT_DATASETS,
    DATASETS,
    INTERACTION_DATASETS,
    MAX_DISTINCT_FIELDS,
    MAX_EXPRESSION_LENGTH,
    MAX_PLACEHOLDER_NAME,
    MAX_PLACEHOLDERS,
    TARGET_DATASETS,
    TARGETS,
    Condition,
    Expression,
    FieldRef,
    FilterExpression,
    FilterExpressionError,
    Literal,
    Placeholder,
    Value,
)


def _describe(token: Token) -> str:
    return "the end of the expression" if token.kind == "END" else repr(token.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def word_is(self, *words: str) -> bool:
        return self.token.kind == "WORD" and self.token.text.upper() in words

    def expect_word(self, *words: str, fix: str) -> str:
        if not self.word_is(*words):
            raise FilterExpressionError(f"expected {' or '.join(words)}, found {_describe(self.token)}; {fix}",
                                        self.token.position)
        return self.advance().text.upper()

    def expect_punct(self, punct: str, fix: str) -> Token:
        if not (self.token.kind == "PUNCT" and self.token.text == punct):
            raise FilterExpressionError(f"expected {punct!r}, found {_describe(self.token)}; {fix}", self.token.position)
        return self.advance()

    # grammar
    def parse(self) -> FilterExpression:
        expressions = [self.expression()]
        while self.token.kind == "PUNCT" and self.token.text == "|":
            self.advance()
            expressions.append(self.expression())
        if self.token.kind != "END":
            raise FilterExpressionError(
                f"unexpected {_describe(self.token)}; join conditions with AND or OR, add an IF condition"
                " only at the end, and combine whole expressions with |",
                self.token.position,
            )
        return FilterExpression(self.text, tuple(expressions))

    def expression(self) -> Expression:
        action = self.expect_word(*ACTIONS, fix="every expression starts with INCLUDE or EXCLUDE")
        if self.token.kind != "WORD" or self.token.text.lower() not in TARGETS:
            raise FilterExpressionError(
                f"expected ItemID, UserID or ActionID after {action}, found {_describe(self.token)}",
                self.token.position,
            )
        target = TARGETS[self.advance().text.lower()]
        self.expect_word("WHERE", fix=f"write {action} {target} WHERE Dataset.FIELD ...")
        conditions = [self.condition(target, None)]
        while self.word_is("AND", "OR"):
            connector = self.advance().text.upper()
            conditions.append(self.condition(target, connector, first=conditions[0]))
        user_conditions: list[Condition] = []
        if self.word_is("IF"):
            self.advance()
            user_conditions.append(self.user_condition(None))
            while self.word_is("AND", "OR"):
                connector_token = self.advance()
                if connector_token.text.upper() == "OR":
                    raise FilterExpressionError(
                        "an IF condition can be extended with AND only; use a second expression joined with | instead",
                        connector_token.position,
                    )
                user_conditions.append(self.user_condition("AND"))
            if self.word_is("IF"):
                raise FilterExpressionError("IF may appear only once, at the end of an expression; join conditions with AND",
                                            self.token.position)
        return Expression(action, target, tuple(conditions), tuple(user_conditions))

    def field_ref(self) -> FieldRef:
        start = self.token
        if start.kind != "WORD":
            raise FilterExpressionError(
                f"expected a field such as Items.GENRE, found {_describe(start)}", start.position)
        self.advance()
        if not (self.token.kind == "PUNCT" and self.token.text == "."):
            raise FilterExpressionError(
                f"{start.text!r} is not a Dataset.FIELD reference; write it as Items.{start.text},"
                f" Interactions.EVENT_TYPE, Users.{start.text} or CurrentItem.{start.text}",
                start.position,
            )
        self.advance()
        name_token = self.token
        if name_token.kind != "WORD":
            raise FilterExpressionError(f"expected a field name after '{start.text}.', found {_describe(name_token)}",
                                        name_token.position)
        self.advance()
        key = start.text.lower()
        if key in CONTEXT_DATASETS:
            context, dataset = CONTEXT_DATASETS[key]
            return FieldRef(dataset, name_token.text, start.position, context)
        if key not in DATASETS:
            raise FilterExpressionError(
                f"unknown dataset {start.text!r}; use Items, Interactions, Users, Actions, Action_Interactions,"
                " CurrentItem or CurrentUser",
                start.position,
            )
        return FieldRef(DATASETS[key], name_token.text, start.position)

    def condition(self, target: str, connector: str | None, first: Condition | None = None) -> Condition:
        ref = self.field_ref()
        if ref.context == "CurrentUser":
            raise FilterExpressionError(
                f"{ref} may be used only in the IF condition at the end: ... IF {ref} = $VALUE", ref.position)
        if ref.context == "CurrentItem":
            raise FilterExpressionError(
                f"{ref} is a value, not a condition's subject: write Items.{ref.name} = {ref}", ref.position)
        allowed = TARGET_DATASETS[target]
        if ref.dataset not in allowed:
            raise FilterExpressionError(
                f"{target} filters use {' or '.join(allowed)}, not {ref.dataset}", ref.position)
        if first is not None and ref.dataset != first.field.dataset:
            raise FilterExpressionError(
                f"{ref} uses the {ref.dataset} dataset, but this expression filters on {first.field.dataset}:"
                " conditions joined with AND/OR must use the first condition's dataset; put it in a second"
                f" expression joined with |, e.g. ... | {'INCLUDE'} {target} WHERE {ref} ...",
                ref.position,
            )
        if ref.dataset in INTERACTION_DATASETS and ref.name.upper() != "EVENT_TYPE":
            raise FilterExpressionError(
                f"{ref}: interactions can be filtered by EVENT_TYPE only, e.g. {ref.dataset}.EVENT_TYPE IN (\"click\")",
                ref.position,
            )
        operator, values = self.predicate(ref)
        return Condition(ref, operator, values, connector)

    def user_condition(self, connector: str | None) -> Condition:
        ref = self.field_ref()
        if ref.context != "CurrentUser":
            # Only a Users field has a CurrentUser counterpart; any other condition belongs before IF.
            fix = (f"write IF CurrentUser.{ref.name} ..." if ref.dataset == "Users" and ref.context is None else
                   f"move the condition on {ref} before IF, joined with AND (... WHERE ... AND {ref} ...),"
                   " and keep IF for CurrentUser.FIELD conditions on the Users dataset")
            raise FilterExpressionError(f"an IF condition checks the current user only; {fix}", ref.position)
        operator, values = self.predicate(ref)
        return Condition(ref, operator, values, connector)

    def predicate(self, ref: FieldRef) -> tuple[str, tuple[Value, ...]]:
        token = self.token
        if self.word_is("NOT"):
            self.advance()
            self.expect_word("IN", fix="the negated operator is NOT IN")
            values = self.in_values(ref)
            for value in values:
                if isinstance(value, Placeholder):
                    raise FilterExpressionError(
                        f"${value.name}: NOT IN cannot take a placeholder; use IN with the opposite action"
                        " (EXCLUDE instead of INCLUDE, or the reverse)",
                        value.position,
                    )
            return "NOT IN", values
        if self.word_is("IN"):
            self.advance()
            return "IN", self.in_values(ref)
        if token.kind == "OP":
            self.advance()
            return token.text, (self.scalar(),)
        raise FilterExpressionError(
            f"expected IN, NOT IN or a comparison (=, !=, <, <=, >, >=) after {ref}, found {_describe(token)}",
            token.position,
        )

    def in_values(self, ref: FieldRef) -> tuple[Value, ...]:
        if self.word_is("CURRENTITEM"):
            value = self.field_ref()
            return (value,)
        self.expect_punct("(", fix=f'put the values in parentheses, e.g. {ref} IN ("a", "b") or IN ($VALUES)')
        values = [self.item(ref)]
        while self.token.kind == "PUNCT" and self.token.text == ",":
            self.advance()
            values.append(self.item(ref))
        self.expect_punct(")", fix='separate values with commas and close the list with ")"')
        return tuple(values)

    def item(self, ref: FieldRef) -> Value:
        token = self.token
        if token.kind == "STRING":
            self.advance()
            if token.text == '"*"':
                return self._wildcard(ref, token)
            return Literal(token.text[1:-1], token.position)
        if token.kind == "PUNCT" and token.text == "*":
            self.advance()
            return self._wildcard(ref, token)
        if token.kind in ("NUMBER", "PARAM"):
            return self.scalar()
        raise FilterExpressionError(
            f"expected a double-quoted value, a number or a $PLACEHOLDER, found {_describe(token)}"
            + ("; quote strings with double quotes" if token.kind == "WORD" else ""),
            token.position,
        )

    def _wildcard(self, ref: FieldRef, token: Token) -> Literal:
        if ref.name.upper() != "EVENT_TYPE" or ref.dataset not in INTERACTION_DATASETS:
            raise FilterExpressionError(
                f"* (all event types) is allowed only with Interactions.EVENT_TYPE, not {ref}", token.position)
        return Literal(None, token.position)

    def scalar(self) -> Value:
        token = self.token
        if token.kind == "NUMBER":
            self.advance()
            number = float(token.text)
            return Literal(int(number) if re.fullmatch(r"-?\d+", token.text) else number, token.position)
        if token.kind == "PARAM":
            self.advance()
            name = token.text[1:]
            if not name:
                raise FilterExpressionError("$ must be followed by a placeholder name, e.g. $GENRE", token.position)
            if len(name) > MAX_PLACEHOLDER_NAME:
                raise FilterExpressionError(
                    f"placeholder ${name[:20]}... is {len(name)} characters; at most {MAX_PLACEHOLDER_NAME}",
                    token.position)
            return Placeholder(name, token.position)
        if token.kind == "PUNCT" and token.text == "(":
            # The guide writes "Actions.VALUE > ($VALUE)": one parenthesised value.
            self.advance()
            value = self.scalar()
            self.expect_punct(")", fix="a comparison takes one value")
            return value
        if self.word_is("CURRENTITEM"):
            return self.field_ref()
        if token.kind == "STRING":
            raise FilterExpressionError(
                f"{token.text} is a string, but =, !=, <, <=, >, >= compare numbers; use IN ({token.text}) for strings",
                token.position)
        raise FilterExpressionError(
            f"expected a number, a $PLACEHOLDER or CurrentItem.FIELD, found {_describe(token)}", token.position)


def parse_filter(text: str) -> FilterExpression:
    """Parse one filter's expression (several joined by ``|``); raise FilterExpressionError."""
    if not isinstance(text, str) or not text.strip():
        raise FilterExpressionError("the filter expression is empty; write e.g. EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"Purchase\")")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise FilterExpressionError(
            f"the expression is {len(text)} characters; Personalize takes at most {MAX_EXPRESSION_LENGTH}:"
            " use placeholders instead of long value lists")
    parsed = _Parser(text).parse()
    placeholders = parsed.placeholders
    if len(placeholders) > MAX_PLACEHOLDERS:
        raise FilterExpressionError(
            f"{len(placeholders)} placeholders; a request can pass at most {MAX_PLACEHOLDERS} filter values:"
            " merge placeholders or split the filter")
    fields = parsed.fields
    if len(fields) > MAX_DISTINCT_FIELDS:
        raise FilterExpressionError(
            f"{len(fields)} distinct dataset fields ({', '.join(f'{f.dataset}.{f.name}' for f in fields)});"
            f" a filter may use at most {MAX_DISTINCT_FIELDS}: split it into several filters")
    return parsed
