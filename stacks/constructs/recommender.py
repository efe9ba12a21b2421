"""A recommender and the WaitCondition that holds the deploy until it is ready (handler: recommender)."""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnWaitConditionHandle, CustomResource
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.personalize_resources import contracts
from lambdas.personalize_resources.address_book import resource_parameter_prefix, whole_seconds
from config import AppConfig, DatasetGroup, Recommender
from stacks.constructs.group_names import short_hash
from stacks.constructs.handler_functions import awaited, request_tags, signal_handle


class RecommenderResource(Construct):
    """A recommender, and a WaitCondition that holds the deploy until it is ready (or failed).

    The handle's logical ID carries a hash of what the recommender should be, so each change
    brings a fresh handle URL for the poller to signal.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        group: DatasetGroup,
        recommender: Recommender,
        name: str,
        dataset_group_arn: str,
        service_token: str | None,
        after: list[Construct],
        min_tps: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        recommender_config = recommender.recommender_config or None
        if min_tps is not None:
            # A release's per-account TPS floor (a stack parameter) overrides the config's.
            recommender_config = {**recommender.recommender_config, "minRecommendationRequestsPerSecond": min_tps}
        timeout = str(whole_seconds(config.long_wait_timeout_hours))
        # Everything an update may change goes into the hash, so that each change brings a fresh
        # handle (a satisfied WaitCondition never waits again) and the update is awaited. A
        # deploy-time TPS parameter (release templates) cannot be hashed at synth: such a change
        # is applied by the poller but not awaited.
        digest = short_hash(group.name, recommender.model_dump(mode="json", by_alias=True), config.tags, timeout)
        handle = CfnWaitConditionHandle(self, f"ReadyHandle{digest}")
        self.resource = CustomResource(
            self,
            "Recommender",
            service_token=service_token,
            resource_type=contracts.Recommender.RESOURCE_TYPE,
            properties=contracts.Recommender(
                name=name,
                dataset_group_arn=dataset_group_arn,
                recipe_arn=recommender.recipe_arn,
                recommender_config=recommender_config,
                tags=request_tags(config.tags) if config.tags else None,
                desired_state=recommender.state,
                signal_handle=signal_handle(handle),
            ).to_properties(),
        )
        for dependency in after:
            self.resource.node.add_dependency(dependency)
        awaited(self, self.resource, handle, f"Ready{digest}", timeout)
        self.arn = self.resource.get_att_string("RecommenderArn")

        self._publish(config, group, recommender)

    def _publish(self, config: AppConfig, group: DatasetGroup, recommender: Recommender) -> None:
        """The ARN and the attribution source, as SSM parameters and stack outputs."""
        prefix = resource_parameter_prefix(config.name, group.name, "recommenders", recommender.name)
        ssm.StringParameter(self, "ArnParameter", parameter_name=f"{prefix}/arn", simple_name=False, string_value=self.arn, description=f"ARN of the {recommender.name} recommender")
        ssm.StringParameter(
            self,
            "SourceParameter",
            parameter_name=f"{prefix}/attribution-source",
            simple_name=False,
            string_value=recommender.source_name,
            description=f"Send this as metricAttribution.eventAttributionSource for events on {recommender.name} results",
        )
        CfnOutput(self, "Arn", value=self.arn, description=f"{group.name}/{recommender.name}: recommender ARN")
        CfnOutput(
            self,
            "AttributionSource",
            value=recommender.source_name,
            description=f"{group.name}/{recommender.name}: eventAttributionSource for events on its recommendations",
        )
