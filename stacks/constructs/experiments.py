"""Assignment as code: an AppConfig application, environment, one feature-flag profile per dataset
group with experiments (one multi-variant flag per experiment), its hosted version, a deployment
strategy and the deployment, plus the managed policy an application attaches to read the flags.

Per the resource schemas (cfn-lint's copy of the CloudFormation registry), a hosted configuration
version is immutable (every property create-only): new flags are a new version, and a deployment
(whose ConfigurationVersion is create-only) of it; the old version goes in the cleanup. Weights
therefore change in place from the application's view: the next poll returns the new flags.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Token
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_iam as iam
from constructs import Construct

from config import AppConfig
from stacks.constructs.operator_widgets import serving_endpoints
from config.experiments import (
    ENVIRONMENT_NAME,
    application_name,
    flag_document,
    profile_name,
)

FEATURE_FLAGS_TYPE = "AWS.AppConfig.FeatureFlags"
HOSTED = "hosted"
# The AppConfig Data operations the agent calls (botocore's appconfigdata model; IAM prefix appconfig).
READ_OPERATIONS = ("StartConfigurationSession", "GetLatestConfiguration")


def experiment_groups(config: AppConfig) -> list:
    return [g for g in config.dataset_groups if g.experiments]


class ExperimentFlags(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # The stack owns the flags: `cdk destroy` removes them even if read in the last hour (an
        # account with AppConfig deletion protection on refuses that by default: user guide,
        # "Bypassing or forcing a deletion protection check").
        bypass = "BYPASS"
        self.application = appconfig.CfnApplication(
            self, "Application", name=application_name(config), description=f"{config.name}: experiments between recommendation sources"
        )
        app_id = self.application.attr_application_id
        self.environment = appconfig.CfnEnvironment(
            self, "Environment", application_id=app_id, name=ENVIRONMENT_NAME, deletion_protection_check=bypass,
            description="Where applications read their experiment arms from",
        )
        # New flags reach every caller at once: an experiment's split must not be half old, half new.
        self.strategy = appconfig.CfnDeploymentStrategy(
            self, "AllAtOnce", name=config.physical_name("experiments-all-at-once"), deployment_duration_in_minutes=0,
            growth_factor=100, final_bake_time_in_minutes=0, replicate_to="NONE",
        )
        readable: list[str] = []
        previous: appconfig.CfnDeployment | None = None
        for group in experiment_groups(config):
            profile = appconfig.CfnConfigurationProfile(
                self, f"Flags-{group.name}", application_id=app_id, name=profile_name(group), location_uri=HOSTED,
                type=FEATURE_FLAGS_TYPE, deletion_protection_check=bypass,
                description=f"Experiments of dataset group {group.name}: one flag per experiment",
            )
            arns = {e.source_name: e.arn for e in serving_endpoints(self, config, group)}
            version = appconfig.CfnHostedConfigurationVersion(
                self, f"FlagsVersion-{group.name}", application_id=app_id, configuration_profile_id=profile.attr_configuration_profile_id,
                content=stack.to_json_string(flag_document(config, group, arns)), content_type="application/json",
            )
            deployment = appconfig.CfnDeployment(
                self, f"Deployment-{group.name}", application_id=app_id, environment_id=self.environment.attr_environment_id,
                configuration_profile_id=profile.attr_configuration_profile_id, configuration_version=version.attr_version_number,
                deployment_strategy_id=self.strategy.attr_id,
            )
            if previous is not None:
                deployment.add_dependency(previous)  # one deployment at a time per environment
            previous = deployment
            readable.append(
                stack.format_arn(
                    service="appconfig", resource="application",
                    resource_name=f"{app_id}/environment/{self.environment.attr_environment_id}/configuration/{profile.attr_configuration_profile_id}",
                )
            )
            # An output's description is a literal: a release's name prefix (a parameter) is spelled out.
            app_name = "<NamePrefix>-experiments" if Token.is_unresolved(config.name) else application_name(config)
            CfnOutput(self, f"FlagsProfile-{group.name}", value=profile.attr_configuration_profile_id,
                      description=f"AppConfig profile of {group.name}'s experiment flags (agent path: /applications/{app_name}/environments/{ENVIRONMENT_NAME}/configurations/{profile_name(group)})")
        # What the AppConfig agent or Lambda extension calls, on the Service Authorization
        # Reference's resource type `configuration` (application/<id>/environment/<id>/configuration/<profile id>):
        # the team attaches this policy to the application's role.
        self.read_policy = iam.ManagedPolicy(
            self, "ReadFlags", managed_policy_name=config.physical_name("read-experiment-flags"),
            description=f"{config.name}: read the experiment flags (AppConfig agent / Lambda extension)",
            statements=[iam.PolicyStatement(actions=[f"appconfig:{operation}" for operation in READ_OPERATIONS], resources=readable)],
        )
        CfnOutput(self, "ReadFlagsPolicyArn", value=self.read_policy.managed_policy_arn, description="Attach to the role of applications that read experiment arms")
