"""Custom solutions of one dataset group: solutions, trained versions, campaigns and filters.

- Solution: `Custom::PersonalizeSolution` (auto-training and events config change in place;
  every other setting makes a new solution under a new name, see lambdas/.../solution.py).
- Training: `Custom::PersonalizeSolutionVersion` + a WaitCondition the shared poller signals
  (training outlasts the custom-resource hour); its handle's logical ID carries a digest of what
  is trained, so each retraining is awaited by a fresh handle. The WaitCondition's Data holds the
  version's offline metrics (GetSolutionMetrics), exported as a stack output and an SSM parameter.
- Campaign: native `AWS::Personalize::Campaign` (SolutionVersionArn, MinProvisionedTPS and
  CampaignConfig update in place); `enabled: false` leaves it out, the `CampaignsEnabled`
  parameter of a release skips them all (no campaign, no hourly cost).
- Filter: native `AWS::Personalize::Filter`, its name carrying a hash of the expression.

Dependencies make CloudFormation delete campaigns → solution versions (stopping a training) →
solutions → filters → the rest (imports, attribution, datasets), and create in the reverse order.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, CfnWaitConditionHandle, CustomResource, Validations
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.personalize_resources import contracts
from lambdas.personalize_resources.address_book import offline_metrics_parameter, resource_parameter_prefix, whole_seconds
from config import AppConfig, Campaign, DatasetGroup, Solution
from stacks.constructs.group_names import short_hash
from stacks.constructs.handler_functions import awaited, request_tags, signal_handle
from stacks.deployment import CampaignSwitch


class GroupSolutions(Construct):
    """Every solution, training, campaign and filter of one dataset group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        group: DatasetGroup,
        dataset_group_arn: str,
        solution_token: str,
        solution_version_token: str,
        after: list[Construct],
        switch: CampaignSwitch | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.filters: list[personalize.CfnFilter] = []
        for filter_ in group.filters:
            resource = personalize.CfnFilter(
                self, f"Filter-{filter_.name}", name=config.filter_name(group, filter_), dataset_group_arn=dataset_group_arn,
                filter_expression=filter_.expression,
            )
            for dependency in after:
                resource.node.add_dependency(dependency)
            self.filters.append(resource)
            prefix = resource_parameter_prefix(config.name, group.name, "filters", filter_.name)
            ssm.StringParameter(self, f"FilterArn-{filter_.name}", parameter_name=f"{prefix}/arn", simple_name=False,
                                string_value=resource.attr_filter_arn, description=f"ARN of the {filter_.name} filter (pass as filterArn)")
            CfnOutput(self, f"FilterArnOutput-{filter_.name}", value=resource.attr_filter_arn, description=f"{group.name}/{filter_.name}: filter ARN")
        self.solutions = [
            SolutionResources(
                self, f"Solution-{solution.name}", config=config, group=group, solution=solution, dataset_group_arn=dataset_group_arn,
                solution_token=solution_token, solution_version_token=solution_version_token, after=[*after, *self.filters],
                switch=switch,
            )
            for solution in group.solutions
        ]


class SolutionResources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        group: DatasetGroup,
        solution: Solution,
        dataset_group_arn: str,
        solution_token: str,
        solution_version_token: str,
        after: list[Construct],
        switch: CampaignSwitch | None,
    ) -> None:
        super().__init__(scope, construct_id)
        request = solution.create_request(config.solution_base_name(group, solution), dataset_group_arn)
        tags = request_tags(config.tags) if config.tags else None
        self.solution = CustomResource(
            self, "Solution", service_token=solution_token, resource_type=contracts.Solution.RESOURCE_TYPE,
            properties=contracts.Solution.from_request(request, tags=tags).to_properties(),
        )
        for dependency in after:
            self.solution.node.add_dependency(dependency)
        solution_arn = self.solution.get_att_string("SolutionArn")

        timeout = str(whole_seconds(config.long_wait_timeout_hours))
        # Everything that makes a new version goes into the digest: each retraining brings a fresh
        # handle (a satisfied WaitCondition never waits again).
        settings = solution.model_dump(mode="json", by_alias=True, exclude={"campaigns"})
        digest = short_hash(group.name, settings, timeout)
        handle = CfnWaitConditionHandle(self, f"TrainedHandle{digest}")
        self.version = CustomResource(
            self,
            "Version",
            service_token=solution_version_token,
            resource_type=contracts.SolutionVersion.RESOURCE_TYPE,
            properties=contracts.SolutionVersion(
                solution_arn=solution_arn,
                name=config.solution_version_name(group, solution),
                training_mode=solution.training.mode,
                version=solution.training.version,
                signal_handle=signal_handle(handle),
            ).to_properties(),
        )
        self.trained = awaited(self, self.version, handle, f"Trained{digest}", timeout)
        version_arn = self.version.get_att_string("SolutionVersionArn")

        self._publish_offline_metrics(config, group, solution, solution_version_token, version_arn)

        self.campaigns = [
            CampaignResource(self, f"Campaign-{campaign.name}", config=config, group=group, solution=solution, campaign=campaign,
                             solution_arn=solution_arn, version_arn=version_arn, after=[self.trained], switch=switch)
            for campaign in solution.campaigns
            if campaign.enabled
        ]


    def _publish_offline_metrics(self, config: AppConfig, group: DatasetGroup, solution: Solution, service_token: str, version_arn: str) -> None:
        """The trained version's offline metrics as an SSM parameter and outputs, and its ARN."""
        # The WaitCondition's Data holds the metrics too, but as an object CloudFormation cannot
        # put into an output or a parameter; this reading (same handler) gives them as a string.
        reading = CustomResource(
            self,
            "OfflineMetricsReading",
            service_token=service_token,
            resource_type=contracts.SolutionMetrics.RESOURCE_TYPE,
            properties=contracts.SolutionMetrics(solution_version_arn=version_arn).to_properties(),
        )
        reading.node.add_dependency(self.trained)
        metrics = reading.get_att_string("OfflineMetrics")
        ssm.StringParameter(self, "MetricsParameter", parameter_name=offline_metrics_parameter(config.name, group.name, solution.name), simple_name=False, string_value=metrics,
                            description=f"Offline metrics (GetSolutionMetrics) of the trained {solution.name} version")
        CfnOutput(self, "OfflineMetrics", value=metrics, description=f"{group.name}/{solution.name}: offline metrics of the trained version")
        CfnOutput(self, "SolutionVersionArn", value=version_arn, description=f"{group.name}/{solution.name}: trained solution version")

class CampaignResource(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        group: DatasetGroup,
        solution: Solution,
        campaign: Campaign,
        solution_arn: str,
        version_arn: str,
        after: list[Construct],
        switch: CampaignSwitch | None,
    ) -> None:
        super().__init__(scope, construct_id)
        campaign_config = campaign.campaign_config()
        # With sync, the campaign follows the latest version Personalize trains (CampaignConfig doc).
        served = f"{solution_arn}/$LATEST" if campaign.sync_with_latest_solution_version else version_arn
        self.resource = personalize.CfnCampaign(
            self,
            "Campaign",
            name=config.campaign_name(group, campaign),
            solution_version_arn=served,
            min_provisioned_tps=campaign.min_provisioned_tps,
            campaign_config=_cfn_campaign_config(campaign_config) if campaign_config else None,
        )
        for dependency in after:
            self.resource.node.add_dependency(dependency)
        # The CDK's built-in template check (its schema set) lacks this type, which CloudFormation
        # and cfn-lint know (tests/stacks/test_quality.py lints every template with cfn-lint).
        Validations.of(self.resource).acknowledge(
            Acknowledgment(id="CloudFormation-Validate::F3006", reason="AWS::Personalize::Campaign exists; cfn-lint checks it")
        )
        self.arn = self.resource.attr_campaign_arn
        prefix = resource_parameter_prefix(config.name, group.name, "campaigns", campaign.name)
        ssm.StringParameter(self, "ArnParameter", parameter_name=f"{prefix}/arn", simple_name=False, string_value=self.arn,
                            description=f"ARN of the {campaign.name} campaign")
        ssm.StringParameter(self, "SourceParameter", parameter_name=f"{prefix}/attribution-source", simple_name=False,
                            string_value=campaign.source_name,
                            description=f"Send this as metricAttribution.eventAttributionSource for events on {campaign.name} results")
        CfnOutput(self, "Arn", value=self.arn, description=f"{group.name}/{campaign.name}: campaign ARN")
        CfnOutput(self, "AttributionSource", value=campaign.source_name,
                  description=f"{group.name}/{campaign.name}: eventAttributionSource for events on its recommendations")
        if switch is not None:
            switch.apply(self)


def _cfn_campaign_config(config: dict) -> personalize.CfnCampaign.CampaignConfigProperty:
    return personalize.CfnCampaign.CampaignConfigProperty(
        item_exploration_config=config.get("itemExplorationConfig"),
        enable_metadata_with_recommendations=config.get("enableMetadataWithRecommendations"),
        sync_with_latest_solution_version=config.get("syncWithLatestSolutionVersion"),
    )
