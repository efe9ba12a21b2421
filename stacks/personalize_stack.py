"""Everything Personalize: service role, dataset groups, custom resources and their handlers."""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.personalize_resources import import_job, metric_attribution, recommender, sample_data
from stacks.configuration import AppConfig
from stacks.deployment import RecommenderSwitch, StackSettings
from stacks.constructs.attribution import GroupCustomResources, GroupNames, ServiceTokens
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.handlers import LOG_RETENTION, CustomResourceProvider, FrameworkRoles, HandlerFunction
from stacks.constructs.service_role import PersonalizeServiceRole
from stacks.storage_stack import IMPORT_PREFIX, REPORT_PREFIX, SAMPLE_PREFIX, StorageStack, data_bucket_name, import_location


class PersonalizeStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, storage: StorageStack, parameterized: bool = False, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = StackSettings.of(self, config, parameterized).config
        switch = None
        recommenders = [r for g in config.dataset_groups for r in g.recommenders]
        if parameterized and recommenders:
            tps = max(int(r.recommender_config.get("minRecommendationRequestsPerSecond", 1)) for r in recommenders)
            switch = RecommenderSwitch(self, default_tps=tps)
        self.add_stack_dependency(storage)
        bucket_name = data_bucket_name(config)
        bucket = s3.Bucket.from_bucket_name(self, "DataBucket", bucket_name)
        locations = [d.data_import.location for g in config.dataset_groups for d in g.datasets.present().values() if d.data_import]
        any_cloudwatch = any(g.metric_attribution and g.metric_attribution.cloudwatch for g in config.dataset_groups)

        self.service_role = PersonalizeServiceRole(
            self,
            "ServiceRole",
            data_bucket=bucket,
            import_prefix=IMPORT_PREFIX,
            report_prefix=REPORT_PREFIX,
            external_import_locations=[loc for loc in locations if loc.startswith("s3://")],
            publish_to_cloudwatch=any_cloudwatch,
            key=storage.data_key,
        ).role

        self.groups = [
            DatasetGroupResources(self, f"Group-{group.name}", config=config, group=group, service_role=self.service_role, key=storage.data_key)
            for group in config.dataset_groups
        ]
        framework = FrameworkRoles(self, "ProviderFramework")

        sample_locations: dict[str, str] = {}
        if "sample" in locations:
            sample = SampleDataResource(self, "SampleData", bucket=bucket, key=storage.data_key, framework=framework)
            sample_locations = {"interactions": sample.interactions_location, "items": sample.items_location}

        tokens = self._providers(config, framework)
        for resources in self.groups:
            group = resources.group
            import_locations = {}
            for dataset_type, dataset in group.datasets.present().items():
                if dataset.data_import is None:
                    continue
                location = dataset.data_import.location
                if location == "sample":
                    import_locations[dataset_type] = sample_locations[dataset_type]
                elif location.startswith("s3://"):
                    import_locations[dataset_type] = location
                else:
                    import_locations[dataset_type] = import_location(bucket_name, IMPORT_PREFIX + location)
            GroupCustomResources(
                self,
                f"Custom-{group.name}",
                config=config,
                resources=resources,
                tokens=tokens,
                service_role_arn=self.service_role.role_arn,
                report_location=import_location(bucket_name, REPORT_PREFIX),
                import_locations=import_locations,
                switch=switch,
            )

    def _providers(self, config: AppConfig, framework: FrameworkRoles) -> ServiceTokens:
        """One Provider per custom-resource type the config uses."""
        arns: dict[str, list[str]] = {"metric-attribution": [], "dataset-import-job": [], "recommender": []}
        group_arns, dataset_arns = [], []
        for resources in self.groups:
            for kind, values in GroupNames(config, resources.group).arns(self).items():
                arns[kind] += values
            group_arns.append(resources.arn)
            dataset_arns += [d.attr_dataset_arn for d in resources.datasets.values()]
        tokens = ServiceTokens()

        def provider(
            construct_id: str, module, create_operation: str, arns_of_kind: list[str], parents: list[str], other: dict | None = None, **options
        ) -> str:
            # Personalize names are known at synth, so every statement names exact ARNs; the
            # Create call also names the parent it creates the resource in; `other` gives the
            # resources of non-Personalize operations.
            resources = {op: arns_of_kind + (parents if op == create_operation else []) for op in module.API_OPERATIONS}
            resources.update(other or {})
            return CustomResourceProvider(
                self,
                construct_id,
                module=module.__name__.rsplit(".", 1)[1],
                description=f"Custom resource handler: {module.__name__.rsplit('.', 1)[1]}",
                operations=module.API_OPERATIONS,
                resources_by_operation=resources,
                waits=True,
                framework_roles=framework,
                **options,
            ).service_token

        if arns["metric-attribution"]:
            tokens.metric_attribution = provider(
                "MetricAttributionProvider", metric_attribution, "CreateMetricAttribution", arns["metric-attribution"], group_arns,
                passes_role=self.service_role.role_arn,
            )
        if arns["dataset-import-job"]:
            tokens.import_job = provider(
                "ImportJobProvider", import_job, "CreateDatasetImportJob", arns["dataset-import-job"], dataset_arns,
                passes_role=self.service_role.role_arn,
            )
        if arns["recommender"]:
            poller = RecommenderPoller(self, "RecommenderPoller", config=config, recommender_arns=arns["recommender"])
            state_machine_arn = poller.state_machine.state_machine_arn
            tokens.recommender = provider(
                "RecommenderProvider", recommender, "CreateRecommender", arns["recommender"], group_arns,
                other={"states:StartExecution": [state_machine_arn]},
                environment={"POLLER_STATE_MACHINE_ARN": state_machine_arn},
            )
        return tokens


class SampleDataResource(Construct):
    """Writes the generated demo data set to the import prefix (the data is kept on delete)."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, key, framework: FrameworkRoles) -> None:
        super().__init__(scope, construct_id)
        provider = CustomResourceProvider(
            self,
            "Provider",
            module="sample_data",
            description="Custom::PersonalizeSampleData",
            operations=sample_data.API_OPERATIONS,
            resources_by_operation={"s3:PutObject": [bucket.arn_for_objects(SAMPLE_PREFIX + "*")]},
            waits=False,
            framework_roles=framework,
        )
        if key is not None:
            provider.handler.role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key.key_arn]))
        resource = CustomResource(
            self,
            "Files",
            service_token=provider.service_token,
            resource_type="Custom::PersonalizeSampleData",
            properties={
                "Bucket": bucket.bucket_name,
                "Prefix": SAMPLE_PREFIX,
                "Seed": str(sample_data.DEFAULT_SEED),
                "Users": str(sample_data.DEFAULT_USERS),
                "Items": str(sample_data.DEFAULT_ITEMS),
                "Interactions": str(sample_data.DEFAULT_INTERACTIONS),
            },
        )
        self.interactions_location = resource.get_att_string("InteractionsLocation")
        self.items_location = resource.get_att_string("ItemsLocation")


class RecommenderPoller(Construct):
    """Step Functions loop that waits for recommenders without a Lambda sleeping.

    Wait → one `poll_step` (describe; stop/start toward the desired state; signal the
    WaitCondition on success or failure) → Choice(finished?) → Wait again.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, recommender_arns: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.step = HandlerFunction(
            self,
            "PollStep",
            handler="personalize_resources.recommender.poll_step",
            description="One poll of a recommender toward its desired state",
            operations=recommender.POLLER_API_OPERATIONS,
            resources_by_operation={op: recommender_arns for op in recommender.POLLER_API_OPERATIONS},
            timeout=Duration.minutes(1),
            environment={"POLLER_TIMEOUT_SECONDS": str(int(config.recommender_ready_timeout_hours * 3600))},
        )
        wait = sfn.Wait(self, "WaitBeforePoll", time=sfn.WaitTime.duration(Duration.minutes(config.recommender_poll_minutes)))
        poll = tasks.LambdaInvoke(
            self, "Poll", lambda_function=self.step.function, payload_response_only=True, retry_on_service_exceptions=True
        )
        finished = sfn.Choice(self, "Finished").when(sfn.Condition.boolean_equals("$.finished", True), sfn.Succeed(self, "Done"))
        definition = wait.next(poll).next(finished.otherwise(wait))
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(config.recommender_ready_timeout_hours),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
