"""Custom resources of one dataset group: the metric attribution, import jobs, recommenders.

Order is carried by the template: Items (and Users) imports, then the attribution (SUM(ITEMS.col)
needs item metadata), then the Interactions import (interactions imported before the attribution
are not reported), then the recommenders. Each import and each recommender is awaited by a
WaitCondition that the shared poller signals (imports and training may outlast a custom
resource's one-hour limit).
"""

from __future__ import annotations

from aws_cdk import CfnWaitCondition, CustomResource
from aws_cdk import aws_iam as iam
from constructs import Construct

from config import AppConfig
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.events_export import add_events_export, keeps_recorded_events
from stacks.constructs.group_names import GroupContext, stack_token
from stacks.constructs.import_job import add_import_job
from stacks.constructs.metric_attribution import add_metric_attribution
from stacks.constructs.providers import ServiceTokens
from stacks.constructs.recommender import RecommenderResource
from stacks.deployment import RecommenderSwitch


class GroupCustomResources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        resources: DatasetGroupResources,
        tokens: ServiceTokens,
        service_role: iam.IRole,
        report_location: str,
        export_location: str,
        key_arn: str | None,
        import_locations: dict[str, str],
        switch: RecommenderSwitch | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        context = GroupContext(config, resources, service_role)
        self._context, self._tokens, self._locations, self._stack_token = context, tokens, import_locations, stack_token()
        self.metric_attribution: CustomResource | None = None
        self.import_jobs: list[CustomResource] = []
        self.imported: list[CfnWaitCondition] = []
        self.events_export: CustomResource | None = None
        if keeps_recorded_events(config, context.group):
            self.events_export = add_events_export(self, context, service_token=tokens.dataset_export, export_location=export_location, key_arn=key_arn)
        # Imports before the attribution: item metadata that SUM(ITEMS.col) needs; interactions
        # after it, since Personalize does not report data imported before the attribution.
        imported = context.names.imported_datasets()
        first_imports = [t for t in imported if t != "interactions"]
        first_jobs = [self._import(t) for t in first_imports]
        if context.group.metric_attribution is not None:
            self.metric_attribution = add_metric_attribution(
                self, context, service_token=tokens.metric_attribution, report_location=report_location, after=list(first_jobs)
            )
        for dataset_type in imported:
            if dataset_type not in first_imports:
                self._import(dataset_type)
        self._add_recommenders(switch)

    def _import(self, dataset_type: str) -> CfnWaitCondition:
        added = add_import_job(
            self,
            self._context,
            dataset_type,
            service_token=self._tokens.import_job,
            stack_token=self._stack_token,
            location=self._locations[dataset_type],
            metric_attribution=self.metric_attribution,
            events_export=self.events_export,
        )
        self.import_jobs.append(added.job)
        self.imported.append(added.imported)
        return added.imported

    def _add_recommenders(self, switch: RecommenderSwitch | None) -> None:
        context = self._context
        for recommender in context.group.recommenders:
            resource = RecommenderResource(
                self,
                f"Recommender-{recommender.name}",
                config=context.config,
                group=context.group,
                recommender=recommender,
                name=context.names.recommender(recommender),
                dataset_group_arn=context.resources.arn,
                service_token=self._tokens.recommender,
                after=self.imported,
                min_tps=switch.min_tps.value_as_string if switch else None,
            )
            if switch is not None:
                switch.apply(resource)
            context.resources.blocks_teardown(resource.resource)
