"""The Personalize stack: native resources, the service role, the custom resources and the
exact IAM of each handler."""

from __future__ import annotations

import json

import pytest

from lambdas.personalize_resources import dataset_export, import_job, long_waits, metric_attribution, poller, recommender, sample_data, teardown_wait
from stacks.constructs.handler_functions import iam_action
from stacks.iam_reference import action as reference_action
from tests.stacks.templates import (
    dependencies,
    function_by_handler,
    granted,
    only,
    policies_of_role,
    resources,
    role_of_function,
    statements,
    text,
)

ARN_PREFIX = "arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>"
# Datasets, schemas and the dataset group hold imported data: renaming them means replacement.
PINNED_PERSONALIZE_IDS = {
    "GroupretailDatasetGroupE24FB8EA": "AWS::Personalize::DatasetGroup",
    "GroupretailInteractionsSchema59E5759B": "AWS::Personalize::Schema",
    "GroupretailInteractionsDatasetB286AA99": "AWS::Personalize::Dataset",
    "GroupretailItemsSchema7130CA49": "AWS::Personalize::Schema",
    "GroupretailItemsDatasetC7CDC2DE": "AWS::Personalize::Dataset",
    "GroupretailEventTrackerED1BB2D4": "AWS::Personalize::EventTracker",
    "CustomretailMetricAttributionF6B93E00": "Custom::PersonalizeMetricAttribution",
}
DATASET_GROUP = "GroupretailDatasetGroupE24FB8EA"
POLLER_STATE_MACHINE = "PollerStateMachineFE4D36AE"


@pytest.fixture(scope="module")
def template(synthesized):
    return synthesized.template("default", "personalize")


def custom(template: dict, resource_type: str) -> dict[str, dict]:
    return resources(template, resource_type)


def test_logical_ids_of_stateful_personalize_resources_are_pinned(template):
    for logical_id, resource_type in PINNED_PERSONALIZE_IDS.items():
        assert template["Resources"][logical_id]["Type"] == resource_type


def test_dataset_group_schemas_and_datasets_reproduce_the_blog(template):
    group = template["Resources"][DATASET_GROUP]["Properties"]
    assert group["Name"] == "pimpact-default-retail" and group["Domain"] == "ECOMMERCE"
    assert "KmsKeyArn" not in group
    schemas = {v["Properties"]["Name"]: json.loads(v["Properties"]["Schema"]) for v in resources(template, "AWS::Personalize::Schema").values()}
    assert schemas["pimpact-default-retail-interactions"]["fields"] == [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
    ]
    assert schemas["pimpact-default-retail-items"]["fields"] == [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "PRICE", "type": "float"},
        {"name": "CATEGORY_L1", "type": "string", "categorical": True},
        {"name": "CATEGORY_L2", "type": "string", "categorical": True},
        {"name": "MARGIN", "type": "double"},
    ]
    for schema in schemas.values():
        assert schema["type"] == "record" and schema["namespace"] == "com.amazonaws.personalize.schema"
    datasets = {v["Properties"]["DatasetType"]: v["Properties"] for v in resources(template, "AWS::Personalize::Dataset").values()}
    assert set(datasets) == {"Interactions", "Items"}
    for dataset in datasets.values():
        assert text(dataset["DatasetGroupArn"]) == f"<{DATASET_GROUP}.DatasetGroupArn>"


def test_native_personalize_resources_carry_no_tags(template):
    # Their Tags are create-only in CloudFormation: a tag change would force a replacement that
    # CloudFormation refuses for custom-named resources.
    for resource in template["Resources"].values():
        if resource["Type"].startswith("AWS::Personalize::"):
            assert "Tags" not in resource["Properties"], resource["Type"]
    tagged = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert all({"Key": "project", "Value": "personalize-impact"} in r["Properties"]["Tags"] for r in tagged)


def test_event_tracker_tracking_id_is_an_output_and_an_ssm_parameter(template):
    tracker_id, tracker = only(template, "AWS::Personalize::EventTracker")
    assert tracker["Properties"]["Name"] == "pimpact-default-retail-tracker"
    parameters = [p["Properties"] for p in resources(template, "AWS::SSM::Parameter").values()]
    tracking = [p for p in parameters if p["Name"] == "/pimpact-default/retail/tracking-id"]
    assert len(tracking) == 1 and text(tracking[0]["Value"]) == f"<{tracker_id}.TrackingId>"
    outputs = [o for o in template["Outputs"].values() if text(o["Value"]) == f"<{tracker_id}.TrackingId>"]
    assert len(outputs) == 1


def test_service_role_trust_policy_has_confused_deputy_conditions(template):
    role = template["Resources"]["ServiceRoleD777F2A1"]["Properties"]
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert text(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == f"{ARN_PREFIX}:*"
    assert "ManagedPolicyArns" not in role


def test_service_role_is_least_privilege(template):
    bucket = "arn:<AWS::Partition>:s3:::pimpact-default-data-<AWS::AccountId>-<AWS::Region>"
    assert granted(template, "ServiceRoleD777F2A1") == {
        ("s3:ListBucket", bucket),
        ("s3:GetObject", f"{bucket}/imports/*"),
        ("s3:PutObject", f"{bucket}/metric-reports/*"),
        ("s3:PutObject", f"{bucket}/exports/*"),
        ("cloudwatch:PutMetricData", "*"),
    }
    [policy] = policies_of_role(template, "ServiceRoleD777F2A1")
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert by_sid["ListImportPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["imports/", "imports/*"]}}
    assert by_sid["PublishAttributionMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "AWS/Personalize"}}


def test_kms_and_external_locations_extend_the_service_role_only_as_needed(synthesized):
    multi = synthesized.template("multi", "personalize")
    role_id = next(k for k, v in resources(multi, "AWS::IAM::Role").items() if "Personalize" in v["Properties"].get("Description", ""))
    pairs = granted(multi, role_id)
    kms = {a for a, r in pairs if a.startswith("kms:")}
    assert kms == {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"}
    assert ("s3:GetObject", "arn:<AWS::Partition>:s3:::example-partner-exports/video/users/*") in pairs
    assert ("s3:ListBucket", "arn:<AWS::Partition>:s3:::example-partner-exports") in pairs
    for group in resources(multi, "AWS::Personalize::DatasetGroup").values():
        assert "KmsKeyArn" in group["Properties"] and text(group["Properties"]["RoleArn"]) == f"<{role_id}.Arn>"


HANDLERS = {
    "personalize_resources.metric_attribution.on_event": metric_attribution.API_OPERATIONS,
    "personalize_resources.import_job.on_event": import_job.API_OPERATIONS,
    "personalize_resources.recommender.on_event": recommender.API_OPERATIONS,
    "personalize_resources.long_waits.poll_step": long_waits.POLLER_API_OPERATIONS,
    "personalize_resources.poller.poll_failed": poller.POLL_FAILED_API_OPERATIONS,
    "personalize_resources.dataset_export.on_event": dataset_export.API_OPERATIONS,
    "personalize_resources.sample_data.on_event": sample_data.API_OPERATIONS,
    "personalize_resources.teardown_wait.on_event": teardown_wait.API_OPERATIONS,
}


# Their Create requests name the Personalize service role (roleArn).
PASSES_SERVICE_ROLE = {
    "personalize_resources.metric_attribution.on_event",
    "personalize_resources.import_job.on_event",
    "personalize_resources.dataset_export.on_event",
}


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_each_handler_role_allows_exactly_its_declared_operations(template, handler):
    role = role_of_function(template, function_by_handler(template, handler))
    actions = {a for a, _ in granted(template, role) if not a.startswith("logs:")}
    expected = {iam_action(op) for op in HANDLERS[handler]}
    if handler in PASSES_SERVICE_ROLE:
        expected.add("iam:PassRole")
    assert actions == expected


PREFIX_ARN = f"{ARN_PREFIX}:*/pimpact-default-*"


def test_handler_permissions_reach_every_resource_under_the_name_prefix(template):
    # Cleanup (replaced/removed resources) and rollbacks run under the NEW policy: resources of
    # earlier configs must stay reachable, so Personalize grants are by the environment's prefix.
    role = role_of_function(template, function_by_handler(template, "personalize_resources.metric_attribution.on_event"))
    pairs = granted(template, role)
    assert ("personalize:DescribeMetricAttribution", PREFIX_ARN) in pairs
    assert ("personalize:CreateMetricAttribution", PREFIX_ARN) in pairs
    assert ("iam:PassRole", "<ServiceRoleD777F2A1.Arn>") in pairs
    for handler in HANDLERS:
        role = role_of_function(template, function_by_handler(template, handler))
        for action, resource in granted(template, role):
            if action.startswith("personalize:"):
                # Actions the reference gives no resource type are authorized against "*" only.
                assert resource == (PREFIX_ARN if reference_action(action).takes_resources else "*"), (handler, action, resource)
    recommender_role = role_of_function(template, function_by_handler(template, "personalize_resources.recommender.on_event"))
    assert ("states:StartExecution", f"<{POLLER_STATE_MACHINE}>") in granted(template, recommender_role)
    for function in resources(template, "AWS::Lambda::Function").values():
        assert "ManagedPolicyArns" not in template["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]


IS_COMPLETE = {
    "personalize_resources.metric_attribution.is_complete": (metric_attribution.IS_COMPLETE_API_OPERATIONS, True),
    "personalize_resources.import_job.is_complete": (import_job.IS_COMPLETE_API_OPERATIONS, False),
    "personalize_resources.recommender.is_complete": (recommender.IS_COMPLETE_API_OPERATIONS, False),
    "personalize_resources.dataset_export.is_complete": (dataset_export.IS_COMPLETE_API_OPERATIONS, False),
    "personalize_resources.teardown_wait.is_complete": (teardown_wait.IS_COMPLETE_API_OPERATIONS, False),
}


@pytest.mark.parametrize("handler", sorted(IS_COMPLETE))
def test_is_complete_functions_have_their_own_exact_roles(template, handler):
    operations, passes_role = IS_COMPLETE[handler]
    role = role_of_function(template, function_by_handler(template, handler))
    on_event = role_of_function(template, function_by_handler(template, handler.rsplit(".", 1)[0] + ".on_event"))
    assert role != on_event
    actions = {a for a, _ in granted(template, role) if not a.startswith("logs:")}
    assert actions == {iam_action(op) for op in operations} | ({"iam:PassRole"} if passes_role else set())


def test_listing_running_imports_moved_from_the_import_job_to_the_teardown_wait(template):
    # The import job's Delete calls nothing now; the teardown waits list the running imports.
    def personalize_grants(handler: str) -> set:
        role = role_of_function(template, function_by_handler(template, handler))
        return {(a, text(r)) for a, r in granted(template, role) if a.startswith("personalize:")}

    assert personalize_grants("personalize_resources.import_job.is_complete") == {("personalize:DescribeDatasetImportJob", PREFIX_ARN)}
    assert personalize_grants("personalize_resources.teardown_wait.is_complete") == {
        ("personalize:ListRecommenders", "*"), ("personalize:ListDatasetImportJobs", "*")}


def test_provider_waiter_roles_write_no_log_streams_anywhere(template):
    waiter_roles = [k for k, v in resources(template, "AWS::IAM::Role").items() if "waiterstatemachine" in k]
    assert len(waiter_roles) == 5  # attribution, imports, recommenders, event export, teardown waits
    for role in waiter_roles:
        pairs = granted(template, role)
        assert not {("logs:CreateLogStream", "*"), ("logs:PutLogEvents", "*")} & pairs, role
        assert ("logs:CreateLogDelivery", "*") in pairs  # vended log delivery still works


def test_every_log_group_is_removed_with_the_stack(template):
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) >= 5
    for logical_id, group in groups.items():
        assert group.get("DeletionPolicy") == "Delete", logical_id


def test_the_signal_url_reaches_no_property_that_is_logged(template):
    # The handle's Ref is the presigned URL: only the WaitCondition may hold it. Custom resource
    # properties are logged by the Provider framework and become the poller's execution input.
    handles = set(resources(template, "AWS::CloudFormation::WaitConditionHandle"))
    assert handles
    for logical_id, resource in template["Resources"].items():
        for handle in handles:
            if handle in json.dumps(resource.get("Properties", {})):
                if resource["Type"] == "AWS::CloudFormation::WaitCondition":
                    assert resource["Properties"]["Handle"] == {"Ref": handle}
                else:
                    # Only the handle's logical id as a string, never a Ref/GetAtt to it.
                    assert {"Ref": handle} != resource["Properties"].get("SignalHandle")
                    assert f'{{"Ref": "{handle}"}}' not in json.dumps(resource["Properties"]), logical_id
    for recommender_id, resource in custom(template, "Custom::PersonalizeRecommender").items():
        props = resource["Properties"]
        assert "SignalUrl" not in props
        assert props["SignalHandle"]["StackId"] == {"Ref": "AWS::StackId"}
        assert props["SignalHandle"]["LogicalResourceId"] in handles
        assert props["SignalHandle"]["LogicalResourceId"] in dependencies(template, recommender_id)
    poll_role = role_of_function(template, function_by_handler(template, "personalize_resources.long_waits.poll_step"))
    assert ("cloudformation:DescribeStackResource", "<AWS::StackId>") in granted(template, poll_role)


def test_imports_items_then_attribution_then_interactions_each_after_the_role_policy(template):
    attribution_id, _ = only(template, "Custom::PersonalizeMetricAttribution")
    jobs = {j["Properties"]["Request"]["jobName"]["Fn::Join"][1][0]: k for k, j in custom(template, "Custom::PersonalizeDatasetImportJob").items()}
    items = next(k for name, k in jobs.items() if "-items-" in name)
    interactions = next(k for name, k in jobs.items() if "-interactions-" in name)
    # The attribution waits for the items import to be ACTIVE (its WaitCondition), not just started.
    assert awaiting(template, "Custom::PersonalizeDatasetImportJob")[items] in dependencies(template, attribution_id)
    assert attribution_id in dependencies(template, interactions)
    assert attribution_id not in dependencies(template, items)
    for logical_id in (items, interactions, attribution_id):
        assert "ServiceRoleDefaultPolicy1928D448" in dependencies(template, logical_id)


def test_kms_dataset_groups_wait_for_the_service_role_policy(synthesized):
    multi = synthesized.template("multi", "personalize")
    for logical_id, group in resources(multi, "AWS::Personalize::DatasetGroup").items():
        assert "KmsKeyArn" in group["Properties"]
        assert "ServiceRoleDefaultPolicy1928D448" in dependencies(multi, logical_id)


def test_import_job_names_are_unique_per_stack_and_change_with_s3_output(template):
    from config import load_config
    from stacks.constructs.group_names import GroupNames

    for job in custom(template, "Custom::PersonalizeDatasetImportJob").values():
        name = job["Properties"]["Request"]["jobName"]
        # "<name>-<group>-<type>-<digest>-" + first group of the stack id's UUID, at deploy time.
        assert name["Fn::Join"][1][0].startswith("pimpact-default-retail-")
        assert "AWS::StackId" in json.dumps(name["Fn::Join"][1][1])
    config = load_config("config/default.yaml")
    group = config.dataset_groups[0]
    without_s3 = group.model_copy(update={"metric_attribution": group.metric_attribution.model_copy(update={"s3_output": False})})
    assert GroupNames(config, group).import_job("interactions") != GroupNames(config, without_s3).import_job("interactions")
    assert len(GroupNames(config, group).import_job("interactions")) <= 63


def test_wait_condition_handles_change_with_tags_and_timeout(template):
    from config import load_config
    from stacks.constructs.group_names import short_hash

    handles = set(resources(template, "AWS::CloudFormation::WaitConditionHandle"))
    config = load_config("config/default.yaml")
    group = config.dataset_groups[0]
    recommender_config = group.recommenders[0]
    digest = short_hash(group.name, recommender_config.model_dump(mode="json", by_alias=True), config.tags, str(8 * 3600))
    assert any(digest in handle for handle in handles)
    assert digest != short_hash(group.name, recommender_config.model_dump(mode="json", by_alias=True), {}, str(8 * 3600))
    assert digest != short_hash(group.name, recommender_config.model_dump(mode="json", by_alias=True), config.tags, str(9 * 3600))


def test_handlers_run_on_the_latest_python_with_json_logs(template):
    for handler in HANDLERS:
        function = template["Resources"][function_by_handler(template, handler)]["Properties"]
        assert function["Runtime"] == "python3.14"
        assert function["LoggingConfig"]["LogFormat"] == "JSON"


def test_metric_attribution_has_the_blog_metrics_and_comes_after_the_datasets(template):
    attribution_id, attribution = only(template, "Custom::PersonalizeMetricAttribution")
    request = attribution["Properties"]["Request"]
    assert request["name"] == "pimpact-default-retail-attribution"
    assert request["metrics"] == [
        {"eventType": "View", "metricName": "countViews", "expression": "SAMPLECOUNT()"},
        {"eventType": "Purchase", "metricName": "sumMargin", "expression": "SUM(ITEMS.MARGIN)"},
    ]
    output = request["metricsOutputConfig"]
    assert text(output["roleArn"]) == "<ServiceRoleD777F2A1.Arn>"
    assert text(output["s3DataDestination"]["path"]) == "s3://pimpact-default-data-<AWS::AccountId>-<AWS::Region>/metric-reports/retail/"
    datasets = set(resources(template, "AWS::Personalize::Dataset"))
    assert datasets <= dependencies(template, attribution_id)
    assert attribution.get("DeletionPolicy", "Delete") == "Delete"


def test_every_import_job_publishes_to_s3(template):
    attribution_id, _ = only(template, "Custom::PersonalizeMetricAttribution")
    jobs = custom(template, "Custom::PersonalizeDatasetImportJob")
    assert len(jobs) == 2
    names = set()
    for job_id, job in jobs.items():
        request = job["Properties"]["Request"]
        assert (attribution_id in dependencies(template, job_id)) == ("-interactions-" in text(request["jobName"]))
        assert request["importMode"] == "FULL" and request["publishAttributionMetricsToS3"] == "true"
        assert text(request["dataSource"]["dataLocation"]).startswith("<SampleDataFiles")
        names.add(json.dumps(request["jobName"]))
    assert len(names) == 2


def test_sample_data_is_written_to_the_sample_prefix(template):
    _, sample = only(template, "Custom::PersonalizeSampleData")
    props = sample["Properties"]
    assert text(props["Bucket"]) == "pimpact-default-data-<AWS::AccountId>-<AWS::Region>"
    assert props["Prefix"] == "imports/sample/"
    assert int(props["Interactions"]) >= 1000


def awaiting(template: dict, resource_type: str) -> dict[str, str]:
    """Custom resource logical id → the WaitCondition whose handle it names."""
    waits = resources(template, "AWS::CloudFormation::WaitCondition")
    return {
        logical_id: next(w for w, wait in waits.items() if wait["Properties"]["Handle"] == {"Ref": r["Properties"]["SignalHandle"]["LogicalResourceId"]})
        for logical_id, r in custom(template, resource_type).items()
    }


def test_imports_are_awaited_by_wait_conditions_past_the_custom_resource_hour(template):
    waits = resources(template, "AWS::CloudFormation::WaitCondition")
    imports = awaiting(template, "Custom::PersonalizeDatasetImportJob")
    assert len(imports) == 2 and len(waits) == 4
    for job_id, wait_id in imports.items():
        assert job_id in waits[wait_id]["DependsOn"]
        assert waits[wait_id]["Properties"]["Timeout"] == str(8 * 3600)
    handler = template["Resources"][function_by_handler(template, "personalize_resources.import_job.on_event")]["Properties"]
    assert handler["Environment"]["Variables"]["POLLER_STATE_MACHINE_ARN"] == {"Ref": POLLER_STATE_MACHINE}


def test_recommenders_wait_for_imports_and_are_awaited_by_a_wait_condition(template):
    jobs = set(awaiting(template, "Custom::PersonalizeDatasetImportJob").values())
    recommenders = custom(template, "Custom::PersonalizeRecommender")
    assert {r["Properties"]["Request"]["recipeArn"] for r in recommenders.values()} == {
        "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you",
        "arn:aws:personalize:::recipe/aws-ecomm-customers-who-viewed-x-also-viewed",
    }
    waits = resources(template, "AWS::CloudFormation::WaitCondition")
    assert len(awaiting(template, "Custom::PersonalizeRecommender")) == len(recommenders) == 2
    for recommender_id, resource in recommenders.items():
        assert jobs <= dependencies(template, recommender_id)
        props = resource["Properties"]
        assert props["DesiredState"] == "ACTIVE"
        assert props["Request"]["recommenderConfig"] == {"minRecommendationRequestsPerSecond": 1}
        assert {"tagKey": "project", "tagValue": "personalize-impact"} in props["Request"]["tags"]
        [wait] = [w for w in waits.values() if w["Properties"]["Handle"] == {"Ref": props["SignalHandle"]["LogicalResourceId"]}]
        assert recommender_id in wait["DependsOn"]
        assert wait["Properties"]["Timeout"] == str(8 * 3600) and wait["Properties"]["Count"] == 1


def test_a_new_recipe_means_a_new_recommender_name(synthesized):
    from config import load_config

    config = load_config("config/default.yaml")
    group = config.dataset_groups[0]
    recommender = group.recommenders[0]
    other_recipe = recommender.model_copy(update={"recipe": "aws-ecomm-popular-items-by-views"})
    # Personalize cannot change a recipe: the name differs, so CloudFormation replaces without a collision.
    assert config.recommender_name(group, recommender) != config.recommender_name(group, other_recipe)
    assert config.recommender_name(group, recommender).startswith("pimpact-default-retail-recommended-for-you-")


def test_recommender_arns_and_sources_are_published(template):
    parameters = {p["Properties"]["Name"]: p["Properties"]["Value"] for p in resources(template, "AWS::SSM::Parameter").values()}
    assert parameters["/pimpact-default/retail/recommenders/recommended-for-you/attribution-source"] == "recommended_for_you"
    assert parameters["/pimpact-default/retail/recommenders/viewed-x-also-viewed/attribution-source"] == "viewed_X_also_viewed"
    assert text(parameters["/pimpact-default/retail/recommenders/recommended-for-you/arn"]).endswith(".RecommenderArn>")
    output_values = {text(o["Value"]) for o in template["Outputs"].values()}
    assert {"recommended_for_you", "viewed_X_also_viewed"} <= output_values


def test_poller_state_machine_loops_without_a_sleeping_lambda(template):
    state_machine = template["Resources"][POLLER_STATE_MACHINE]["Properties"]
    definition = json.loads("".join(p if isinstance(p, str) else "POLL" for p in state_machine["DefinitionString"]["Fn::Join"][1]))
    states = definition["States"]
    assert definition["StartAt"] == "WaitBeforePoll"
    # Each execution sets its interval: a minute for imports, recommenderPollMinutes for recommenders.
    assert states["WaitBeforePoll"] == {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": "Poll"}
    handler = template["Resources"][function_by_handler(template, "personalize_resources.recommender.on_event")]["Properties"]
    assert handler["Environment"]["Variables"]["POLLER_WAIT_SECONDS"] == "300"
    assert states["Poll"]["Next"] == "Finished"
    # Catch-all: any failure of the poll step (Lambda timeout, error) signals FAILURE, then fails.
    [catch] = states["Poll"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.error"
    assert catch["Next"] == "SignalPollFailure" and states["SignalPollFailure"]["Next"] == "PollFailed"
    assert states["PollFailed"]["Type"] == "Fail"
    choice = states["Finished"]
    assert choice["Choices"][0]["Variable"] == "$.finished" and choice["Default"] == "WaitBeforePoll"
    assert definition["TimeoutSeconds"] == 8 * 3600
    assert state_machine["TracingConfiguration"] == {"Enabled": True}
    assert state_machine["LoggingConfiguration"]["Level"] == "ALL"


def test_stopped_recommender_and_config_are_passed_through(synthesized):
    multi = synthesized.template("multi", "personalize")
    by_name = {r["Properties"]["Request"]["name"].rsplit("-", 1)[0]: r["Properties"] for r in resources(multi, "Custom::PersonalizeRecommender").values()}
    assert by_name["pimpact-multi-shop-also-viewed"]["DesiredState"] == "INACTIVE"
    assert by_name["pimpact-multi-shop-for-you"]["Request"]["recommenderConfig"]["trainingDataConfig"] == {
        "excludedDatasetColumns": {"INTERACTIONS": ["EVENT_VALUE"]}
    }
    waits = resources(multi, "AWS::CloudFormation::WaitCondition")
    assert {w["Properties"]["Timeout"] for w in waits.values()} == {str(10 * 3600)}
    attributions = {a["Properties"]["Request"]["name"]: a["Properties"]["Request"] for a in resources(multi, "Custom::PersonalizeMetricAttribution").values()}
    assert "s3DataDestination" not in attributions["pimpact-multi-video-attribution"]["metricsOutputConfig"]
    jobs = [j["Properties"]["Request"] for j in resources(multi, "Custom::PersonalizeDatasetImportJob").values()]
    video = [j for j in jobs if text(j["jobName"]).startswith("pimpact-multi-video-")]
    assert {j["publishAttributionMetricsToS3"] for j in video} == {"false"}
    locations = {text(j["dataSource"]["dataLocation"]) for j in video}
    assert locations == {
        "s3://pimpact-multi-data-<AWS::AccountId>-<AWS::Region>/imports/video/interactions.csv",
        "s3://example-partner-exports/video/users/",
    }


def test_a_config_without_custom_resources_deploys_no_handlers(synthesized):
    minimal = synthesized.template("minimal", "personalize")
    types = {r["Type"] for r in minimal["Resources"].values()}
    assert not any(t.startswith("Custom::") for t in types)
    assert "AWS::Lambda::Function" not in types and "AWS::Personalize::EventTracker" not in types
    assert "AWS::Personalize::DatasetGroup" in types


def test_recorded_events_are_exported_before_the_interactions_dataset_is_deleted(synthesized, template):
    # removalPolicy RETAIN (the default): PutEvents data lives only in the dataset.
    export_id, export = only(template, "Custom::PersonalizeInteractionsExport")
    request = export["Properties"]["Request"]
    assert text(request["datasetArn"]) == "<GroupretailInteractionsDatasetB286AA99.DatasetArn>"
    assert text(request["exportPrefix"]) == "s3://pimpact-default-data-<AWS::AccountId>-<AWS::Region>/exports/retail/"
    assert request["jobNamePrefix"] == "pimpact-default-retail-export"
    assert text(request["roleArn"]) == "<ServiceRoleD777F2A1.Arn>"
    # Created before the imports and the teardown chain, so deleted after the chain (no import
    # runs any more) and before the dataset (which it references).
    for job_id in custom(template, "Custom::PersonalizeDatasetImportJob"):
        assert export_id in dependencies(template, job_id)
    assert export_id in dependencies(template, teardown_chain(template, DATASET_GROUP)[-1])
    bucket = "arn:<AWS::Partition>:s3:::pimpact-default-data-<AWS::AccountId>-<AWS::Region>"
    assert ("s3:PutObject", f"{bucket}/exports/*") in granted(template, "ServiceRoleD777F2A1")
    storage = synthesized.template("default", "storage")
    policy = next(p for p in resources(storage, "AWS::S3::BucketPolicy").values() if "PersonalizeWritesEventExports" in json.dumps(p))
    [writes] = [s for s in statements(policy) if s.get("Sid") == "PersonalizeWritesEventExports"]
    assert writes["Action"] == "s3:PutObject" and text(writes["Resource"]) == "<Data666C94C7.Arn>/exports/*"
    assert writes["Principal"] == {"Service": "personalize.amazonaws.com"}


def test_no_export_when_the_config_destroys_data_or_records_no_events(synthesized):
    # multi-group: removalPolicy DESTROY; minimal: no event tracker, so no recorded events.
    for config in ("multi", "minimal"):
        assert not resources(synthesized.template(config, "personalize"), "Custom::PersonalizeInteractionsExport")


# --- the teardown chain (lambdas/personalize_resources/teardown_wait.py) -------------------------


def teardown_chain(template: dict, group_id: str) -> list[str]:
    """A group's waits in delete order: wait 1 (the children depend on it) ... wait K."""
    waits = {k: v for k, v in custom(template, "Custom::PersonalizeTeardownWait").items()
             if v["Properties"]["Request"]["datasetGroupArn"] == {"Fn::GetAtt": [group_id, "DatasetGroupArn"]}}
    return sorted(waits, key=lambda k: int(waits[k]["Properties"]["Request"]["position"]))


def test_teardown_chain_sits_between_the_imports_and_recommenders_and_the_datasets(template):
    chain = teardown_chain(template, DATASET_GROUP)
    # A fixed 15 waits; together they last longWaitTimeoutHours (8): 32 minutes each.
    assert len(chain) == 15
    requests = [template["Resources"][k]["Properties"]["Request"] for k in chain]
    assert [r["position"] for r in requests] == list(range(1, 16))
    assert {(r["count"], r["shareSeconds"], r["namePrefix"]) for r in requests} == {(15, 8 * 3600 // 15, "pimpact-default-retail-")}
    # Each wait is deleted before the next (it depends on the next), every one before the
    # datasets, whose running imports it lists.
    for earlier, later in zip(chain, chain[1:]):
        assert later in dependencies(template, earlier)
    datasets = resources(template, "AWS::Personalize::Dataset")
    assert {text(arn) for arn in requests[0]["datasetArns"]} == {f"<{k}.DatasetArn>" for k in datasets}
    assert all(r["datasetArns"] == requests[0]["datasetArns"] for r in requests)
    assert set(datasets) <= dependencies(template, chain[-1])
    # Recommenders and import jobs go after the chain: their Deletes answer at once (the poller
    # deletes a recommender once trained; an import can be neither stopped nor deleted, the
    # waits list the running ones). On create the chain is made first, so a create that fails
    # while an import runs rolls back through the waits instead of DeleteDataset on it.
    recommenders = custom(template, "Custom::PersonalizeRecommender")
    imports = custom(template, "Custom::PersonalizeDatasetImportJob")
    assert len(recommenders) == 2 and len(imports) == 2
    for logical_id in [*recommenders, *imports]:
        assert chain[0] in dependencies(template, logical_id), f"{logical_id} is deleted before the chain and created after it"


def test_teardown_chain_per_group_and_its_share_follows_the_timeout(synthesized):
    from stacks.constructs.teardown import TEARDOWN_WAITS, TEARDOWN_WAIT_TIMEOUT, teardown_wait_share_seconds

    multi = synthesized.template("multi", "personalize")
    chains = [teardown_chain(multi, group) for group in resources(multi, "AWS::Personalize::DatasetGroup")]
    assert len(chains) == 2 and all(len(chain) == TEARDOWN_WAITS for chain in chains)
    assert not set(chains[0]) & set(chains[1])
    # The longest timeout the config accepts (12 h) still leaves each wait inside its Provider's
    # total timeout, with a 30 s isComplete interval to spare.
    assert teardown_wait_share_seconds(_with_timeout(12)) + 30 < TEARDOWN_WAIT_TIMEOUT.to_seconds()
    assert teardown_wait_share_seconds(_with_timeout(12)) * TEARDOWN_WAITS >= 12 * 3600


def _with_timeout(hours: float):
    """What teardown_wait_share_seconds reads of a config (12 h is the most it accepts)."""
    import types

    return types.SimpleNamespace(long_wait_timeout_hours=hours)


def test_each_teardown_wait_passes_on_before_its_provider_times_out(template):
    import re

    [waiter] = [v for k, v in resources(template, "AWS::StepFunctions::StateMachine").items() if k.startswith("TeardownWaitProvider")]
    definition = "".join(part for part in waiter["Properties"]["DefinitionString"]["Fn::Join"][1] if isinstance(part, str))
    interval = int(re.search(r'"IntervalSeconds":(\d+)', definition).group(1))
    attempts = int(re.search(r'"MaxAttempts":(\d+)', definition).group(1))
    share = int(template["Resources"][teardown_chain(template, DATASET_GROUP)[0]]["Properties"]["Request"]["shareSeconds"])
    # The framework's waiter gives up (Delete FAILED) after interval × attempts: a wait must answer
    # complete (pass on) at its share, one isComplete interval before that, within the hour.
    assert share + interval < interval * attempts <= 3600
