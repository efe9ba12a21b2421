"""Custom resources of one dataset group: the metric attribution, import jobs, recommenders.

Order is carried by the template: Items (and Users) imports, then the attribution (SUM(ITEMS.col)
needs item metadata), then the Interactions import (interactions imported before the attribution
are not reported), then the recommenders. Each import and each recommender is awaited by a
WaitCondition that the shared poller signals (imports and training may outlast a custom
resource's one-hour limit).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aws_cdk import Aws, CfnOutput, CfnWaitCondition, CfnWaitConditionHandle, CustomResource, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.personalize_resources import solution as solution_handler
from lambdas.personalize_resources.address_book import IMPORT_PREFIX, resource_parameter_prefix, whole_seconds
from config import AppConfig, Campaign, DatasetGroup, Filter, Recommender, Solution
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.handlers import personalize_arn, request_tags, signal_handle
from stacks.deployment import RecommenderSwitch
from stacks.storage_stack import import_location


def short_hash(*parts: object, length: int = 10) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class GroupNames:
    """Every physical name and ARN of a dataset group's custom resources, known at synth.

    The handlers' IAM policies are scoped to exactly these ARNs.
    """

    config: AppConfig
    group: DatasetGroup

    @property
    def metric_attribution(self) -> str:
        return self.config.physical_name(self.group.name, "attribution")

    def import_job(self, dataset_type: str, stack_token: str = "0123abcd") -> str:
        """`<name>-<group>-<type>-<digest>-<stack token>`.

        The digest changes, hence a new job, whenever location, mode, version or the publishing of
        attribution reports to S3 change (jobs are immutable). The stack token (`stack_token`,
        eight hex digits of the stack's id at deploy time) makes names unique per stack: a
        redeploy after a destroy must start its own job, not adopt an old ACTIVE one and import
        nothing. Same length as the `...-import-<10>` bound the config validation checks."""
        data_import = self.group.datasets.present()[dataset_type].data_import
        assert data_import is not None
        attribution = self.group.metric_attribution
        publish_to_s3 = bool(attribution and attribution.s3_output)
        digest = short_hash(data_import.location, data_import.mode.value, data_import.version, publish_to_s3, length=8)
        return self.config.physical_name(self.group.name, dataset_type, digest, stack_token)

    def imported_datasets(self) -> list[str]:
        return [t for t, d in self.group.datasets.present().items() if d.data_import is not None]

    def recommender(self, recommender: Recommender) -> str:
        return self.config.recommender_name(self.group, recommender)

    def solution(self, solution: Solution) -> str:
        """The name the solution handler gives the solution (base name + digest of its create-only
        settings): known at synth, since the digest never includes the dataset group ARN."""
        request = solution.create_request(self.config.solution_base_name(self.group, solution), "dataset-group")
        return solution_handler.physical_name(solution_handler.desired_solution(request))

    def campaign(self, campaign: Campaign) -> str:
        return self.config.campaign_name(self.group, campaign)

    def filter(self, filter_: Filter) -> str:
        return self.config.filter_name(self.group, filter_)

    def arns(self, scope: Construct) -> dict[str, list[str]]:
        """ARNs of the current config's resources, by type (which Providers a stack needs; the
        dashboard reads "recommender" and "campaign"). Disabled campaigns are left out."""
        return {
            "metric-attribution": [personalize_arn(scope, "metric-attribution", self.metric_attribution)] if self.group.metric_attribution else [],
            "dataset-import-job": [personalize_arn(scope, "dataset-import-job", self.import_job(t)) for t in self.imported_datasets()],
            "recommender": [personalize_arn(scope, "recommender", self.recommender(r)) for r in self.group.recommenders],
            "solution": [personalize_arn(scope, "solution", self.solution(s)) for s in self.group.solutions],
            # Version ARNs extend their solution's with an id Personalize assigns.
            "solution-version": [personalize_arn(scope, "solution", self.solution(s)) + "/*" for s in self.group.solutions],
            "campaign": [personalize_arn(scope, "campaign", self.campaign(c)) for _, c in self.group.campaigns(enabled_only=True)],
            "filter": [personalize_arn(scope, "filter", self.filter(f)) for f in self.group.filters],
        }


def role_policy(role: iam.IRole) -> Construct:
    """The role's default policy: what Personalize may do with the role is only in place once it
    exists (the role's ARN, already referenced, orders only after the role itself)."""
    policy = role.node.try_find_child("DefaultPolicy")
    assert policy is not None, "the service role has statements, hence a DefaultPolicy"
    return policy


def stack_token() -> str:
    """First eight hex digits of the stack id's UUID (`arn:...:stack/<name>/<uuid>`), resolved by
    CloudFormation at deploy time: deterministic at synth, different for every stack instance."""
    uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.select(0, Fn.split("-", uuid))


def import_locations(group: DatasetGroup, bucket_name: str, sample_locations: dict[str, str]) -> dict[str, str]:
    """S3 URI of each imported dataset: the sample files, the user's own URI, or a key under
    the data bucket's import prefix."""
    locations = {}
    for dataset_type, dataset in group.datasets.present().items():
        if dataset.data_import is None:
            continue
        location = dataset.data_import.location
        if location == "sample":
            ratings = dataset_type == "interactions" and dataset.schema_.field("EVENT_VALUE") is not None
            # A schema with EVENT_VALUE imports the ratings variant of the sample interactions.
            locations[dataset_type] = sample_locations["interactions-ratings" if ratings else dataset_type]
        elif location.startswith("s3://"):
            locations[dataset_type] = location
        else:
            locations[dataset_type] = import_location(bucket_name, IMPORT_PREFIX + location)
    return locations


@dataclass
class ServiceTokens:
    """Provider service tokens; None where the config uses no resource of that type."""

    metric_attribution: str | None = None
    import_job: str | None = None
    recommender: str | None = None
    dataset_export: str | None = None
    solution: str | None = None
    solution_version: str | None = None


def keeps_recorded_events(config: AppConfig, group: DatasetGroup) -> bool:
    """Events recorded with PutEvents exist only in the Interactions dataset: with RETAIN they are
    exported to the data bucket before the dataset is deleted."""
    return config.removal_policy == "RETAIN" and group.event_tracker and "interactions" in group.datasets.present()


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
        group = resources.group
        names = GroupNames(config, group)
        service_role_arn = service_role.role_arn
        token = stack_token()
        # Imports before the attribution: item metadata that SUM(ITEMS.col) needs; interactions
        # after it, since Personalize does not report data imported before the attribution.
        first_imports = [t for t in names.imported_datasets() if t != "interactions"]

        self.metric_attribution: CustomResource | None = None
        attribution = group.metric_attribution
        self.import_jobs: list[CustomResource] = []
        self.events_export: CustomResource | None = None
        if keeps_recorded_events(config, group):
            self.events_export = CustomResource(
                self,
                "KeepRecordedEvents",
                service_token=tokens.dataset_export,
                resource_type="Custom::PersonalizeInteractionsExport",
                properties={
                    "Request": {
                        "datasetArn": resources.datasets["interactions"].attr_dataset_arn,
                        "roleArn": service_role_arn,
                        "exportPrefix": f"{export_location}{group.name}/",
                        "jobNamePrefix": config.physical_name(group.name, "export"),
                        **({"kmsKeyArn": key_arn} if key_arn else {}),
                    }
                },
            )
            # Deleted after the teardown chain (no import runs any more) and before the dataset.
            self.events_export.node.add_dependency(role_policy(service_role))
            resources.deleted_after_teardown(self.events_export)
        publish_to_s3 = bool(attribution and attribution.s3_output)

        wait_timeout = str(whole_seconds(config.long_wait_timeout_hours))
        self.imported: list[CfnWaitCondition] = []

        def import_job(dataset_type: str) -> CfnWaitCondition:
            """The job's custom resource and the WaitCondition the poller signals once it is
            ACTIVE (imports may outlast the custom resource's hour). Dependents wait for the latter."""
            data_import = group.datasets.present()[dataset_type].data_import
            assert data_import is not None
            after_attribution = dataset_type == "interactions" and self.metric_attribution is not None
            # A new job (see GroupNames.import_job) means a new handle, hence a new wait.
            digest = short_hash(group.name, dataset_type, data_import.location, data_import.mode.value, data_import.version, publish_to_s3, wait_timeout)
            handle = CfnWaitConditionHandle(self, f"{dataset_type.title()}ImportHandle{digest}")
            job = CustomResource(
                self,
                f"{dataset_type.title()}Import",
                service_token=tokens.import_job,
                resource_type="Custom::PersonalizeDatasetImportJob",
                properties={
                    "Request": {
                        "jobName": names.import_job(dataset_type, token),
                        "datasetArn": resources.datasets[dataset_type].attr_dataset_arn,
                        "dataSource": {"dataLocation": import_locations[dataset_type]},
                        "roleArn": service_role_arn,
                        "importMode": data_import.mode.value,
                        "publishAttributionMetricsToS3": str(publish_to_s3).lower(),
                    },
                    **({"MetricAttributionArn": self.metric_attribution.ref} if after_attribution else {}),
                    "SignalHandle": signal_handle(handle),
                },
            )
            # Personalize reads the data with the role's permissions: wait for its policy.
            job.node.add_dependency(role_policy(service_role))
            job.node.add_dependency(handle)
            if self.events_export is not None:
                job.node.add_dependency(self.events_export)
            self.import_jobs.append(job)
            # Its Delete answers at once and the teardown waits list the group's running imports.
            # They must exist before the job starts: a create that fails while an import runs
            # and before the chain was made would roll back to DeleteDataset on a running
            # import (ResourceInUseException, ROLLBACK_FAILED). CloudFormation starts
            # independent resources in no fixed order, so the job waits for the chain.
            resources.blocks_teardown(job)
            imported = CfnWaitCondition(self, f"{dataset_type.title()}Imported{digest}", handle=handle.ref, count=1, timeout=wait_timeout)
            imported.node.add_dependency(job)
            self.imported.append(imported)
            return imported

        first_jobs = [import_job(t) for t in first_imports]
        if attribution is not None:
            output_config: dict = {"roleArn": service_role_arn}
            if attribution.s3_output:
                output_config["s3DataDestination"] = {"path": f"{report_location}{group.name}/"}
            self.metric_attribution = CustomResource(
                self,
                "MetricAttribution",
                service_token=tokens.metric_attribution,
                resource_type="Custom::PersonalizeMetricAttribution",
                properties={
                    "Request": {
                        "name": names.metric_attribution,
                        "datasetGroupArn": resources.arn,
                        "metrics": [
                            {"eventType": m.event_type, "metricName": m.metric_name, "expression": m.expression.replace(" ", "")}
                            for m in attribution.metrics
                        ],
                        "metricsOutputConfig": output_config,
                    }
                },
            )
            for dependency in [*resources.datasets.values(), *first_jobs, role_policy(service_role)]:
                self.metric_attribution.node.add_dependency(dependency)
            CfnOutput(self, "MetricAttributionArn", value=self.metric_attribution.get_att_string("MetricAttributionArn"))

        for dataset_type in names.imported_datasets():
            if dataset_type not in first_imports:
                import_job(dataset_type)

        for recommender in group.recommenders:
            resource = RecommenderResource(
                self,
                f"Recommender-{recommender.name}",
                config=config,
                group=group,
                recommender=recommender,
                name=names.recommender(recommender),
                dataset_group_arn=resources.arn,
                service_token=tokens.recommender,
                after=self.imported,
                min_tps=switch.min_tps.value_as_string if switch else None,
            )
            if switch is not None:
                switch.apply(resource)
            resources.blocks_teardown(resource.resource)


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
        service_token: str,
        after: list[Construct],
        min_tps: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        request: dict = {"name": name, "datasetGroupArn": dataset_group_arn, "recipeArn": recommender.recipe_arn}
        if recommender.recommender_config:
            request["recommenderConfig"] = recommender.recommender_config
        if min_tps is not None:
            # A release's per-account TPS floor (a stack parameter) overrides the config's.
            request["recommenderConfig"] = {**recommender.recommender_config, "minRecommendationRequestsPerSecond": min_tps}
        if config.tags:
            request["tags"] = request_tags(config.tags)
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
            resource_type="Custom::PersonalizeRecommender",
            properties={"Request": request, "DesiredState": recommender.state, "SignalHandle": signal_handle(handle)},
        )
        self.resource.node.add_dependency(handle)
        for dependency in after:
            self.resource.node.add_dependency(dependency)
        ready = CfnWaitCondition(
            self,
            f"Ready{digest}",
            handle=handle.ref,
            count=1,
            timeout=timeout,
        )
        ready.node.add_dependency(self.resource)
        self.arn = self.resource.get_att_string("RecommenderArn")

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
