"""Parse and check Amazon Personalize filter expressions at synth time.

The grammar is the documented one (Developer Guide, "Filter expression structure and elements",
"Guidelines and requirements", "Filter expression examples"; https://docs.aws.amazon.com/
personalize/latest/dg/creating-filter-expressions.html)::

    filter      := expression ( "|" expression )*
    expression  := (INCLUDE | EXCLUDE) (ItemID | UserID | ActionID)
                   WHERE condition ( (AND | OR) condition )*
                   [ IF user_cond ( AND user_cond )* ]          -- once, at the end
    condition   := Dataset.FIELD IN list | Dataset.FIELD NOT IN list
                 | Dataset.FIELD (= | != | < | <= | > | >=) scalar
    user_cond   := CurrentUser.FIELD <same operators> ...
    list        := "(" item ( "," item )* ")" | "(" $PARAM ")" | CurrentItem.FIELD
    scalar      := number | $PARAM | "(" $PARAM ")" | CurrentItem.FIELD
    item        := "string" | number | $PARAM | "*"             -- "*" only for EVENT_TYPE

Rules enforced beyond the grammar (each documented on those pages): conditions chained with
AND/OR use the dataset of the first condition only (so Items and Interactions are combined
with ``|``); interactions are filtered by ``EVENT_TYPE`` only; ``CurrentUser`` only in the IF
condition; no placeholder with ``NOT IN``; ``*`` only on ``EVENT_TYPE``. Limits: 2,500
characters (botocore ``FilterExpression``); at most 25 placeholders, each ``[A-Za-z0-9_]{1,50}``
(botocore ``personalize-runtime`` ``FilterValues``); distinct dataset fields per filter: the
pages disagree (5 on the HTML guide, 10 on a newer one), so the larger is enforced here.

Keywords, ``ItemID``-style targets and dataset names are matched case-insensitively; field
names and placeholders keep their case (placeholder names are case-sensitive in requests).

``parse_filter(text)`` returns a ``FilterExpression`` (its expressions, ``fields`` and
``placeholders``) or raises ``FilterExpressionError`` naming the 1-based character position and
the fix. ``column_issues(parsed, columns)`` checks the referenced fields against the dataset
group's schemas and returns messages (empty when fine).
"""

from __future__ import annotations

from config.filters.checks import Column, column_issues
from config.filters.lexer import Token, tokenize
from config.filters.parser import parse_filter
from config.filters.tree import (
    MAX_DISTINCT_FIELDS,
    MAX_EXPRESSION_LENGTH,
    MAX_PLACEHOLDER_NAME,
    MAX_PLACEHOLDERS,
    Condition,
    Expression,
    FieldRef,
    FilterExpression,
    FilterExpressionError,
    Literal,
    Placeholder,
    Value,
)

__all__ = [
    "MAX_DISTINCT_FIELDS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_PLACEHOLDERS",
    "MAX_PLACEHOLDER_NAME",
    "Column",
    "Condition",
    "Expression",
    "FieldRef",
    "FilterExpression",
    "FilterExpressionError",
    "Literal",
    "Placeholder",
    "Token",
    "Value",
    "column_issues",
    "parse_filter",
    "tokenize",
]
