"""A dataset group's metric attribution (handler: metric_attribution)."""

from __future__ import annotations

from aws_cdk import CfnOutput, CustomResource
from constructs import Construct

from lambdas.personalize_resources import contracts

from stacks.constructs.group_names import GroupContext, role_policy


def add_metric_attribution(
    scope: Construct, context: GroupContext, *, service_token: str | None, report_location: str, after: list[Construct]
) -> CustomResource:
    """`Custom::PersonalizeMetricAttribution`, after the datasets, the imports in `after` and the role's policy."""
    group, resources = context.group, context.resources
    attribution = group.metric_attribution
    assert attribution is not None
    output_config: dict = {"roleArn": context.service_role.role_arn}
    if attribution.s3_output:
        output_config["s3DataDestination"] = {"path": f"{report_location}{group.name}/"}
    resource = CustomResource(
        scope,
        "MetricAttribution",
        service_token=service_token,
        resource_type=contracts.MetricAttribution.RESOURCE_TYPE,
        properties=contracts.MetricAttribution(
            name=context.names.metric_attribution,
            dataset_group_arn=resources.arn,
            metrics=[
                {"eventType": m.event_type, "metricName": m.metric_name, "expression": m.expression.replace(" ", "")}
                for m in attribution.metrics
            ],
            metrics_output_config=output_config,
        ).to_properties(),
    )
    for dependency in [*resources.datasets.values(), *after, role_policy(context.service_role)]:
        resource.node.add_dependency(dependency)
    CfnOutput(scope, "MetricAttributionArn", value=resource.get_att_string("MetricAttributionArn"))
    return resource
