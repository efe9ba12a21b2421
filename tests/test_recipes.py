"""config/recipes.py: the catalogue agrees with the config's domain list and botocore's model docs,
and solution settings that do not fit a recipe or group are named with their fix."""

from __future__ import annotations

import re

import botocore.session
import pytest

from config.recipes import (
    DOC_BASE,
    RECIPE_ARN_PREFIX,
    RECIPES,
    RecipeKind,
    SolutionSettings,
    custom_recipe_names,
    recipe,
    solution_issues,
)

MODEL = botocore.session.get_session().get_service_model("personalize")
INTERACTIONS_WITH_VALUE = {"USER_ID": "string", "ITEM_ID": "string", "TIMESTAMP": "long",
                           "EVENT_TYPE": "string", "EVENT_VALUE": "float"}


def _doc(operation: str, member: str) -> str:
    shape = MODEL.operation_model(operation).input_shape.members[member]
    return re.sub(r"<[^>]+>", "", shape.documentation)


def test_training_mode_update_is_allowed_exactly_where_botocore_says():
    doc = _doc("CreateSolutionVersion", "trainingMode")
    assert "User-Personalization recipe or the legacy HRNN-Coldstart recipe" in doc
    assert {name for name, entry in RECIPES.items() if entry.update_training} == {"aws-user-personalization", "aws-hrnn-coldstart"}
    assert MODEL.shape_for("TrainingMode").enum == ["FULL", "UPDATE", "AUTOTRAIN"]


def test_incremental_update_is_allowed_exactly_where_botocore_says():
    assert "only for solutions that use the semantic-similarity recipe" in _doc("CreateSolution", "performIncrementalUpdate")
    assert [name for name, entry in RECIPES.items() if entry.incremental_update] == ["aws-semantic-similarity"]


def test_every_entry_is_well_formed():
    for name, entry in RECIPES.items():
        assert entry.name == name and re.fullmatch(r"aws-[a-z0-9-]+", name)
        assert entry.arn == RECIPE_ARN_PREFIX + name
        assert re.fullmatch(re.escape(DOC_BASE) + r"[A-Za-z0-9_-]+\.html", entry.doc)
        assert entry.required_datasets and not entry.required_datasets & entry.optional_datasets
        assert (entry.domain is None) or name.startswith(("aws-ecomm-", "aws-vod-"))
        if entry.domain:
            # Use cases train as recommenders: no solution options apply.
            assert not (entry.hpo or entry.update_training or entry.event_filtering or entry.events_config)


def test_lookup_by_name_or_arn_and_kinds():
    assert recipe("aws-sims") is recipe("arn:aws:personalize:::recipe/aws-sims")
    assert recipe("aws-sims").related_items and not recipe("aws-user-personalization").related_items
    assert recipe("aws-ecomm-customers-who-viewed-x-also-viewed").kind is RecipeKind.RELATED_ITEMS
    assert recipe("aws-nope") is None
    assert "aws-hrnn" not in custom_recipe_names() and "aws-hrnn" in custom_recipe_names(available_only=False)


def _issues(datasets=("interactions",), **settings):
    settings.setdefault("interactions_columns", INTERACTIONS_WITH_VALUE)
    return solution_issues(SolutionSettings(**settings), datasets=datasets)


def test_issue_10_example_fits():
    # The issue's example: user personalization trained on ratings ≥ threshold, plus similar items.
    assert _issues(recipe="aws-user-personalization", event_type="rating", event_value_threshold=3.5,
                   known_event_types=frozenset({"rating", "click"})) == []
    assert _issues(recipe="aws-similar-items", datasets=("interactions", "items"), perform_hpo=True) == []
    assert _issues(recipe="aws-user-personalization", training_mode="UPDATE") == []
    assert _issues(recipe="aws-user-personalization-v2",
                   events=({"eventType": "rating", "eventValueThreshold": 3.0, "weight": 0.7},)) == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"recipe": "aws-nope"}, ("recipe", "'aws-nope' is not a known Personalize recipe; use one of aws-user-personalization,")),
        ({"recipe": "aws-ecomm-recommended-for-you"}, ("recipe", "ECOMMERCE use case, which runs as a recommender")),
        ({"recipe": "aws-hrnn"}, ("recipe", "legacy recipe that is no longer available")),
        ({"recipe": "aws-item-attribute-affinity"}, ("recipe", "needs the items dataset(s)")),
        ({"recipe": "aws-user-personalization", "event_value_threshold": 3.0}, ("eventValueThreshold", "set eventType too")),
        ({"recipe": "aws-user-personalization", "event_type": "rating", "event_value_threshold": 3.0,
          "interactions_columns": {"EVENT_TYPE": "string"}},
         ("eventValueThreshold", "add EVENT_VALUE (float) to the Interactions schema")),
        ({"recipe": "aws-user-personalization", "event_type": "rating", "event_value_threshold": 3.0,
          "interactions_columns": {"EVENT_TYPE": "string", "EVENT_VALUE": "string"}},
         ("eventValueThreshold", "EVENT_VALUE is string; make it float")),
        ({"recipe": "aws-user-personalization", "event_type": "rating", "interactions_columns": {"USER_ID": "string"}},
         ("eventType", "no EVENT_TYPE field")),
        ({"recipe": "aws-user-personalization", "event_type": "Rating", "known_event_types": frozenset({"rating"})},
         ("eventType", "'Rating' is not an event type of this dataset group's data (known: rating)")),
        ({"recipe": "aws-user-personalization", "events": ({"eventType": "rating", "weight": 1.0},)},
         ("events", "does not take an events configuration")),
        ({"recipe": "aws-personalized-ranking-v2", "event_type": "rating", "events": ({"eventType": "rating"},)},
         ("events", "not both")),
        ({"recipe": "aws-trending-now", "perform_hpo": True}, ("performHPO", "no hyperparameters to optimise")),
        ({"recipe": "aws-sims", "training_mode": "UPDATE"}, ("trainingMode", "not aws-sims; use FULL")),
        ({"recipe": "aws-sims", "training_mode": "AUTOTRAIN"}, ("trainingMode", "use FULL or UPDATE")),
        ({"recipe": "aws-sims", "perform_incremental_update": True}, ("performIncrementalUpdate", "only aws-semantic-similarity")),
    ],
)
def test_settings_that_do_not_fit_are_named(settings, expected):
    issues = _issues(**settings)
    field, fragment = expected
    assert any(issue_field == field and fragment in message for issue_field, message in issues), issues
