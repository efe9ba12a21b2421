"""The CloudWatch dashboard stack, read from the session's synthesized templates.

Expectations are computed from the same config files the templates were built from, so the
tests follow config changes; the dashboard body is rendered from its Fn::Join with placeholders
(``<AWS::Region>``, ``<Logical.Attr>``) standing in for tokens.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stacks.configuration import AppConfig, DatasetGroup, load_config
from tests.synthesis import SYNTH_CONFIGS

NAMESPACE = "AWS/Personalize"
DIMENSIONS = {"DatasetGroupArn", "EventAttributionSource"}
WITH_DASHBOARD = ("default", "multi")


# --- helpers ---------------------------------------------------------------------------------


def render(node: Any) -> str:
    """A CloudFormation string value as text, tokens replaced by placeholders."""
    if isinstance(node, str):
        return node
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(render(item) for item in items)
    if "Ref" in node:
        return f"<{node['Ref']}>"
    if "Fn::GetAtt" in node:
        return "<{}.{}>".format(*node["Fn::GetAtt"])
    raise AssertionError(f"unexpected intrinsic in the dashboard body: {node}")


def resources(template: dict, resource_type: str) -> list[dict]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


def body(template: dict) -> dict:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard")
    return json.loads(render(dashboard["Properties"]["DashboardBody"]))


def config(key: str) -> AppConfig:
    return load_config(SYNTH_CONFIGS[key])


def charted(cfg: AppConfig) -> list[DatasetGroup]:
    return [g for g in cfg.dataset_groups if g.metric_attribution and g.metric_attribution.cloudwatch]


def group_arn(cfg: AppConfig, group: DatasetGroup) -> str:
    return f"arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:dataset-group/{cfg.physical_name(group.name)}"


def metric_widgets(dashboard: dict) -> list[dict]:
    return [w for w in dashboard["widgets"] if w["type"] == "metric"]


def text_widgets(dashboard: dict) -> list[str]:
    return [w["properties"]["markdown"] for w in dashboard["widgets"] if w["type"] == "text"]


def plain_metrics(widget: dict) -> list[dict]:
    """Metric lines of a widget as {namespace, name, dimensions, options}; expressions skipped."""
    out = []
    for line in widget["properties"]["metrics"]:
        if isinstance(line[0], dict):
            continue
        options = line[-1] if isinstance(line[-1], dict) else {}
        fields = line[:-1] if options else line
        namespace, name, *pairs = fields
        out.append({"namespace": namespace, "name": name, "dimensions": dict(zip(pairs[::2], pairs[1::2])), "options": options})
    return out


def expressions(widget: dict) -> list[dict]:
    return [line[0] for line in widget["properties"]["metrics"] if isinstance(line[0], dict)]


def widgets_of_group(dashboard: dict, group: DatasetGroup) -> list[dict]:
    return [w for w in metric_widgets(dashboard) if w["properties"]["title"].startswith(f"{group.name} · ")]


def by_title(dashboard: dict, title: str) -> dict:
    matches = [w for w in metric_widgets(dashboard) if w["properties"]["title"] == title]
    assert len(matches) == 1, f"expected one widget titled {title!r}, found {len(matches)}"
    return matches[0]


def metric_title(group: DatasetGroup, metric) -> str:
    return f"{group.name} · {metric.metric_name} ({metric.cloudwatch_name})"


@pytest.fixture(scope="module", params=WITH_DASHBOARD)
def case(request, synthesized):
    key = request.param
    template = synthesized.template(key, "dashboard")
    return config(key), template, body(template)


# --- presence and naming ---------------------------------------------------------------------


def test_minimal_config_has_no_dashboard_stack(synthesized):
    assert config("minimal").dashboard.enabled is False
    assert "dashboard" not in synthesized.stacks["minimal"]


def test_dashboard_named_from_config_without_environment_literals_or_exports(case):
    cfg, template, _ = case
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard")
    assert dashboard["Properties"]["DashboardName"] == f"{cfg.name}-metric-attribution"
    text = json.dumps(template)
    assert not re.search(r"\b\d{12}\b", text), "an account ID literal in the template"
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", text), "a region literal in the template"
    assert "Fn::ImportValue" not in text
    assert all("Export" not in output for output in template.get("Outputs", {}).values())


def test_one_section_per_charted_group(case):
    cfg, _, dashboard = case
    texts = text_widgets(dashboard)
    for group in charted(cfg):
        assert any(t.startswith(f"## Dataset group `{group.name}`") for t in texts)
        assert widgets_of_group(dashboard, group)


# --- what every metric widget queries ----------------------------------------------------------


def test_every_metric_line_queries_personalize_with_both_dimensions(case):
    cfg, _, dashboard = case
    names = {m.cloudwatch_name for g in charted(cfg) for m in g.metric_attribution.metrics}
    arns = {group_arn(cfg, g) for g in charted(cfg)}
    lines = [line for widget in metric_widgets(dashboard) for line in plain_metrics(widget)]
    assert lines
    for line in lines:
        assert line["namespace"] == NAMESPACE
        assert line["name"] in names and line["name"] == line["name"].upper()
        assert set(line["dimensions"]) == DIMENSIONS
        assert line["dimensions"]["DatasetGroupArn"] in arns
        assert line["dimensions"]["EventAttributionSource"] == line["dimensions"]["EventAttributionSource"].upper()
        assert line["options"]["stat"] == "Sum"
        assert line["options"]["period"] >= 900


def test_every_graph_and_expression_uses_at_least_15_minutes(case):
    _, _, dashboard = case
    for widget in metric_widgets(dashboard):
        properties = widget["properties"]
        if properties["view"] == "timeSeries":
            assert properties["period"] >= 900, properties["title"]
        else:
            assert properties["view"] == "singleValue" and properties["setPeriodToTimeRange"] is True, properties["title"]
        for expression in expressions(widget):
            assert expression["period"] >= 900, expression


def test_search_expression_per_metric_finds_sources_added_later(case):
    cfg, _, dashboard = case
    for group in charted(cfg):
        for metric in group.metric_attribution.metrics:
            widget = by_title(dashboard, f"{metric_title(group, metric)}: every source (search)")
            (expression,) = expressions(widget)
            match = re.fullmatch(r"SEARCH\('\{([^}]*)\} (.*)', 'Sum', (\d+)\)", expression["expression"])
            assert match, expression["expression"]
            schema, terms, period = match.groups()
            assert schema.split(",") == [NAMESPACE, "DatasetGroupArn", "EventAttributionSource"]
            assert f'MetricName="{metric.metric_name.upper()}"' in terms
            assert f'DatasetGroupArn="{group_arn(cfg, group)}"' in terms
            assert int(period) >= 900 and expression["period"] >= 900
            assert "EventAttributionSource" in expression["label"]  # one legend entry per source


# --- configured sources: lines, totals, shares -------------------------------------------------


def test_configured_sources_are_named_lines(case):
    cfg, _, dashboard = case
    for group in charted(cfg):
        sources = group.all_sources()
        assert sources
        for metric in group.metric_attribution.metrics:
            widget = by_title(dashboard, f"{metric_title(group, metric)}: configured sources")
            lines = plain_metrics(widget)
            assert [line["dimensions"]["EventAttributionSource"] for line in lines] == [s.upper() for s in sources]
            assert [line["options"]["label"] for line in lines] == sources
            assert {line["name"] for line in lines} == {metric.cloudwatch_name}


def test_totals_per_source_over_the_time_range(case):
    cfg, _, dashboard = case
    for group in charted(cfg):
        for metric in group.metric_attribution.metrics:
            widget = by_title(dashboard, f"{metric_title(group, metric)}: total per source over the time range")
            assert widget["properties"]["view"] == "singleValue"
            assert widget["properties"]["setPeriodToTimeRange"] is True
            lines = plain_metrics(widget)
            assert [line["dimensions"]["EventAttributionSource"] for line in lines] == [s.upper() for s in group.all_sources()]
            assert all(line["options"]["stat"] == "Sum" and line["name"] == metric.cloudwatch_name for line in lines)


def test_share_of_each_source_is_its_part_of_all_configured_sources(case):
    cfg, _, dashboard = case
    for group in charted(cfg):
        sources = group.all_sources()
        all_ids = [f"s{i}" for i in range(len(sources))]
        for metric in group.metric_attribution.metrics:
            widget = by_title(dashboard, f"{metric_title(group, metric)}: share of the configured sources' total (%)")
            assert widget["properties"]["setPeriodToTimeRange"] is True
            total = "SUM([" + ", ".join(f"FILL({i}, 0)" for i in all_ids) + "])"
            assert [e["expression"] for e in expressions(widget)] == [f"100 * FILL({i}, 0) / {total}" for i in all_ids]
            assert [e["label"] for e in expressions(widget)] == [f"{s} %" for s in sources]
            hidden = {line["options"]["id"]: line for line in plain_metrics(widget)}
            assert set(hidden) == set(all_ids)
            for metric_id, source in zip(all_ids, sources):
                assert hidden[metric_id]["options"]["visible"] is False
                assert hidden[metric_id]["dimensions"]["EventAttributionSource"] == source.upper()
                assert hidden[metric_id]["name"] == metric.cloudwatch_name


# --- derived metrics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "group_name", "name", "numerator", "denominator"),
    [
        ("default", "retail", "Margin per view", "sumMargin", "countViews"),
        ("multi", "shop", "Margin per view", "sumMargin", "countViews"),
        ("multi", "shop", "revenuePerView", "revenue", "countViews"),
    ],
)
def test_derived_metric_is_metric_math_per_source(synthesized, key, group_name, name, numerator, denominator):
    cfg = config(key)
    dashboard = body(synthesized.template(key, "dashboard"))
    group = next(g for g in cfg.dataset_groups if g.name == group_name)
    sources = group.all_sources()
    upper = {m.metric_name: m.cloudwatch_name for m in group.metric_attribution.metrics}
    prefix = f"{group.name} · {name} = {numerator} / {denominator}"
    for title in (f"{prefix}, per 15 minutes", f"{prefix}, over the time range"):
        widget = by_title(dashboard, title)
        exprs = expressions(widget)
        assert [e["label"] for e in exprs] == sources
        hidden = {line["options"]["id"]: line for line in plain_metrics(widget)}
        for index, (expression, source) in enumerate(zip(exprs, sources)):
            top, bottom = f"s{index}_{numerator}", f"s{index}_{denominator}"
            assert expression["expression"] == f"FILL({top}, 0) / FILL({bottom}, 0)"
            for metric_id, metric_name in ((top, numerator), (bottom, denominator)):
                assert hidden[metric_id]["name"] == upper[metric_name]
                assert hidden[metric_id]["dimensions"]["EventAttributionSource"] == source.upper()
                assert hidden[metric_id]["options"]["visible"] is False


def test_derived_metrics_only_where_the_group_has_their_inputs(synthesized):
    dashboard = body(synthesized.template("multi", "dashboard"))
    video_titles = [w["properties"]["title"] for w in widgets_of_group(dashboard, next(g for g in config("multi").dataset_groups if g.name == "video"))]
    assert video_titles and not any("PerView" in t or "per view" in t for t in video_titles)


# --- the text widget ---------------------------------------------------------------------------


def test_text_names_sources_to_send_and_report_location(case):
    cfg, _, dashboard = case
    texts = text_widgets(dashboard)
    assert any(NAMESPACE in t and "15-minute" in t for t in texts)  # what the dashboard shows
    for group in charted(cfg):
        (text,) = [t for t in texts if t.startswith(f"## Dataset group `{group.name}`")]
        assert "eventAttributionSource" in text
        for source in group.all_sources():
            assert f"| `{source}` | `{source.upper()}` |" in text
        for metric in group.metric_attribution.metrics:
            assert f"`{metric.metric_name}` → `{metric.cloudwatch_name}`" in text
        location = f"s3://{cfg.name}-data-<AWS::AccountId>-<AWS::Region>/metric-reports/{group.name}/"
        if group.metric_attribution.s3_output:
            assert location in text
        else:
            assert "s3://" not in text and "s3Output: false" in text


# --- alarms and their topic --------------------------------------------------------------------


def test_default_config_has_no_alarms_or_topic(synthesized):
    template = synthesized.template("default", "dashboard")
    assert config("default").dashboard.alarms == []
    for resource_type in ("AWS::SNS::Topic", "AWS::CloudWatch::Alarm", "AWS::KMS::Key", "AWS::SNS::Subscription"):
        assert resources(template, resource_type) == []
    assert all(w["type"] != "alarm" for w in body(template)["widgets"])


def test_multi_alarm_on_a_silent_source(synthesized):
    cfg = config("multi")
    template = synthesized.template("multi", "dashboard")
    (declared,) = cfg.dashboard.alarms
    group = next(g for g in cfg.dataset_groups if g.name == declared.dataset_group)
    (alarm,) = resources(template, "AWS::CloudWatch::Alarm")
    properties = alarm["Properties"]
    (topic_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]

    assert properties["AlarmName"] == f"{cfg.name}-{declared.name}"
    assert properties["Threshold"] == declared.threshold == 0
    assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == declared.periods == 8
    assert properties["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert properties["TreatMissingData"] == "breaching"
    assert properties["AlarmActions"] == [{"Ref": topic_id}]
    assert properties["OKActions"] == [{"Ref": topic_id}]
    (query,) = properties["Metrics"]
    stat = query["MetricStat"]
    assert stat["Period"] == 900 and stat["Stat"] == "Sum"
    assert stat["Metric"]["Namespace"] == NAMESPACE
    assert stat["Metric"]["MetricName"] == declared.metric.upper()
    dimensions = {d["Name"]: render(d["Value"]) for d in stat["Metric"]["Dimensions"]}
    assert dimensions == {"DatasetGroupArn": group_arn(cfg, group), "EventAttributionSource": declared.source.upper()}

    (widget,) = [w for w in body(template)["widgets"] if w["type"] == "alarm"]
    (alarm_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert widget["properties"]["alarms"] == [f"<{alarm_id}.Arn>"]
    assert widget["properties"]["title"].startswith(f"{group.name}:")


def test_multi_topic_is_kms_encrypted_ssl_only_and_mails_the_team(synthesized):
    cfg = config("multi")
    template = synthesized.template("multi", "dashboard")
    (topic_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    (key_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    topic = template["Resources"][topic_id]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}

    key = template["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    (cloudwatch_grant,) = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch_grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}

    (policy,) = resources(template, "AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Principal"] == "*"
    (publish,) = [s for s in statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert render(publish["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(f":alarm:{cfg.name}-*")

    (subscription,) = resources(template, "AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == cfg.dashboard.alarm_email
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic_id}
