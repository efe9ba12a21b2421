"""Glue table, Athena workgroup and saved queries over the S3 metric reports (dashboard stack).

Read from the session's synthesized templates; the table, workgroup and queries are also
checked against botocore's Glue and Athena request models, the API CloudFormation calls.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator

from config import AppConfig, load_config
from stacks.constructs.report_queries import results_encryption
from tests.stacks.templates import only, resources, text
from harness.synthesis import SYNTH_CONFIGS
from stacks.report_sql import REPORT_COLUMNS, named_queries

WITH_REPORTS = ("default", "multi", "custom")
TABLE = "metric_reports"


def config(key: str) -> AppConfig:
    return load_config(SYNTH_CONFIGS[key])


def bucket(cfg: AppConfig) -> str:
    return f"{cfg.name}-data-<AWS::AccountId>-<AWS::Region>"


def sub(value: Any) -> str:
    """A Fn::Sub [body, variables] rendered: variables substituted, ``${!x}`` left as ``${x}``."""
    body, variables = value["Fn::Sub"]
    for name, replacement in variables.items():
        body = body.replace("${" + name + "}", text(replacement))
    return body.replace("${!", "${")


@cache
def validator_input(service: str, operation: str):
    return get_session().get_service_model(service).operation_model(operation).input_shape


def assert_valid_request(service: str, operation: str, params: dict) -> None:
    report = ParamValidator().validate(params, validator_input(service, operation))
    assert not report.has_errors(), report.generate_report()


@pytest.fixture(scope="module", params=WITH_REPORTS)
def case(request, synthesized):
    key = request.param
    return config(key), synthesized.template(key, "dashboard"), synthesized.template(key, "personalize")


def test_table_columns_are_the_report_columns_in_csv_order(case):
    cfg, template, _ = case
    _, table = only(template, "AWS::Glue::Table")
    descriptor = table["Properties"]["TableInput"]["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == REPORT_COLUMNS
    assert [name.upper() for name, _ in REPORT_COLUMNS] == ["METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    assert descriptor["SerdeInfo"]["Parameters"]["separatorChar"] == ","
    parameters = table["Properties"]["TableInput"]["Parameters"]
    assert parameters["skip.header.line.count"] == "1"  # every report file starts with its header
    assert table["Properties"]["TableInput"]["TableType"] == "EXTERNAL_TABLE"
    assert text(descriptor["Location"]) == f"s3://{bucket(cfg)}/metric-reports/"


def test_partitions_are_exactly_the_folders_the_metric_attributions_write(case):
    cfg, template, personalize = case
    _, table = only(template, "AWS::Glue::Table")
    table_input = table["Properties"]["TableInput"]
    parameters = table_input["Parameters"]
    assert table_input["PartitionKeys"] == [{"Name": "dataset_group", "Type": "string", "Comment": "dataset group folder"}]
    assert parameters["projection.enabled"] == "true" and parameters["projection.dataset_group.type"] == "enum"
    groups = parameters["projection.dataset_group.values"].split(",")
    template_location = sub(parameters["storage.location.template"])
    assert template_location == f"s3://{bucket(cfg)}/metric-reports/${{dataset_group}}/"

    # Where each metric attribution really writes, read from the Personalize stack's template.
    written = {}
    for attribution in resources(personalize, "Custom::PersonalizeMetricAttribution").values():
        request = attribution["Properties"]["Request"]
        destination = request["metricsOutputConfig"].get("s3DataDestination")
        if destination:
            written[request["name"]] = text(destination["path"])
    assert written
    assert sorted(template_location.replace("${dataset_group}", g) for g in groups) == sorted(written.values())
    assert groups == [g.name for g in cfg.dataset_groups if g.metric_attribution and g.metric_attribution.s3_output]


def test_workgroup_enforces_encrypted_results_in_the_data_bucket(case):
    cfg, template, _ = case
    workgroup_id, workgroup = only(template, "AWS::Athena::WorkGroup")
    properties = workgroup["Properties"]
    assert properties["Name"] == f"{cfg.name}-reports" and properties["State"] == "ENABLED"
    configuration = properties["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    results = configuration["ResultConfiguration"]
    assert text(results["OutputLocation"]) == f"s3://{bucket(cfg)}/athena-results/"
    assert results["ExpectedBucketOwner"] == {"Ref": "AWS::AccountId"}
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}  # neither config names its own key
    assert_valid_request(
        "athena",
        "CreateWorkGroup",
        {"Name": properties["Name"], "Description": properties["Description"], "Configuration": {
            "EnforceWorkGroupConfiguration": True,
            "ResultConfiguration": {"OutputLocation": f"s3://{cfg.name}-data-123456789012-eu-west-1/athena-results/", "EncryptionConfiguration": results["EncryptionConfiguration"]},
        }},
    )
    # Athena uses the caller's credentials over TLS: the stack grants nothing on the bucket.
    assert not resources(template, "AWS::S3::BucketPolicy") and not resources(template, "AWS::IAM::Policy")


@pytest.mark.parametrize(
    ("encryption", "expected"),
    [
        ({}, ("SSE_S3", None)),
        ({"mode": "KMS"}, ("SSE_S3", None)),
        ({"mode": "KMS", "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234"}, ("SSE_KMS", "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234")),
    ],
)
def test_results_use_the_configs_own_key_when_it_names_one(encryption, expected):
    cfg = config("default").model_copy(update={"encryption": config("default").encryption.model_validate(encryption)})
    assert results_encryption(cfg) == expected


def test_saved_queries_are_the_shared_sql(case):
    cfg, template, _ = case
    workgroup_id, _ = only(template, "AWS::Athena::WorkGroup")
    database_id, database = only(template, "AWS::Glue::Database")
    table_id, _ = only(template, "AWS::Glue::Table")
    database_name = database["Properties"]["DatabaseInput"]["Name"]
    assert database_name == cfg.name.replace("-", "_") + "_reports"
    saved = {}
    for query in resources(template, "AWS::Athena::NamedQuery").values():
        properties = query["Properties"]
        assert properties["Database"] == database_name
        assert properties["WorkGroup"] == {"Ref": workgroup_id}
        assert table_id in query.get("DependsOn", [])  # the table exists before a query names it
        saved[properties["Name"]] = text(properties["QueryString"])  # ARNs hold the account and region
        assert_valid_request("athena", "CreateNamedQuery", {k: text(properties[k]) for k in ("Name", "Database", "QueryString", "Description")} | {"WorkGroup": "wg"})
    # Every recommender's and campaign's ARN counted with its configured source, as `report --config` does.
    arn = "arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:"
    aliases = {f"{arn}recommender/{cfg.recommender_name(g, r)}": r.source_name for g in cfg.dataset_groups for r in g.recommenders}
    aliases |= {f"{arn}campaign/{cfg.campaign_name(g, c)}": c.source_name for g in cfg.dataset_groups for _, c in g.campaigns(enabled_only=True)}
    assert aliases
    assert saved == named_queries(TABLE, source_aliases=aliases)
    assert all(re.search(rf"\bFROM {TABLE}\b", sql) for sql in saved.values())


def test_table_and_database_are_valid_glue_requests(case):
    _, template, _ = case
    _, database = only(template, "AWS::Glue::Database")
    _, table = only(template, "AWS::Glue::Table")
    table_input = dict(table["Properties"]["TableInput"])
    table_input["StorageDescriptor"] = {**table_input["StorageDescriptor"], "Location": "s3://bucket/metric-reports/"}
    table_input["Parameters"] = {**table_input["Parameters"], "storage.location.template": "s3://bucket/metric-reports/${dataset_group}/"}
    assert_valid_request("glue", "CreateDatabase", {"DatabaseInput": database["Properties"]["DatabaseInput"]})
    assert_valid_request("glue", "CreateTable", {"DatabaseName": database["Properties"]["DatabaseInput"]["Name"], "TableInput": table_input})
    # Athena only sees lower-case names without '-'.
    for name in [database["Properties"]["DatabaseInput"]["Name"], table_input["Name"], *(c["Name"] for c in table_input["StorageDescriptor"]["Columns"])]:
        assert re.fullmatch(r"[a-z0-9_]+", name), name


def test_names_are_stack_outputs_and_ssm_parameters_for_report_athena(case):
    cfg, template, _ = case
    workgroup_id, _ = only(template, "AWS::Athena::WorkGroup")
    expected = {"athena-work-group": {"Ref": workgroup_id}, "glue-database": cfg.name.replace("-", "_") + "_reports", "glue-table": TABLE}
    parameters = {text(p["Properties"]["Name"]): p["Properties"]["Value"] for p in resources(template, "AWS::SSM::Parameter").values()}
    assert parameters == {f"/{cfg.name}/reports/{leaf}": value for leaf, value in expected.items()}
    outputs = [o["Value"] for o in template["Outputs"].values() if "report --athena" in o["Description"]]
    assert sorted(map(str, outputs)) == sorted(map(str, expected.values()))


def test_released_template_derives_athena_names_from_the_name_prefix(releases):
    """In a release the environment name is the NamePrefix parameter; '-' must still become '_'."""
    import json

    cfg = config("multi")
    path = next(releases["multi"].glob(f"templates/{cfg.name}-dashboard.template.json"))
    template = json.loads(path.read_text())
    _, database = only(template, "AWS::Glue::Database")

    def evaluate(node: Any, prefix: str) -> Any:
        if isinstance(node, str):
            return node
        if node == {"Ref": "NamePrefix"}:
            return prefix
        if "Fn::Split" in node:
            delimiter, source = node["Fn::Split"]
            return evaluate(source, prefix).split(delimiter)
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            values = evaluate(items, prefix) if isinstance(items, dict) else [evaluate(i, prefix) for i in items]
            return delimiter.join(values)
        raise AssertionError(f"unexpected intrinsic {node}")

    assert evaluate(database["Properties"]["DatabaseInput"]["Name"], "acme-prod-eu") == "acme_prod_eu_reports"

