"""Per custom solution: the trained version's offline metrics next to its campaigns' online figures.

A team sees on one row what training promised (``GetSolutionMetrics``: precision, NDCG, mean
reciprocal rank at 5/10/25, coverage) and what the campaigns deliver (``GetRecommendations``
calls, outcomes per 1,000 calls).

The offline metrics exist only once the personalize stack has trained the version, so they are
read at deploy time from the SSM parameter that stack writes (``offline_metrics_parameter_name``).
Why a template parameter of type ``AWS::SSM::Parameter::Value<String>`` rather than a
``{{resolve:ssm:...}}`` dynamic reference inside the dashboard body:

* the value is compact JSON (``{"coverage":0.41,...}``), and CloudFormation puts a dynamic
  reference's value into the string as it is (intrinsic functions only see the ``{{resolve:...}}``
  text): its quotes would end the JSON string of the text widget and PutDashboard would reject
  the body. A parameter's value is what ``Ref`` returns, so ``Fn::Split``/``Fn::Join`` can strip
  the quotes and braces first;
* CloudFormation re-reads an SSM-typed parameter on every stack update (and the CDK CLI never
  skips deploying a stack that has one), while an unchanged dynamic reference is not re-read
  unless the resource changes: after a retraining the dashboard would keep the old figures.

Both fail the dashboard stack's deployment when the parameter does not exist. Hence the
dashboard stack depends on the personalize stack whenever the config has solutions (app_builder),
and the parameter exists whenever the solution does, whatever the campaign switches say
(training does not depend on them); see README, "Offline metrics on the dashboard".

A released (parameterized) template cannot read them: the parameter's name starts with the
``NamePrefix`` chosen at deploy time, and a template parameter's default cannot refer to another
parameter. Its text names the SSM parameter and the personalize stack's output instead.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Fn, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.personalize_resources.address_book import offline_metrics_parameter
from config import AppConfig, DatasetGroup, Solution
from stacks.constructs.dashboard import DASHBOARD_WIDTH, GRAPH_HEIGHT, HALF, text_height
from stacks.constructs.dashboard_metrics import PERIOD, GroupMetrics
from stacks.constructs.operator_widgets import EXPOSURE_SCALE, GET_RECOMMENDATIONS, ServingEndpoint, exposure_line

# Characters of the JSON value that would break the dashboard body or clutter the text, and what
# replaces them (in order): `{"a":0.1,"b":0.2}` -> `a = 0.1 · b = 0.2`.
SANITIZE = (("\\", ""), ('"', ""), ("{", ""), ("}", ""), (",", " · "), (":", " = "))


def offline_metrics_parameter_name(config: AppConfig, group: DatasetGroup, solution: Solution) -> str:
    """SSM parameter with the offline metrics of the solution's trained version, as the personalize stack writes it."""
    return offline_metrics_parameter(config.name, group.name, solution.name)


def unescape_split_delimiters(node: Any) -> Any:
    """The resolved dashboard body with each ``Fn::Split`` delimiter as CloudFormation must see it.

    CDK writes a body that embeds tokens as JSON-escaped string literals *inside* the intrinsics
    too (right for text that lands in the body, such as a Join's delimiter), so the splits of
    ``offline_metrics_text`` would split on ``\\"`` (backslash, quote) instead of ``"``. A split's
    delimiter never lands in the body: it is decoded back here.
    """
    if isinstance(node, list):
        return [unescape_split_delimiters(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::Split"}:
        delimiter, source = node["Fn::Split"]
        return {"Fn::Split": [json.loads(f'"{delimiter}"'), unescape_split_delimiters(source)]}
    return {key: unescape_split_delimiters(value) for key, value in node.items()}


def fix_dashboard_body(dashboard: cw.Dashboard) -> None:
    """Override the synthesized body with its split delimiters decoded (see above)."""
    cfn = dashboard.node.default_child
    assert isinstance(cfn, cw.CfnDashboard)
    body = Stack.of(dashboard).resolve(cfn.dashboard_body)
    fixed = unescape_split_delimiters(body)
    if fixed != body:
        cfn.add_property_override("DashboardBody", fixed)


def offline_metrics_text(scope: Construct, parameter_name: str) -> str:
    """The parameter's value at deploy time, as text that is safe inside a JSON string."""
    value = ssm.StringParameter.value_for_string_parameter(scope, parameter_name)
    for character, replacement in SANITIZE:
        value = Fn.join(replacement, Fn.split(character, value))
    return value


def solution_rows(
    scope: Construct,
    config: AppConfig,
    group: DatasetGroup,
    data: GroupMetrics | None,
    endpoints: list[ServingEndpoint],
    *,
    read_metrics: bool = True,
) -> list[list[cw.IWidget]]:
    """One row per solution: its offline metrics (text), its campaigns' online figures.
    ``read_metrics``: False in a released template (see above)."""
    rows: list[list[cw.IWidget]] = []
    for solution in group.solutions:
        campaigns = [e for e in endpoints if e.kind == "campaign" and e.solution == solution.name]
        text = solution_text(scope, config, group, solution, campaigns, read_metrics=read_metrics)
        if not campaigns:
            rows.append([cw.TextWidget(markdown=text.markdown, width=DASHBOARD_WIDTH, height=text.height)])
            continue
        rows.append([cw.TextWidget(markdown=text.markdown, width=HALF, height=max(text.height, GRAPH_HEIGHT)), online_figures(group, solution, data, campaigns)])
    return rows


class _Text:
    def __init__(self, lines: list[str]):
        self.markdown = "\n".join(lines)
        self.height = text_height(lines)


def solution_text(
    scope: Construct,
    config: AppConfig,
    group: DatasetGroup,
    solution: Solution,
    campaigns: list[ServingEndpoint],
    *,
    read_metrics: bool = True,
) -> _Text:
    parameter = offline_metrics_parameter_name(config, group, solution)
    training = f"training.version `{solution.training.version}`, mode {solution.training.mode}"
    threshold = f", events of type `{solution.event_type}`" if solution.event_type else ""
    if solution.event_value_threshold is not None:
        threshold += f" with a value of at least {solution.event_value_threshold:g}"
    header = f"### `{group.name}` · solution `{solution.name}` ({solution.recipe_arn.rsplit('/', 1)[-1]}{threshold})"
    if read_metrics:
        lines = [
            header,
            f"**Offline metrics** of the version the last deployment trained ({training}; `GetSolutionMetrics`, "
            f"from SSM `{parameter}` when the dashboard stack was deployed):",
            "",
            offline_metrics_text(scope, parameter),
            "",
        ]
    else:
        lines = [
            header,
            f"**Offline metrics** of the version the last deployment trained ({training}; `GetSolutionMetrics`): in SSM "
            f"`{parameter}` and the personalize stack's output `OfflineMetrics` (a released template cannot read them "
            "into this text: their name depends on the NamePrefix chosen at deployment).",
            "",
        ]
    if solution.auto_training.enabled:
        lines += ["Auto-training is on: Personalize trains newer versions on its own schedule; these figures are the deployed version's.", ""]
    if campaigns:
        lines.append(f"**Online**, right: {', '.join(f'campaign `{c.name}` (source `{c.source_name}`)' for c in campaigns)}.")
    else:
        lines.append("**Online**: no campaign serves this solution (none configured, or `enabled: false`), so there are no online figures.")
    return _Text(lines)


def online_figures(group: DatasetGroup, solution: Solution, data: GroupMetrics | None, campaigns: list[ServingEndpoint]) -> cw.SingleValueWidget:
    """GetRecommendations calls of each campaign, and each attribution metric per 1,000 calls, over the time range."""
    metrics: list[cw.IMetric] = [c.metric(GET_RECOMMENDATIONS, "Sum", PERIOD, label=f"campaign {c.name}: {GET_RECOMMENDATIONS} calls") for c in campaigns]
    if data is not None:
        for position, metric in enumerate(data.metrics):
            for index, campaign in enumerate(campaigns):
                # Ids unique across the widget: one block of campaigns per metric.
                line = exposure_line(data, metric, campaign, position * len(campaigns) + index)
                metrics.append(
                    cw.MathExpression(
                        expression=line.expression,
                        using_metrics=line.using_metrics,
                        label=f"campaign {campaign.name}: {metric.metric_name} per {EXPOSURE_SCALE:,} calls",
                        period=line.period,
                    )
                )
    return cw.SingleValueWidget(
        title=f"{group.name} · solution {solution.name}: its campaigns online, over the time range",
        metrics=metrics,
        set_period_to_time_range=True,
        full_precision=True,
        width=HALF,
        height=GRAPH_HEIGHT,
    )
