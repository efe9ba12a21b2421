"""Custom solutions in the synthesized templates (config/custom-solutions.yaml): the create and
delete order, exact IAM of the new handlers, campaigns, filters, outputs and the release switch."""

from __future__ import annotations

import json
from graphlib import TopologicalSorter

import pytest

from lambdas.personalize_resources import long_waits, solution, solution_version
from config import load_config
from stacks.constructs.group_names import GroupNames
from stacks.constructs.handler_functions import iam_action
from stacks.iam_reference import action as reference_action
from tests.stacks.templates import dependencies, function_by_handler, granted, resources, role_of_function, text
from harness.synthesis import SYNTH_CONFIGS

PREFIX_ARN = "arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:*/pimpact-custom-*"


@pytest.fixture(scope="module")
def template(synthesized):
    return synthesized.template("custom", "personalize")


@pytest.fixture(scope="module")
def config():
    return load_config(SYNTH_CONFIGS["custom"])


def ancestors(template: dict, logical_id: str) -> set[str]:
    seen: set[str] = set()
    stack = [logical_id]
    while stack:
        for dependency in dependencies(template, stack.pop()) & set(template["Resources"]):
            if dependency not in seen:
                seen.add(dependency)
                stack.append(dependency)
    return seen


def of_type(template: dict, resource_type: str) -> set[str]:
    return set(resources(template, resource_type))


def test_create_order_is_data_filters_solutions_versions_campaigns_and_delete_the_reverse(template):
    graph = {k: dependencies(template, k) & set(template["Resources"]) for k in template["Resources"]}
    list(TopologicalSorter(graph).static_order())  # no cycle
    data = of_type(template, "Custom::PersonalizeDatasetImportJob") | of_type(template, "Custom::PersonalizeMetricAttribution")
    data |= of_type(template, "AWS::Personalize::Dataset")
    filters = of_type(template, "AWS::Personalize::Filter")
    solutions = of_type(template, "Custom::PersonalizeSolution")
    versions = of_type(template, "Custom::PersonalizeSolutionVersion")
    campaigns = of_type(template, "AWS::Personalize::Campaign")
    assert len(filters) == 1 and len(solutions) == len(versions) == len(campaigns) == 2
    for filter_id in filters:
        assert data <= ancestors(template, filter_id), "filters go before the data (and its imports) on delete"
    for solution_id in solutions:
        assert data | filters <= ancestors(template, solution_id), "solutions go before filters on delete"
    for version_id in versions:
        before = ancestors(template, version_id)
        assert len(before & solutions) == 1 and filters <= before
    for campaign_id in campaigns:
        before = ancestors(template, campaign_id)
        # Each campaign waits for its training's WaitCondition, hence is deleted before the version.
        assert len(before & versions) == 1 and len(before & solutions) == 1
        waits = [w for w in before if template["Resources"][w]["Type"] == "AWS::CloudFormation::WaitCondition"
                 and graph[w] & versions]
        assert len(waits) == 1


def test_trainings_are_awaited_by_wait_conditions_the_poller_signals(template, config):
    timeout = str(int(config.long_wait_timeout_hours * 3600))
    for version_id, version in resources(template, "Custom::PersonalizeSolutionVersion").items():
        handle = version["Properties"]["SignalHandle"]["LogicalResourceId"]
        assert template["Resources"][handle]["Type"] == "AWS::CloudFormation::WaitConditionHandle"
        [wait] = [w for w, v in resources(template, "AWS::CloudFormation::WaitCondition").items() if v["Properties"]["Handle"] == {"Ref": handle}]
        assert template["Resources"][wait]["Properties"]["Timeout"] == timeout
        assert version_id in template["Resources"][wait]["DependsOn"]
        assert set(version["Properties"]["Request"]) == {"solutionArn", "name", "trainingMode"} and version["Properties"]["Version"] == "1"
        # The metrics reading comes after the WaitCondition and feeds the output.
        [reading] = [r for r, v in resources(template, "Custom::PersonalizeSolutionMetrics").items()
                     if v["Properties"]["Request"]["solutionVersionArn"] == {"Fn::GetAtt": [version_id, "SolutionVersionArn"]}]
        assert wait in template["Resources"][reading]["DependsOn"]
    metrics_outputs = [o for k, o in template["Outputs"].items() if "OfflineMetrics" in k]
    assert len(metrics_outputs) == 2 and all(o["Value"]["Fn::GetAtt"][1] == "OfflineMetrics" for o in metrics_outputs)


def test_a_new_training_version_means_a_new_handle(config):
    group = config.dataset_groups[0]
    raw = config.model_dump(mode="json", by_alias=True)
    raw["datasetGroups"][0]["solutions"][0]["training"]["version"] = "2"
    retrained = type(config).model_validate(raw)
    assert config.solution_version_name(group, group.solutions[0]) != retrained.solution_version_name(retrained.dataset_groups[0], retrained.dataset_groups[0].solutions[0])


def test_solution_requests_match_the_names_iam_and_the_dashboard_expect(template, config):
    group = config.dataset_groups[0]
    names = GroupNames(config, group)
    requests = {v["Properties"]["Request"]["name"]: v["Properties"]["Request"] for v in resources(template, "Custom::PersonalizeSolution").values()}
    for configured in group.solutions:
        request = dict(requests[config.solution_base_name(group, configured)], datasetGroupArn="dataset-group")
        # The handler's name (base + digest) equals the synth-time one GroupNames gives.
        assert solution.physical_name(solution.desired_solution(request)) == names.solution(configured)
    top = requests["pimpact-custom-ratings-top-picks"]
    assert (top["eventType"], top["solutionConfig"]["eventValueThreshold"], top["performAutoTraining"]) == ("Rating", "3.5", False)
    assert {t["tagKey"] for t in top["tags"]} == {"project", "environment"}
    assert [names.campaign(c) for _, c in group.campaigns()] == ["pimpact-custom-ratings-top-picks", "pimpact-custom-ratings-similar"]


def test_campaigns_serve_the_trained_version_and_update_in_place(template):
    campaigns = {v["Properties"]["Name"]: v for v in resources(template, "AWS::Personalize::Campaign").values()}
    top = campaigns["pimpact-custom-ratings-top-picks"]["Properties"]
    assert top["MinProvisionedTPS"] == 1
    assert top["CampaignConfig"] == {"ItemExplorationConfig": {"explorationWeight": "0.3"}}
    assert top["SolutionVersionArn"]["Fn::GetAtt"][1] == "SolutionVersionArn"
    assert "CampaignConfig" not in campaigns["pimpact-custom-ratings-similar"]["Properties"]
    parameters = {text(v["Properties"]["Name"]): text(v["Properties"]["Value"]) for v in resources(template, "AWS::SSM::Parameter").values()}
    assert parameters["/pimpact-custom/ratings/campaigns/top-picks/attribution-source"] == "top_picks"
    assert parameters["/pimpact-custom/ratings/campaigns/similar/attribution-source"] == "similar_items"
    assert parameters["/pimpact-custom/ratings/campaigns/top-picks/arn"].endswith(".CampaignArn>")
    assert parameters["/pimpact-custom/ratings/solutions/top-picks/offline-metrics"].endswith(".OfflineMetrics>")
    assert parameters["/pimpact-custom/ratings/filters/not-bought/arn"].endswith(".FilterArn>")


def test_filter_name_carries_a_hash_of_its_expression(template, config):
    [filter_] = resources(template, "AWS::Personalize::Filter").values()
    group = config.dataset_groups[0]
    assert filter_["Properties"]["Name"] == config.filter_name(group, group.filters[0])
    assert filter_["Properties"]["FilterExpression"] == group.filters[0].expression


HANDLERS = {
    "personalize_resources.solution.on_event": (solution.API_OPERATIONS, False),
    "personalize_resources.solution.is_complete": (solution.IS_COMPLETE_API_OPERATIONS, False),
    "personalize_resources.solution_version.on_event": (solution_version.API_OPERATIONS, True),
    "personalize_resources.solution_version.is_complete": (solution_version.IS_COMPLETE_API_OPERATIONS, False),
}


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_new_handlers_are_granted_exactly_their_operations_without_pass_role(template, handler):
    operations, starts_poller = HANDLERS[handler]
    role = role_of_function(template, function_by_handler(template, handler))
    pairs = granted(template, role)
    actions = {a for a, _ in pairs if not a.startswith("logs:")}
    assert actions == {iam_action(op) for op in operations}, "no iam:PassRole: these Creates name no role"
    for action, resource in pairs:
        if action.startswith("personalize:"):
            assert resource == (PREFIX_ARN if reference_action(action).takes_resources else "*"), (action, resource)
    if starts_poller:
        [(_, state_machine)] = [(a, r) for a, r in pairs if a == "states:StartExecution"]
        assert state_machine.startswith("<PollerStateMachine")


def test_the_one_poller_also_follows_trainings(template):
    role = role_of_function(template, function_by_handler(template, "personalize_resources.long_waits.poll_step"))
    actions = {a for a, _ in granted(template, role) if not a.startswith("logs:")}
    assert {iam_action(op) for op in solution_version.POLL_API_OPERATIONS} <= actions
    assert actions == {iam_action(op) for op in long_waits.POLLER_API_OPERATIONS}
    assert [k for k in resources(template, "AWS::StepFunctions::StateMachine") if "waiter" not in k] == ["PollerStateMachineFE4D36AE"]


def test_release_switches_campaigns_off_with_one_parameter(releases):
    folder = releases["custom"]
    [path] = (folder / "templates").glob("*-personalize.template.json")
    template = json.loads(path.read_text())
    assert template["Parameters"]["CampaignsEnabled"]["AllowedValues"] == ["true", "false"]
    assert template["Conditions"]["CreateCampaigns"] == {"Fn::Equals": [{"Ref": "CampaignsEnabled"}, "true"]}
    campaigns = resources(template, "AWS::Personalize::Campaign")
    assert campaigns and all(c["Condition"] == "CreateCampaigns" for c in campaigns.values())
    # Trainings still run (billed once); only the hourly campaigns are switched.
    assert all("Condition" not in v for v in resources(template, "Custom::PersonalizeSolutionVersion").values())
    campaign_outputs = [o for k, o in template["Outputs"].items() if "Campaign" in k]
    assert campaign_outputs and all(o["Condition"] == "CreateCampaigns" for o in campaign_outputs)


def test_disabled_campaign_is_left_out(config):
    import aws_cdk as cdk

    group = config.dataset_groups[0]
    raw = config.model_dump(mode="json", by_alias=True)
    raw["datasetGroups"][0]["solutions"][1]["campaigns"][0]["enabled"] = False
    disabled = type(config).model_validate(raw)
    stack = cdk.Stack(cdk.App(), "Names")
    assert len(GroupNames(config, group).arns(stack)["campaign"]) == 2
    assert len(GroupNames(disabled, disabled.dataset_groups[0]).arns(stack)["campaign"]) == 1
