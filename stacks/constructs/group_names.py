"""Names of one dataset group's custom resources, known at synth, and helpers every one of them uses."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aws_cdk import Aws, Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.personalize_resources import solution as solution_handler
from config import AppConfig, Campaign, DatasetGroup, Filter, Recommender, Solution
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.handler_functions import personalize_arn


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


@dataclass(frozen=True)
class GroupContext:
    """What each custom resource of one dataset group is built from."""

    config: AppConfig
    resources: DatasetGroupResources
    service_role: iam.IRole

    @property
    def group(self) -> DatasetGroup:
        return self.resources.group

    @property
    def names(self) -> GroupNames:
        return GroupNames(self.config, self.resources.group)
