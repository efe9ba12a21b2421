"""Everything Personalize: service role, dataset groups, custom resources and their handlers."""

from __future__ import annotations

import json

from aws_cdk import Annotations, CfnWaitCondition, CustomResource, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.personalize_resources.address_book import EXPORT_PREFIX, IMPORT_PREFIX, REPORT_PREFIX, RUNNING_IMPORT_JOBS_QUOTA
from stacks.bucket_access import ACCOUNT_PLACEHOLDER, EXTERNAL_BUCKETS_METADATA, declared_prefixes, external_bucket_policies
from config import AppConfig
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.events_export import keeps_recorded_events
from stacks.constructs.experiments import ExperimentFlags, experiment_groups
from stacks.constructs.group_custom_resources import GroupCustomResources
from stacks.constructs.handler_functions import FrameworkRoles
from stacks.constructs.import_job import import_locations
from stacks.constructs.providers import ServiceTokens, build_providers
from stacks.constructs.sample_data import SampleDataResource
from stacks.constructs.service_role import PersonalizeServiceRole
from stacks.constructs.solutions import GroupSolutions
from stacks.constructs.teardown import build_teardown_chains
from stacks.deployment import CampaignSwitch, RecommenderSwitch, StackSettings
from stacks.storage_stack import StorageStack, data_bucket_name, import_location


def queue_imports(imports: list[tuple[CustomResource, CfnWaitCondition]]) -> None:
    """Personalize runs at most RUNNING_IMPORT_JOBS_QUOTA imports per region and refuses more:
    each import (job, its WaitCondition) beyond it starts once the one that many places before it
    ended (in creation order, which already puts an Items import before its group's Interactions
    import)."""
    for (job, _), (_, earlier) in zip(imports[RUNNING_IMPORT_JOBS_QUOTA:], imports):
        job.node.add_dependency(earlier)


class PersonalizeStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, storage: StorageStack, parameterized: bool = False, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = StackSettings.of(self, config, parameterized).config
        switch = self._recommender_switch(config) if parameterized else None
        campaign_switch = None
        if parameterized and any(g.campaigns(enabled_only=True) for g in config.dataset_groups):
            campaign_switch = CampaignSwitch(self)
        self.add_stack_dependency(storage)
        bucket_name = data_bucket_name(config)
        bucket = s3.Bucket.from_bucket_name(self, "DataBucket", bucket_name)
        locations = [d.data_import.location for g in config.dataset_groups for d in g.datasets.present().values() if d.data_import]
        self.service_role = self._service_role(config, bucket, storage)

        self._announce_external_buckets(config)

        self.groups = [
            DatasetGroupResources(self, f"Group-{group.name}", config=config, group=group, service_role=self.service_role, key=storage.data_key)
            for group in config.dataset_groups
        ]
        framework = FrameworkRoles(self, "ProviderFramework")

        sample_locations = self._sample_locations(bucket, storage, framework) if "sample" in locations else {}

        if any(keeps_recorded_events(config, g) for g in config.dataset_groups):
            # Dataset exports of recorded events before a dataset is deleted (removalPolicy RETAIN).
            self.service_role.add_to_principal_policy(
                iam.PolicyStatement(sid="WriteEventExports", actions=["s3:PutObject"], resources=[bucket.arn_for_objects(EXPORT_PREFIX + "*")])
            )
        tokens = build_providers(self, config=config, groups=self.groups, service_role=self.service_role, framework=framework)
        imports: list[tuple[CustomResource, CfnWaitCondition]] = []
        for resources in self.groups:
            custom = GroupCustomResources(
                self,
                f"Custom-{resources.group.name}",
                config=config,
                resources=resources,
                tokens=tokens,
                service_role=self.service_role,
                report_location=import_location(bucket_name, REPORT_PREFIX),
                export_location=import_location(bucket_name, EXPORT_PREFIX),
                key_arn=storage.data_key.key_arn if storage.data_key else None,
                import_locations=import_locations(resources.group, bucket_name, sample_locations),
                switch=switch,
            )
            imports += zip(custom.import_jobs, custom.imported)
            self._add_solutions(config, resources, custom, tokens, campaign_switch)
        queue_imports(imports)
        if experiment_groups(config):
            ExperimentFlags(self, "Experiments", config=config)
        # Last: every construct has registered its long-running children by now.
        build_teardown_chains(self, config=config, groups=self.groups, framework=framework)

    def _service_role(self, config: AppConfig, bucket: s3.IBucket, storage: StorageStack) -> iam.IRole:
        return PersonalizeServiceRole(
            self,
            "ServiceRole",
            data_bucket=bucket,
            import_prefix=IMPORT_PREFIX,
            report_prefix=REPORT_PREFIX,
            external_import_locations=config.external_import_locations(),
            publish_to_cloudwatch=any(g.metric_attribution and g.metric_attribution.cloudwatch for g in config.dataset_groups),
            key=storage.data_key,
        ).role

    def _recommender_switch(self, config: AppConfig) -> RecommenderSwitch | None:
        """A release's parameters for its recommenders: on/off and the TPS floor (the config's highest by default)."""
        recommenders = [r for g in config.dataset_groups for r in g.recommenders]
        if not recommenders:
            return None
        tps = max(int(r.recommender_config.get("minRecommendationRequestsPerSecond", 1)) for r in recommenders)
        return RecommenderSwitch(self, default_tps=tps)

    def _sample_locations(self, bucket: s3.IBucket, storage: StorageStack, framework: FrameworkRoles) -> dict[str, str]:
        """The demo data set's files, written by the sample data resource, by what they import."""
        sample = SampleDataResource(self, "SampleData", bucket=bucket, key=storage.data_key, framework=framework)
        return {
            "interactions": sample.interactions_location,
            "items": sample.items_location,
            "interactions-ratings": sample.ratings_interactions_location,
        }

    def _add_solutions(
        self, config: AppConfig, resources: DatasetGroupResources, custom: GroupCustomResources, tokens: ServiceTokens, switch: CampaignSwitch | None
    ) -> None:
        """The group's solutions and filters, after the data is in (imports ACTIVE, attribution in
        place): deleted before them."""
        group = resources.group
        if not (group.solutions or group.filters):
            return
        after = [*resources.datasets.values(), *custom.imported, *([custom.metric_attribution] if custom.metric_attribution else [])]
        GroupSolutions(
            self,
            f"Solutions-{group.name}",
            config=config,
            group=group,
            dataset_group_arn=resources.arn,
            solution_token=tokens.solution,
            solution_version_token=tokens.solution_version,
            after=after,
            switch=switch,
        )

    def _announce_external_buckets(self, config: AppConfig) -> None:
        """Print, at synth, the policy each external bucket's owner adds (this stack cannot), and
        record the declared buckets and prefixes in the template's Metadata."""
        if not config.external_buckets:
            return
        account = ACCOUNT_PLACEHOLDER if Token.is_unresolved(self.account) else self.account
        for bucket, policy in external_bucket_policies(config, account=account).items():
            Annotations.of(self).add_info(
                f"s3://{bucket} is not this app's bucket: Personalize imports from it only once its owner adds this bucket "
                f"policy ({ACCOUNT_PLACEHOLDER}: the account this stack deploys to): {json.dumps(policy)}"
            )
        self.template_options.metadata = {EXTERNAL_BUCKETS_METADATA: declared_prefixes(config)}
