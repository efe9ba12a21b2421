"""config/filters/: the documented examples parse; mistakes name position and fix."""

from __future__ import annotations

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.filters import (
    MAX_EXPRESSION_LENGTH,
    MAX_PLACEHOLDER_NAME,
    MAX_PLACEHOLDERS,
    Column,
    FieldRef,
    FilterExpressionError,
    Literal,
    Placeholder,
    column_issues,
    parse_filter,
)

# Every example of the Developer Guide's "Filter expression examples" pages (item recommendations,
# user segments, action recommendations, combined expressions), as printed there.
DOCUMENTED_EXAMPLES = [
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)',
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
    'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
    'EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)',
    'INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE',
    'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")',
    'EXCLUDE ItemID WHERE Items.CATEGORY IN ("shoe") AND Items.DESCRIPTION NOT IN ("boot")',
    'INCLUDE ItemID WHERE Items.PRICE <= $PRICE',
    'INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP < $DATE',
    'INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)',
    'EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE',
    'INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") AND Items.DESCRIPTION IN ("luxury") IF CurrentUser.AGE > 18',
    'INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)',
    'EXCLUDE UserID WHERE Users.AGE < $AGE',
    'INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click", "rating")',
    'EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)',
    'INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE)',
    'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")',
    'EXCLUDE ActionID WHERE Actions.CATEGORY IN ($CATEGORY)',
    'INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)',
    'EXCLUDE ActionID WHERE Actions.VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM',
    'INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) | INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("favorite")',
    'INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
]


@pytest.mark.parametrize("text", DOCUMENTED_EXAMPLES)
def test_documented_examples_parse(text):
    parsed = parse_filter(text)
    assert parsed.expressions
    assert all(expression.conditions for expression in parsed.expressions)


def test_structure_of_a_combined_filter():
    parsed = parse_filter(
        'INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) OR Items.PRICE >= 9.5'
        ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream") IF CurrentUser.AGE > $AGE'
    )
    include, exclude = parsed.expressions
    assert (include.action, include.target, include.dataset) == ("INCLUDE", "ItemID", "Items")
    assert [c.operator for c in include.conditions] == ["IN", ">="]
    assert include.conditions[1].connector == "OR"
    assert include.conditions[1].values == (Literal(9.5, 0),)
    assert exclude.conditions[0].values == (Literal("click", 0), Literal("stream", 0))
    assert exclude.user_conditions[0].field == FieldRef("Users", "AGE", 0, "CurrentUser")
    assert parsed.placeholders == ("GENRE", "AGE")
    assert [str(ref) for ref in parsed.fields] == ["Items.GENRE", "Items.PRICE", "Interactions.EVENT_TYPE", "CurrentUser.AGE"]
    assert parsed.datasets == {"Items", "Interactions", "Users"}
    assert not parsed.uses_current_item


def test_current_item_is_reported_so_callers_can_require_a_related_items_recipe():
    parsed = parse_filter("INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE")
    assert parsed.uses_current_item
    assert parsed.expressions[0].conditions[0].values == (FieldRef("Items", "PRICE", 0, "CurrentItem"),)


def test_keywords_and_dataset_names_ignore_case_but_placeholders_keep_it():
    parsed = parse_filter('include itemid where items.Genre in ($genreList) and ITEMS.price > 3')
    assert parsed.expressions[0].action == "INCLUDE"
    assert parsed.expressions[0].target == "ItemID"
    assert [ref.name for ref in parsed.fields] == ["Genre", "price"]
    assert parsed.placeholders == ("genreList",)
    assert parsed.expressions[0].conditions[0].values == (Placeholder("genreList", 0),)


def test_wildcard_is_all_event_types():
    (value,) = parse_filter("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)").expressions[0].conditions[0].values
    assert value.is_wildcard


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") AND Interactions.EVENT_TYPE IN ("x")', 47,
         "put it in a second expression joined with |"),
        ("INCLUDE ItemID WHERE Items.GENRE IN ('drama')", 38, 'double quotes, e.g. "drama"'),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("drama)', 38, "not closed"),
        ("INCLUDE ItemID WHERE Items.GENRE NOT IN ($GENRE)", 42, "NOT IN cannot take a placeholder"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a"', 41, "close the list"),
        ('INCLUDE ItemID Items.GENRE IN ("a")', 16, "expected WHERE"),
        ('INCLUDE ItemID WHERE Interactions.IMPRESSION IN ("a")', 22, "EVENT_TYPE only"),
        ('INCLUDE Items WHERE Items.GENRE IN ("a")', 9, "ItemID, UserID or ActionID"),
        ('KEEP ItemID WHERE Items.GENRE IN ("a")', 1, "INCLUDE or EXCLUDE"),
        ('INCLUDE ItemID WHERE Products.GENRE IN ("a")', 22, "unknown dataset 'Products'"),
        ('INCLUDE ItemID WHERE GENRE IN ("a")', 22, "write it as Items.GENRE"),
        ('INCLUDE ItemID WHERE Items.GENRE IN (drama)', 38, "quote strings with double quotes"),
        ('INCLUDE ItemID WHERE Items.GENRE IN "drama"', 37, "put the values in parentheses"),
        ('INCLUDE ItemID WHERE Items.PRICE > "5"', 36, "use IN"),
        ('INCLUDE ItemID WHERE Items.PRICE <> 5', 34, "use !="),
        ('INCLUDE ItemID WHERE Items.PRICE LIKE 5', 34, "expected IN, NOT IN or a comparison"),
        ('INCLUDE ItemID WHERE CurrentUser.AGE > 5', 22, "only in the IF condition"),
        ('INCLUDE ItemID WHERE CurrentItem.PRICE > 5', 22, "write Items.PRICE = CurrentItem.PRICE"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") IF Users.AGE > 5', 46, "IF CurrentUser.AGE"),
        # An Items field has no CurrentUser counterpart: the fix moves the condition before IF.
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") IF Items.PRICE < 20', 46,
         "move the condition on Items.PRICE before IF, joined with AND (... WHERE ... AND Items.PRICE ...)"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") IF CurrentUser.AGE > 5 OR CurrentUser.X > 1', 66, "AND only"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") IF CurrentUser.AGE > 5 IF CurrentUser.X > 1', 66, "only once"),
        ('INCLUDE UserID WHERE Items.GENRE IN ("a")', 22, "UserID filters use Users or Interactions"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("*")', 38, "only with Interactions.EVENT_TYPE"),
        ('INCLUDE ItemID WHERE Items.PRICE > $', 36, "placeholder name"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") INCLUDE ItemID WHERE Items.X IN ("b")', 43, "combine whole expressions with |"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") ; DROP', 43, "unexpected character ';'"),
        ('INCLUDE ItemID WHERE Items.GENRE IN ("a") |', 44, "INCLUDE or EXCLUDE"),
    ],
)
def test_malformed_expressions_name_position_and_fix(text, position, fragment):
    with pytest.raises(FilterExpressionError) as caught:
        parse_filter(text)
    assert caught.value.position == position, str(caught.value)
    assert str(caught.value).startswith(f"at character {position}: ")
    assert fragment in str(caught.value)


def test_limits_come_from_the_botocore_models():
    personalize = botocore.session.get_session().get_service_model("personalize")
    runtime = botocore.session.get_session().get_service_model("personalize-runtime")
    assert personalize.operation_model("CreateFilter").input_shape.members["filterExpression"].metadata["max"] == MAX_EXPRESSION_LENGTH
    filter_values = runtime.operation_model("GetRecommendations").input_shape.members["filterValues"]
    assert filter_values.metadata["max"] == MAX_PLACEHOLDERS
    assert filter_values.key.metadata["max"] == MAX_PLACEHOLDER_NAME


def test_limits_are_enforced():
    with pytest.raises(FilterExpressionError, match="empty"):
        parse_filter("  ")
    long_list = ", ".join(f'"value-{index:04d}"' for index in range(250))
    with pytest.raises(FilterExpressionError, match=f"at most {MAX_EXPRESSION_LENGTH}"):
        parse_filter(f"INCLUDE ItemID WHERE Items.GENRE IN ({long_list})")
    many = " OR ".join(f"Items.F{index} IN ($P{index})" for index in range(26))
    with pytest.raises(FilterExpressionError, match="26 placeholders"):
        parse_filter(f"INCLUDE ItemID WHERE {many}")
    eleven = " OR ".join(f'Items.F{index} IN ("x")' for index in range(11))
    with pytest.raises(FilterExpressionError, match="11 distinct dataset fields"):
        parse_filter(f"INCLUDE ItemID WHERE {eleven}")
    with pytest.raises(FilterExpressionError, match="at most 50"):
        parse_filter(f"INCLUDE ItemID WHERE Items.PRICE > ${'P' * 51}")
    # The same placeholder twice is one filter value.
    assert parse_filter("INCLUDE ItemID WHERE Items.A IN ($X) OR Items.B IN ($X)").placeholders == ("X",)


SCHEMAS = {
    "Interactions": {"USER_ID": Column("string"), "ITEM_ID": Column("string"), "EVENT_TYPE": Column("string")},
    "Items": {
        "ITEM_ID": Column("string"),
        "GENRE": Column("string"),
        "PRICE": Column("float"),
        "IN_STOCK": Column("boolean"),
        "DESCRIPTION": Column("string", textual=True),
    },
}


def test_columns_that_exist_pass():
    parsed = parse_filter('INCLUDE ItemID WHERE Items.GENRE IN ($G) AND Items.PRICE < CurrentItem.PRICE'
                          ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Purchase")')
    assert column_issues(parsed, SCHEMAS) == []


def test_column_problems_are_named():
    parsed = parse_filter(
        'INCLUDE ItemID WHERE Items.genre IN ("a") OR Items.IN_STOCK IN ("True") OR Items.DESCRIPTION IN ("x")'
        ' OR Items.GENRE > 3 OR Items.COLOUR IN ("red") IF CurrentUser.AGE > 18'
    )
    issues = column_issues(parsed, SCHEMAS)
    assert issues == [
        "at character 22: Items.genre: the Items schema has no field genre; did you mean Items.GENRE (field names are case-sensitive)?",
        'at character 46: Items.IN_STOCK is boolean, which filters cannot use; store it as a string ("True"/"False") or an int (0/1)',
        "at character 76: Items.DESCRIPTION is textual (unstructured text), which filters cannot use; filter on a categorical field",
        "at character 125: Items.COLOUR: the Items schema has no field COLOUR; its fields are DESCRIPTION, GENRE, IN_STOCK, ITEM_ID, PRICE",
        "at character 152: CurrentUser.AGE: the dataset group has no Users dataset; add it or drop this condition",
        "at character 106: Items.GENRE > compares numbers, but the field is string; use IN/NOT IN for strings or a numeric field",
    ]


# --- properties: no input ends in a traceback; generated valid filters parse to what was built ---

TOKENS = ["INCLUDE", "EXCLUDE", "ItemID", "UserID", "WHERE", "AND", "OR", "NOT", "IN", "IF", "Items.GENRE",
          "Interactions.EVENT_TYPE", "CurrentItem.PRICE", "CurrentUser.AGE", "Users.AGE", "(", ")", ",", "|", "=",
          "<", ">=", "!=", '"a"', "'b'", '"', "3", "-2.5", "$P", "$", "*", ".", ";", "Items.", "é"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join)))
def test_any_text_parses_or_fails_with_a_position(text):
    try:
        parse_filter(text)
    except FilterExpressionError as error:
        assert error.position is None or 1 <= error.position <= len(text) + 1
        assert str(error)


COLUMN = st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True)
PARAM = st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)
STRING = st.from_regex(r'[a-z0-9 ,|()]{0,6}', fullmatch=True)


@st.composite
def item_conditions(draw):
    column = draw(COLUMN)
    if draw(st.booleans()):
        values = draw(st.lists(STRING, min_size=1, max_size=3))
        negated = draw(st.booleans())
        rendered = ", ".join(f'"{value}"' for value in values)
        return f"Items.{column} {'NOT IN' if negated else 'IN'} ({rendered})", column, None
    param = draw(PARAM)
    operator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IN"]))
    value = f"(${param})" if operator == "IN" else f"${param}"
    return f"Items.{column} {operator} {value}", column, param


@st.composite
def item_filters(draw):
    conditions = draw(st.lists(item_conditions(), min_size=1, max_size=3))
    connectors = draw(st.lists(st.sampled_from(["AND", "OR"]), min_size=len(conditions) - 1, max_size=len(conditions) - 1))
    text = f"{draw(st.sampled_from(['INCLUDE', 'EXCLUDE']))} ItemID WHERE {conditions[0][0]}"
    for connector, (condition, _, _) in zip(connectors, conditions[1:], strict=True):
        text += f" {connector} {condition}"
    if draw(st.booleans()):
        text += ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")'
    return text, conditions


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(item_filters())
def test_generated_filters_parse_to_their_parts(case):
    text, conditions = case
    parsed = parse_filter(text)
    columns = list(dict.fromkeys(column for _, column, _ in conditions))
    assert [ref.name for ref in parsed.fields if ref.dataset == "Items"] == columns
    assert parsed.placeholders == tuple(dict.fromkeys(p for _, _, p in conditions if p))
    assert len(parsed.expressions[0].conditions) == len(conditions)


def test_if_fix_names_no_current_user_field_the_users_dataset_lacks():
    """`IF Items.PRICE < 20`: CurrentUser.PRICE would be a field no Users schema has."""
    with pytest.raises(FilterExpressionError) as caught:
        parse_filter('INCLUDE ItemID WHERE Items.GENRE IN ("a") IF Items.PRICE < 20')
    assert "CurrentUser.PRICE" not in str(caught.value)
