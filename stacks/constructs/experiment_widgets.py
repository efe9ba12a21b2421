"""Dashboard rows of a group's experiments: traffic per arm against the weights with the sample
ratio check, and the arms side by side on the primary metric.

Traffic per arm is what CloudWatch can count per arm: GetRecommendations calls when every arm is a
recommender or campaign (exposures), otherwise the events of the group's first SAMPLECOUNT
metric attributed to each arm (events per arm also move with a real effect, so there the SRM
figure is a warning light; `report --experiment` checks units, the exact test).
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from config import AppConfig, DatasetGroup, Metric
from stacks.constructs.dashboard import DASHBOARD_WIDTH, HALF, NUMBER_HEIGHT, text_height, zero_based_graph
from stacks.constructs.dashboard_metrics import PERIOD, GroupMetrics
from stacks.constructs.operator_widgets import GET_RECOMMENDATIONS, serving_endpoints
from config.experiments import (
    ENVIRONMENT_NAME,
    SRM_P_THRESHOLD,
    Experiment,
    application_name,
    profile_name,
    srm_critical_value,
)


def experiment_rows(scope: Construct, config: AppConfig, group: DatasetGroup, data: GroupMetrics | None) -> list[list[cw.IWidget]]:
    if data is None or not group.experiments:
        return []
    endpoints = {e.source_name: e for e in serving_endpoints(scope, config, group)}
    counted = next((m for m in data.metrics if m.expression.replace(" ", "").upper() == "SAMPLECOUNT()"), None)
    rows: list[list[cw.IWidget]] = []
    for experiment in group.experiments:
        sources = list(experiment.weights)
        traffic: dict[str, cw.IMetric] = {}
        unit = "none counted (no recommender calls or SAMPLECOUNT metric for every arm)"
        if all(s in endpoints for s in sources):
            traffic = {f"t{i}": endpoints[s].metric(GET_RECOMMENDATIONS, "Sum", PERIOD, label=s) for i, s in enumerate(sources)}
            unit = f"{GET_RECOMMENDATIONS} calls"
        elif counted is not None:
            traffic = {f"t{i}": data.metric(counted, s) for i, s in enumerate(sources)}
            unit = f"{counted.metric_name} events"
        primary = next(m for m in data.metrics if m.metric_name == experiment.primary_metric)
        rows.append([_text(config, group, experiment, unit)])
        if traffic:
            rows.append(_traffic_row(experiment, traffic, unit))
        rows.append([_primary_widget(experiment, data, primary)])
    return rows


def _text(config: AppConfig, group: DatasetGroup, experiment: Experiment, unit: str) -> cw.TextWidget:
    arms = ", ".join(f"`{a.source}` {a.weight} %" for a in experiment.arms)
    status = f"ended {experiment.end}: everyone gets `{experiment.winner}`" if experiment.winner else f"running since {experiment.start}"
    lines = [
        f"### `{group.name}` · experiment `{experiment.name}` ({status})",
        (f"Arms: {arms}; control `{experiment.control.source}`. Flag: AppConfig `{application_name(config)}` / `{ENVIRONMENT_NAME}` / "
        f"`{profile_name(group)}`, flag `{experiment.name}`. Traffic per arm: {unit}. **SRM** is Pearson's chi-square of the traffic "
        f"per arm against the weights over the time range: above {srm_critical_value(len(experiment.arms)):.2f} (p < {SRM_P_THRESHOLD}) "
        "the split is broken and no lift can be trusted. Intervals and the verdict: `report --experiment`."),
    ]
    return cw.TextWidget(markdown="\n\n".join(lines), width=DASHBOARD_WIDTH, height=text_height(lines))


def _traffic_row(experiment: Experiment, traffic: dict[str, cw.IMetric], unit: str) -> list[cw.IWidget]:
    total = " + ".join(f"FILL({i}, 0)" for i in traffic)
    shares = [
        cw.MathExpression(expression=f"100 * FILL({i}, 0) / ({total})", using_metrics=traffic, label=f"{arm.source} (weight {arm.weight} %)", period=PERIOD)
        for i, arm in zip(traffic, experiment.arms, strict=True)
    ]
    share_graph = zero_based_graph(f"{experiment.name}: share of {unit} per arm (%), per 15 minutes", shares, period=PERIOD, width=HALF)
    expected = {i: arm.weight / 100 for i, arm in zip(traffic, experiment.arms, strict=True)}
    chi_square = " + ".join(f"(FILL({i}, 0) - ({total}) * {w:g}) ^ 2 / (({total}) * {w:g})" for i, w in expected.items())
    critical = srm_critical_value(len(experiment.arms))
    statistic = cw.MathExpression(expression=chi_square, using_metrics=traffic, label=f"chi-square (mismatch above {critical:.2f})", period=PERIOD)
    flag = cw.MathExpression(expression=f"IF(({chi_square}) > {critical:.4f}, 1, 0)", using_metrics=traffic, label="SRM (1 = mismatch: split broken)", period=PERIOD)
    check = cw.SingleValueWidget(
        title=f"{experiment.name}: sample ratio over the time range", metrics=[*traffic.values(), statistic, flag],
        set_period_to_time_range=True, full_precision=False, width=HALF, height=NUMBER_HEIGHT,
    )
    return [share_graph, check]


def _primary_widget(experiment: Experiment, data: GroupMetrics, primary: Metric) -> cw.IWidget:
    """Arms side by side over the time range: each arm's primary metric divided by its weight (as
    if it had served all users). Users are split by the weights, so under no effect the bars are
    equal, whatever the traffic."""
    bars = [
        cw.MathExpression(expression=f"FILL(p{index}, 0) / {arm.weight / 100:g}", using_metrics={f"p{index}": data.metric(primary, arm.source)},
                          label=f"{arm.source} (÷ {arm.weight} %)", period=PERIOD)
        for index, arm in enumerate(experiment.arms)
    ]
    return cw.GraphWidget(
        title=f"{experiment.name}: {primary.metric_name} per arm, scaled to all users (total ÷ weight), over the time range",
        left=bars, view=cw.GraphWidgetView.BAR, set_period_to_time_range=True, width=DASHBOARD_WIDTH, height=NUMBER_HEIGHT + 2,
    )
