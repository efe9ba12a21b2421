"""The CloudWatch dashboard stack, read from the session's synthesized templates.

Expectations are computed from the same config files the templates were built from, so the
tests follow config changes; the dashboard body is rendered from its Fn::Join with placeholders
(``<AWS::Region>``, ``<Logical.Attr>``) standing in for tokens, and with the value CloudFormation
would give an SSM-typed template parameter (the offline metrics) evaluated through the body's
Fn::Split/Fn::Join, as CloudFormation evaluates them at deployment.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lambdas.personalize_resources.solution_version import offline_metrics
from config import AppConfig, ConfigError, DatasetGroup, load_config
from tests.stacks.templates import resources as template_resources
from tests.stacks.templates import text
from harness.synthesis import SYNTH_CONFIGS

NAMESPACE = "AWS/Personalize"
DIMENSIONS = {"DatasetGroupArn", "EventAttributionSource"}
WITH_DASHBOARD = ("default", "multi", "custom")
# What the personalize stack writes to the offline-metrics parameter: the handler's own formatting.
METRICS = {"precision_at_5": 0.12344, "normalized_discounted_cumulative_gain_at_10": 0.31, "coverage": 0.4, "mean_reciprocal_rank_at_25": 0.2}
SSM_VALUE = offline_metrics(METRICS)


# --- helpers ---------------------------------------------------------------------------------


def render(node: Any, parameters: dict[str, str] | None = None) -> Any:
    """A CloudFormation string value as text, tokens replaced by placeholders; ``parameters``
    gives the deploy-time values of template parameters (Fn::Split yields a list)."""
    parameters = parameters or {}
    if isinstance(node, str):
        return node
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        items = render(items, parameters) if isinstance(items, dict) else [render(item, parameters) for item in items]
        return delimiter.join(items)
    if "Fn::Split" in node:
        delimiter, source = node["Fn::Split"]
        return render(source, parameters).split(delimiter)
    if "Ref" in node:
        return parameters.get(node["Ref"], f"<{node['Ref']}>")
    if "Fn::GetAtt" in node:
        return "<{}.{}>".format(*node["Fn::GetAtt"])
    raise AssertionError(f"unexpected intrinsic in the dashboard body: {node}")


def resources(template: dict, resource_type: str) -> list[dict]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


def ssm_parameters(template: dict) -> dict[str, str]:
    """Logical id -> SSM parameter name of each SSM-typed template parameter (CDK's own bootstrap check aside)."""
    return {
        key: p["Default"]
        for key, p in template.get("Parameters", {}).items()
        if p["Type"] == "AWS::SSM::Parameter::Value<String>" and key != "BootstrapVersion"
    }


def body(template: dict, value: str = SSM_VALUE) -> dict:
    """The body as CloudFormation would send it to PutDashboard, every SSM parameter holding ``value``."""
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard")
    return json.loads(render(dashboard["Properties"]["DashboardBody"], {key: value for key in ssm_parameters(template)}))


def config(key: str) -> AppConfig:
    return load_config(SYNTH_CONFIGS[key])


def charted(cfg: AppConfig) -> list[DatasetGroup]:
    return [g for g in cfg.dataset_groups if g.metric_attribution and g.metric_attribution.cloudwatch]


def group_arn(cfg: AppConfig, group: DatasetGroup) -> str:
    return f"arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:dataset-group/{cfg.physical_name(group.name)}"


def metric_widgets(dashboard: dict) -> list[dict]:
    return [w for w in dashboard["widgets"] if w["type"] == "metric"]


OPERATOR_TITLE = re.compile(r"^[a-z0-9-]+ · (event ingestion: |recommendation traffic: |\w+ per 1,000 GetRecommendations calls, |solution [a-z0-9-]+: )")


def attribution_widgets(dashboard: dict) -> list[dict]:
    """Widgets over attribution metrics alone (the operator segments are tested on their own)."""
    return [w for w in metric_widgets(dashboard) if not OPERATOR_TITLE.match(w["properties"]["title"])]


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


PERSONALIZE_ARN = "arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:"


def endpoints(cfg: AppConfig, group: DatasetGroup) -> list[tuple[str, str, str, str]]:
    """(kind, name, ARN, source) of each recommender, then each enabled campaign."""
    found = [("recommender", r.name, f"{PERSONALIZE_ARN}recommender/{cfg.recommender_name(group, r)}", r.source_name) for r in group.recommenders]
    found += [("campaign", c.name, f"{PERSONALIZE_ARN}campaign/{cfg.campaign_name(group, c)}", c.source_name) for _, c in group.campaigns(enabled_only=True)]
    return found


def source_lines(cfg: AppConfig, group: DatasetGroup) -> list[tuple[str, str]]:
    """(EventAttributionSource, label) of the configured-source lines: each source as sent
    (upper-cased by CloudWatch), then the ARN form of each recommender's and campaign's source."""
    sent = [(source.upper(), source) for source in group.all_sources()]
    return sent + [(arn, f"{source} (as {kind} ARN)") for kind, _, arn, source in endpoints(cfg, group)]


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
    lines = [line for widget in attribution_widgets(dashboard) for line in plain_metrics(widget)]
    assert lines
    for line in lines:
        assert line["namespace"] == NAMESPACE
        assert line["name"] in names and line["name"] == line["name"].upper()
        assert set(line["dimensions"]) == DIMENSIONS
        assert line["dimensions"]["DatasetGroupArn"] in arns
        source = line["dimensions"]["EventAttributionSource"]
        inferred = {arn for g in charted(cfg) for _, _, arn, _ in endpoints(cfg, g)}
        assert source == source.upper() or source in inferred  # sent (upper-cased) or the ARN form
        assert line["options"]["stat"] == "Sum"
        assert line["options"]["period"] >= 900


def test_every_graph_and_expression_uses_at_least_15_minutes(case):
    _, _, dashboard = case
    for widget in attribution_widgets(dashboard):
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
            assert [(line["dimensions"]["EventAttributionSource"], line["options"]["label"]) for line in lines] == source_lines(cfg, group)
            assert {line["name"] for line in lines} == {metric.cloudwatch_name}


def test_totals_per_source_over_the_time_range(case):
    cfg, _, dashboard = case
    for group in charted(cfg):
        for metric in group.metric_attribution.metrics:
            widget = by_title(dashboard, f"{metric_title(group, metric)}: total per source over the time range")
            assert widget["properties"]["view"] == "singleValue"
            assert widget["properties"]["setPeriodToTimeRange"] is True
            lines = plain_metrics(widget)
            assert [line["dimensions"]["EventAttributionSource"] for line in lines] == [value for value, _ in source_lines(cfg, group)]
            assert all(line["options"]["stat"] == "Sum" and line["name"] == metric.cloudwatch_name for line in lines)


def test_share_of_each_source_is_its_part_of_all_configured_sources(case):
    cfg, _, dashboard = case
    for group in charted(cfg):
        sources = group.all_sources()
        served = endpoints(cfg, group)
        sent_ids = [f"s{i}" for i in range(len(sources))]
        arn_ids = [f"i{j}" for j in range(len(served))]
        for metric in group.metric_attribution.metrics:
            widget = by_title(dashboard, f"{metric_title(group, metric)}: share of the configured sources' total (%)")
            assert widget["properties"]["setPeriodToTimeRange"] is True
            total = "SUM([" + ", ".join(f"FILL({i}, 0)" for i in sent_ids + arn_ids) + "])"
            expected = []
            for index, source in enumerate(sources):
                # A recommender's or campaign's source adds its ARN form.
                forms = [f"s{index}"] + [f"i{j}" for j, (_, _, _, owner) in enumerate(served) if owner.upper() == source.upper()]
                numerator = f"FILL({forms[0]}, 0)" if len(forms) == 1 else "(" + " + ".join(f"FILL({f}, 0)" for f in forms) + ")"
                expected.append(f"100 * {numerator} / {total}")
            assert [e["expression"] for e in expressions(widget)] == expected
            assert [e["label"] for e in expressions(widget)] == [f"{s} %" for s in sources]
            hidden = {line["options"]["id"]: line for line in plain_metrics(widget)}
            assert set(hidden) == set(sent_ids + arn_ids)
            for metric_id, (value, _) in zip(sent_ids + arn_ids, source_lines(cfg, group)):
                assert hidden[metric_id]["options"]["visible"] is False
                assert hidden[metric_id]["dimensions"]["EventAttributionSource"] == value
                assert hidden[metric_id]["name"] == metric.cloudwatch_name


# --- derived metrics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "group_name", "name", "numerator", "denominator"),
    [
        ("default", "retail", "Margin per view", "sumMargin", "countViews"),
        ("multi", "shop", "Margin per view", "sumMargin", "countViews"),
        ("multi", "shop", "revenuePerView", "revenue", "countViews"),
        ("custom", "ratings", "Margin per view", "sumMargin", "countViews"),
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
        arns = {source.upper(): (j, arn) for j, (_, _, arn, source) in enumerate(endpoints(cfg, group))}
        for index, (expression, source) in enumerate(zip(exprs, sources)):
            top, bottom = f"s{index}_{numerator}", f"s{index}_{denominator}"
            if source.upper() not in arns:  # another source: sent form only
                assert expression["expression"] == f"FILL({top}, 0) / FILL({bottom}, 0)"
            else:  # a recommender's or campaign's source: sent form plus ARN form
                j, arn = arns[source.upper()]
                arn_top, arn_bottom = f"i{j}_{numerator}", f"i{j}_{denominator}"
                assert expression["expression"] == f"(FILL({top}, 0) + FILL({arn_top}, 0)) / (FILL({bottom}, 0) + FILL({arn_bottom}, 0))"
                for metric_id, metric_name in ((arn_top, numerator), (arn_bottom, denominator)):
                    assert hidden[metric_id]["name"] == upper[metric_name]
                    assert hidden[metric_id]["dimensions"]["EventAttributionSource"] == arn
            for metric_id, metric_name in ((top, numerator), (bottom, denominator)):
                assert hidden[metric_id]["name"] == upper[metric_name]
                assert hidden[metric_id]["dimensions"]["EventAttributionSource"] == source.upper()
                assert hidden[metric_id]["options"]["visible"] is False


def test_derived_metrics_only_where_the_group_has_their_inputs(synthesized):
    dashboard = body(synthesized.template("multi", "dashboard"))
    video_titles = [w["properties"]["title"] for w in widgets_of_group(dashboard, next(g for g in config("multi").dataset_groups if g.name == "video"))]
    assert video_titles and not any("PerView" in t or "per view" in t for t in video_titles)


# --- the text widget ---------------------------------------------------------------------------


def test_cost_widget_shows_the_estimate_of_the_config(case):
    """The bill estimated at synth (stacks/cost.py), second on the dashboard, under the intro."""
    from stacks.cost import estimate, markdown, usd

    cfg, _, dashboard = case
    texts = text_widgets(dashboard)
    expected = estimate(cfg)
    assert texts[1] == "\n".join(markdown(expected))
    assert f"**While deployed:** {usd(expected.hourly)}/hour" in texts[1]
    for switch, saved in expected.savings_per_hour().items():
        assert f"`{switch}=false`, this saves {usd(saved)}/hour" in texts[1]



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
            assert f"On Athena: `{cfg.name.replace('-', '_')}_reports.metric_reports` `WHERE dataset_group = '{group.name}'`" in text
        else:
            assert "s3://" not in text and "s3Output: false" in text
        # Each recommender's and campaign's source in its ARN form, and what it is counted with.
        for _kind, _name, arn, source in endpoints(cfg, group):
            assert f"| `{arn}` | `{source}` |" in text
        for solution, campaign in group.campaigns():
            assert f"| `{campaign.source_name}` | `{campaign.source_name.upper()}` | campaign `{campaign.name}` of solution `{solution.name}`" in text


# --- custom solutions: offline metrics next to their campaigns' online figures ------------------


def solution_widgets(dashboard: dict, group: DatasetGroup, solution) -> tuple[str, dict]:
    (text,) = [t for t in text_widgets(dashboard) if t.startswith(f"### `{group.name}` · solution `{solution.name}`")]
    return text, by_title(dashboard, f"{group.name} · solution {solution.name}: its campaigns online, over the time range")


def test_offline_metrics_come_from_the_parameter_the_personalize_stack_writes(synthesized):
    cfg = config("custom")
    template = synthesized.template("custom", "dashboard")
    written = {text(p["Properties"]["Name"]) for p in template_resources(synthesized.template("custom", "personalize"), "AWS::SSM::Parameter").values()}
    (group,) = cfg.dataset_groups
    read = ssm_parameters(template)
    # One SSM-typed template parameter per solution, naming a parameter the personalize stack writes:
    # CloudFormation resolves it before intrinsics and re-reads it on every update.
    assert sorted(read.values()) == sorted(f"/{cfg.name}/{group.name}/solutions/{s.name}/offline-metrics" for s in group.solutions)
    assert set(read.values()) <= written
    dashboard = body(template)
    for solution in group.solutions:
        markdown, _ = solution_widgets(dashboard, group, solution)
        assert f"SSM `/{cfg.name}/{group.name}/solutions/{solution.name}/offline-metrics`" in markdown
        assert f"training.version `{solution.training.version}`, mode {solution.training.mode}" in markdown
        # The handler's JSON, without the quotes and braces that would break the body.
        assert "coverage = 0.4 · " in markdown and "precision_at_5 = 0.1234\n" in markdown  # keys sorted by the handler
        assert '"' not in markdown.split("):", 1)[1]


@pytest.mark.parametrize("value", ['{"a":"x\\"}', '\\"}{,:', "plain text, no JSON"])
def test_any_parameter_value_leaves_the_dashboard_body_valid_json(synthesized, value):
    """CloudFormation pastes the resolved value into the body: quotes and backslashes are removed
    before (Fn::Split/Fn::Join); CDK's own JSON escaping of those delimiters is undone."""
    dashboard = body(synthesized.template("custom", "dashboard"), value)  # json.loads inside
    assert any("solution `top-picks`" in t for t in text_widgets(dashboard))


def test_each_solution_shows_its_campaigns_online_figures_beside_its_offline_metrics(synthesized):
    cfg = config("custom")
    dashboard = body(synthesized.template("custom", "dashboard"))
    (group,) = cfg.dataset_groups
    arns = {name: arn for kind, name, arn, _ in endpoints(cfg, group) if kind == "campaign"}
    for solution in group.solutions:
        markdown, online = solution_widgets(dashboard, group, solution)
        (text_widget,) = [w for w in dashboard["widgets"] if w["type"] == "text" and w["properties"]["markdown"] == markdown]
        assert text_widget["y"] == online["y"] and text_widget["x"] + text_widget["width"] == online["x"]  # side by side
        assert online["properties"]["setPeriodToTimeRange"] is True
        campaigns = [c for c in solution.campaigns if c.enabled]
        lines = plain_metrics(online)
        calls = [line for line in lines if line["name"] == "GetRecommendations" and line["options"].get("visible", True)]
        assert [line["dimensions"] for line in calls] == [{"CampaignArn": arns[c.name]} for c in campaigns]
        labels = [e["label"] for e in expressions(online)]
        assert labels == [f"campaign {c.name}: {m.metric_name} per 1,000 calls" for m in group.metric_attribution.metrics for c in campaigns]
        assert all(re.fullmatch(r"1000 \* \(FILL\(o\d+, 0\) \+ FILL\(i\d+, 0\)\) / r\d+", e["expression"]) for e in expressions(online))
        for campaign in campaigns:
            assert f"campaign `{campaign.name}` (source `{campaign.source_name}`)" in markdown


def test_dashboard_stack_is_deployed_after_the_personalize_stack_only_with_solutions(synthesized):
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    for key in WITH_DASHBOARD:
        stacks = synthesized.stacks[key]
        dependencies = manifest["artifacts"][stacks["dashboard"]].get("dependencies", [])
        reads = any(g.solutions for g in config(key).dataset_groups)
        assert (stacks["personalize"] in dependencies) == reads, key
        assert bool(ssm_parameters(synthesized.template(key, "dashboard"))) == reads, key


def test_released_dashboard_names_the_offline_metrics_instead_of_reading_them(releases):
    """A release's NamePrefix is chosen at deployment; an SSM-typed parameter's default cannot follow it."""
    (path,) = (releases["custom"] / "templates").glob("*-dashboard.template.json")
    template = json.loads(path.read_text())
    assert ssm_parameters(template) == {}
    texts = text_widgets(body(template))
    assert any("personalize stack's output `OfflineMetrics`" in t and "solution `top-picks`" in t for t in texts)


# --- alarms and their topic --------------------------------------------------------------------


def test_default_config_has_no_alarms_or_topic(synthesized):
    template = synthesized.template("default", "dashboard")
    assert config("default").dashboard.alarms == [] and config("default").dashboard.ingestion_alarms.enabled is False
    for resource_type in ("AWS::SNS::Topic", "AWS::CloudWatch::Alarm", "AWS::KMS::Key", "AWS::SNS::Subscription"):
        assert resources(template, resource_type) == []
    assert all(w["type"] != "alarm" for w in body(template)["widgets"])


def test_multi_alarm_on_a_silent_source(synthesized):
    cfg = config("multi")
    template = synthesized.template("multi", "dashboard")
    (declared,) = cfg.dashboard.alarms
    group = next(g for g in cfg.dataset_groups if g.name == declared.dataset_group)
    (alarm_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["AlarmName"] == f"{cfg.name}-{declared.name}"]
    properties = template["Resources"][alarm_id]["Properties"]
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

    (widget,) = [w for w in body(template)["widgets"] if w["type"] == "alarm" and w["properties"]["title"].startswith(f"{group.name}:")]
    assert f"<{alarm_id}.Arn>" in widget["properties"]["alarms"]


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


# --- operator segments: event ingestion, recommendation traffic, outcomes per exposure ----------

SEARCH = re.compile(r"SEARCH\('Namespace=\"AWS/Personalize\" MetricName=\"(\w+)\" (\w+)=\"([^\"]+)\"', '(\w+)', (\d+)\)")


def searches(widget: dict) -> list[tuple[str, str, str, str, int]]:
    """(metric, dimension, value, statistic, period) of each SEARCH line; every line must be one."""
    found = []
    for expression in expressions(widget):
        match = SEARCH.fullmatch(expression["expression"])
        assert match, expression["expression"]
        metric, dimension, value, statistic, period = match.groups()
        found.append((metric, dimension, value, statistic, int(period)))
    assert not plain_metrics(widget), "ingestion metrics have unconfirmed dimensions: SEARCH only"
    return found


def test_ingestion_health_searches_by_dataset_group_and_by_event_tracker(case):
    cfg, _, dashboard = case
    tracked = [g for g in cfg.dataset_groups if g.event_tracker]
    assert tracked
    for group in tracked:
        keys = {
            ("DatasetGroupArn", f"{PERSONALIZE_ARN}dataset-group/{cfg.physical_name(group.name)}"),
            ("EventTrackerArn", f"{PERSONALIZE_ARN}event-tracker/{cfg.physical_name(group.name, 'tracker')}"),
        }
        title = f"{group.name} · event ingestion: "
        expected = {
            "PutEventsRequests (sum per 5 minutes)": {("PutEventsRequests", "Sum")},
            "PutEvents4xxErrors and PutEvents5xxErrors (sum per 5 minutes)": {("PutEvents4xxErrors", "Sum"), ("PutEvents5xxErrors", "Sum")},
            "PutEventLatency (ms, average)": {("PutEventLatency", "Average")},
        }
        for suffix, metrics in expected.items():
            widget = by_title(dashboard, title + suffix)
            found = searches(widget)
            assert {(m, d, v, stat) for m, d, v, stat, _ in found} == {(m, d, v, stat) for m, stat in metrics for d, v in keys}
            assert {period for *_, period in found} == {300} and widget["properties"]["period"] == 300
            assert len({e["label"] for e in expressions(widget)}) == len(found)  # each line tells which guess it is
        (operations,) = [t for t in text_widgets(dashboard) if t.startswith(f"### `{group.name}`: operations")]
        assert "by dataset group ARN *and* by event tracker ARN" in operations  # the reader learns why a line may be empty


def test_recommendation_traffic_and_latency_per_recommender_and_campaign(case):
    cfg, _, dashboard = case
    for group in cfg.dataset_groups:
        served = endpoints(cfg, group)
        if not served:
            continue
        title = f"{group.name} · recommendation traffic: "
        for suffix, metric, statistic in (
            ("GetRecommendations calls (sum per 5 minutes)", "GetRecommendations", "Sum"),
            ("GetRecommendationsLatency (ms, average)", "GetRecommendationsLatency", "Average"),
        ):
            widget = by_title(dashboard, title + suffix)
            lines = plain_metrics(widget)
            dimension = {"recommender": "RecommenderArn", "campaign": "CampaignArn"}
            assert [line["dimensions"] for line in lines] == [{dimension[kind]: arn} for kind, _, arn, _ in served]
            assert {(line["namespace"], line["name"]) for line in lines} == {(NAMESPACE, metric)}
            assert all(line["options"].get("stat", "Average") == statistic for line in lines)
            assert [line["options"]["label"] for line in lines] == [f"{kind} {name}" for kind, name, _, _ in served]
            assert widget["properties"]["period"] == 300


def test_outcomes_per_1000_calls_divide_each_recommender_and_campaign_source_by_its_calls(case):
    cfg, _, dashboard = case
    checked = 0
    dimension = {"recommender": "RecommenderArn", "campaign": "CampaignArn"}
    for group in charted(cfg):
        served = endpoints(cfg, group)
        for metric in group.metric_attribution.metrics:
            for suffix in ("per 15 minutes", "over the time range"):
                widget = by_title(dashboard, f"{group.name} · {metric.metric_name} per 1,000 GetRecommendations calls, {suffix}")
                exprs = expressions(widget)
                # Outcomes in both forms (sent source, ARN recorded for a bare recommendationId) over the calls.
                assert [e["expression"] for e in exprs] == [f"1000 * (FILL(o{i}, 0) + FILL(i{i}, 0)) / r{i}" for i in range(len(served))]
                assert [e["label"] for e in exprs] == [f"{source} per 1,000 calls" for *_, source in served]
                hidden = {line["options"]["id"]: line for line in plain_metrics(widget)}
                for index, (kind, _, arn, source) in enumerate(served):
                    outcome, inferred, calls = hidden[f"o{index}"], hidden[f"i{index}"], hidden[f"r{index}"]
                    assert outcome["name"] == inferred["name"] == metric.cloudwatch_name
                    assert outcome["dimensions"] == {"DatasetGroupArn": group_arn(cfg, group), "EventAttributionSource": source.upper()}
                    assert inferred["dimensions"] == {"DatasetGroupArn": group_arn(cfg, group), "EventAttributionSource": arn}
                    assert calls["name"] == "GetRecommendations" and calls["dimensions"] == {dimension[kind]: arn}
                    # All over the same 15-minute buckets, all summed.
                    for line in (outcome, inferred, calls):
                        assert line["options"]["stat"] == "Sum" and line["options"]["period"] == 900 and line["options"]["visible"] is False
                    checked += 1
                if suffix == "over the time range":
                    assert widget["properties"]["setPeriodToTimeRange"] is True
    assert checked


def test_other_sources_get_no_exposure_line(synthesized):
    """A source without a recommender (a vendor widget) has no call count to divide by."""
    cfg = config("multi")
    dashboard = body(synthesized.template("multi", "dashboard"))
    shop = next(g for g in cfg.dataset_groups if g.name == "shop")
    widget = by_title(dashboard, "shop · countViews per 1,000 GetRecommendations calls, per 15 minutes")
    sources = {line["dimensions"]["EventAttributionSource"] for line in plain_metrics(widget) if "EventAttributionSource" in line["dimensions"]}
    assert sources == {r.source_name.upper() for r in shop.recommenders} | {arn for *_, arn, _ in endpoints(cfg, shop)}
    assert "VENDOR_WIDGET" not in sources


# --- ingestion alarms ------------------------------------------------------------------------


def test_multi_alarms_on_putevents_errors_per_tracked_group(synthesized):
    cfg = config("multi")
    settings = cfg.dashboard.ingestion_alarms
    assert settings.enabled
    template = synthesized.template("multi", "dashboard")
    (topic_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    alarms = {r["Properties"]["AlarmName"]: (k, r["Properties"]) for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    widgets = {w["properties"]["title"].split(":")[0]: w for w in body(template)["widgets"] if w["type"] == "alarm"}
    tracked = [g for g in cfg.dataset_groups if g.event_tracker]
    assert len(tracked) == 2
    for group in tracked:
        for kind in ("4xx", "5xx"):
            alarm_id, properties = alarms.pop(f"{cfg.name}-{group.name}-putevents-{kind}")
            (query,) = properties["Metrics"]
            assert render(query["Expression"]) == (
                f"SELECT SUM(PutEvents{kind}Errors) FROM \"AWS/Personalize\" WHERE DatasetGroupArn = '{group_arn(cfg, group)}'"
            )
            assert query["Period"] == 300 and query["ReturnData"] is True
            assert properties["Threshold"] == settings.threshold
            assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == settings.periods
            assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert properties["TreatMissingData"] == "notBreaching"  # no events, no errors
            assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": topic_id}]
            assert f"<{alarm_id}.Arn>" in widgets[group.name]["properties"]["alarms"]
    assert set(alarms) == {f"{cfg.name}-{a.name}" for a in cfg.dashboard.alarms}  # nothing else


def dashboard_config(tmp_path, dashboard: str, *, event_tracker: bool = True) -> str:
    text = f"""
name: t
datasetGroups:
  - name: g
    eventTracker: {str(event_tracker).lower()}
    datasets:
      interactions:
        schema:
          fields:
            - {{name: USER_ID, type: string}}
            - {{name: ITEM_ID, type: string}}
            - {{name: TIMESTAMP, type: long}}
            - {{name: EVENT_TYPE, type: string}}
dashboard: {dashboard}
"""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("dashboard", "event_tracker", "path", "hint"),
    [
        ("{enabled: false, ingestionAlarms: {enabled: true}}", True, "dashboard.ingestionAlarms.enabled", "enable the dashboard"),
        ("{ingestionAlarms: {enabled: true}}", False, "dashboard.ingestionAlarms.enabled", "eventTracker: true"),
        ("{ingestionAlarms: {enabled: true, threshold: 0}}", True, "dashboard.ingestionAlarms.threshold", "greater than or equal to 1"),
        ("{ingestionAlarms: {periods: 500}}", True, "dashboard.ingestionAlarms.periods", "less than or equal to 288"),
        ("{reportQueries: maybe}", True, "dashboard.reportQueries", "bool"),
    ],
)
def test_ingestion_alarm_and_report_query_settings_are_checked(tmp_path, dashboard, event_tracker, path, hint):
    with pytest.raises(ConfigError) as error:
        load_config(dashboard_config(tmp_path, dashboard, event_tracker=event_tracker))
    message = str(error.value)
    assert path in message and hint in message, message


def test_ingestion_alarms_default_off_and_report_queries_default_on(tmp_path):
    cfg = load_config(dashboard_config(tmp_path, "{}"))
    assert cfg.dashboard.ingestion_alarms.enabled is False and cfg.dashboard.report_queries is True
    assert cfg.dashboard.any_alarms() is False


def test_alarm_topic_key_lets_only_this_environments_alarms_use_it(synthesized):
    """Issue 12: the key policy statement for CloudWatch carries the source conditions."""
    template = synthesized.template("multi", "dashboard")
    [key] = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    [statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchAlarmsPublishToEncryptedTopic"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(statement["Condition"]) == {"StringEqualsIfExists", "ArnLikeIfExists"}
    assert statement["Condition"]["StringEqualsIfExists"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":alarm:pimpact-multi-*" in json.dumps(statement["Condition"]["ArnLikeIfExists"])
