"""Where a config's dataset group lives once deployed: bucket, ARNs, tracking-id parameter, sources.

`report --config ... --group ...` and `send-events --config ... --group ...` use this so nobody
copies names from the console. Names come from the address book the stacks use
(lambdas/personalize_resources/address_book.py) and the config's own naming (`AppConfig.physical_name`,
`AppConfig.recommender_name`, `AppConfig.campaign_name`), filled in with the caller's account and
region (STS GetCallerIdentity and the client's region): nothing is read from CloudFormation, so
this works with read-only credentials and fails only when the call does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions

from lambdas.personalize_resources import address_book
from lambdas.personalize_resources.address_book import (
    REPORT_PREFIX,
    cloudwatch_name,
    data_bucket_name,
    is_personalize_arn,
    tracking_id_parameter,
)
from config import AppConfig, ConfigError, DatasetGroup, load_config
from tools._cli import ClientFactory, CliError


@dataclass(frozen=True)
class DeployedGroup:
    """Everything a tool needs to address one deployed dataset group."""

    config_name: str
    group_name: str
    account: str
    region: str
    data_bucket: str
    report_url: str  # s3://<bucket>/metric-reports/<group>/, where the metric attribution writes
    dataset_group_arn: str
    tracking_id_parameter: str | None  # SSM parameter name; None when the group has no event tracker
    metric_names: tuple[str, ...]
    derived_metrics: dict[str, str] = field(default_factory=dict)  # name -> metric math expression
    sources: tuple[str, ...] = ()  # recommenders' sources first, then the other configured ones
    recommender_arns: dict[str, str] = field(default_factory=dict)  # config name -> ARN
    campaign_arns: dict[str, str] = field(default_factory=dict)  # config name -> ARN
    recommender_sources: dict[str, str] = field(default_factory=dict)  # config name -> its attribution source
    recommender_recipes: dict[str, str] = field(default_factory=dict)  # config name -> recipe ARN
    campaign_sources: dict[str, str] = field(default_factory=dict)  # config name -> its attribution source
    campaign_recipes: dict[str, str] = field(default_factory=dict)  # config name -> its solution's recipe ARN

    def source_aliases(self) -> dict[str, str]:
        """ARN -> configured source of every recommender and campaign.

        Personalize attributes an event with a `recommendationId` but no `eventAttributionSource`
        to the ARN of the recommender or campaign that returned it; `report` counts such rows
        under the source the config names for it.
        """
        aliases = {arn: self.recommender_sources[name] for name, arn in self.recommender_arns.items()}
        aliases.update({arn: self.campaign_sources[name] for name, arn in self.campaign_arns.items()})
        return aliases

    def exposure_arns(self) -> dict[str, str]:
        """Upper-cased source -> the recommender or campaign whose GetRecommendations serve it (first wins)."""
        by_source: dict[str, str] = {}
        for arn, source in self.source_aliases().items():
            by_source.setdefault(cloudwatch_name(source), arn)
        return by_source


def _caller(client_factory: ClientFactory) -> tuple[str, str, str]:
    """(account, region, partition) of the caller's credentials."""
    try:
        # STS falls back to its global endpoint without a region; a regional service does not.
        region = client_factory("personalize").meta.region_name
    except botocore.exceptions.NoRegionError:
        raise CliError("no AWS region configured: pass --region or set AWS_DEFAULT_REGION") from None
    identity = client_factory("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    return identity["Account"], region, partition


def find_group(config: AppConfig, group_name: str) -> DatasetGroup:
    for group in config.dataset_groups:
        if group.name == group_name:
            return group
    valid = ", ".join(g.name for g in config.dataset_groups)
    raise CliError(f"--group {group_name!r} is not in config {config.name!r}; its dataset groups: {valid}")


def load_group(config_path: str | Path, group_name: str) -> tuple[AppConfig, DatasetGroup]:
    """The validated config and one of its dataset groups (no AWS call)."""
    try:
        config = load_config(config_path, choose_with="--config PATH")
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    return config, find_group(config, group_name)


def resolve_group(config_path: str | Path, group_name: str, *, client_factory: ClientFactory) -> DeployedGroup:
    """Load and validate the config and name every deployed resource of one dataset group."""
    config, group = load_group(config_path, group_name)
    account, region, partition = _caller(client_factory)
    bucket = data_bucket_name(config.name, account, region)

    def personalize_arn(resource_type: str, name: str) -> str:
        return address_book.personalize_arn(partition, region, account, resource_type, name)

    attribution = group.metric_attribution
    return DeployedGroup(
        config_name=config.name,
        group_name=group.name,
        account=account,
        region=region,
        data_bucket=bucket,
        report_url=f"s3://{bucket}/{REPORT_PREFIX}{group.name}/",
        dataset_group_arn=personalize_arn("dataset-group", config.physical_name(group.name)),
        tracking_id_parameter=tracking_id_parameter(config.name, group.name) if group.event_tracker else None,
        metric_names=tuple(m.metric_name for m in attribution.metrics) if attribution else (),
        derived_metrics={d.name: d.expression for d in config.dashboard.derived_metrics},
        sources=tuple(dict.fromkeys(group.all_sources())),
        recommender_arns={
            r.name: personalize_arn("recommender", config.recommender_name(group, r)) for r in group.recommenders
        },
        # Campaigns with `enabled: false` do not exist (a release's CampaignsEnabled=false is not
        # known here: their GetRecommendations then simply finds nothing).
        campaign_arns={c.name: personalize_arn("campaign", config.campaign_name(group, c)) for _, c in group.campaigns(enabled_only=True)},
        recommender_sources={r.name: r.source_name for r in group.recommenders},
        recommender_recipes={r.name: r.recipe_arn for r in group.recommenders},
        campaign_sources={c.name: c.source_name for _, c in group.campaigns(enabled_only=True)},
        campaign_recipes={c.name: s.recipe_arn for s, c in group.campaigns(enabled_only=True)},
    )


def served_sources(config: AppConfig, group: DatasetGroup) -> dict[tuple[str, str], str]:
    """(resource type, physical name) -> attribution source, for every recommender and campaign."""
    served = {("recommender", config.recommender_name(group, r)): r.source_name for r in group.recommenders}
    served.update({("campaign", config.campaign_name(group, c)): c.source_name for _, c in group.campaigns(enabled_only=True)})
    return served


def arn_source_aliases(config: AppConfig, group: DatasetGroup, reported: Iterable[str]) -> dict[str, str]:
    """Reported source -> configured source, for each reported source that is the ARN of one of the
    group's recommenders or campaigns (in any account, region or letter case), with no AWS call:
    what `report --config --dir/--s3` renames without knowing the account."""
    served = {(kind, name.lower()): source for (kind, name), source in served_sources(config, group).items()}
    aliases = {}
    for source in reported:
        for kind in ("recommender", "campaign"):
            if is_personalize_arn(source.lower(), kind):
                match = served.get((kind, source.split("/", 1)[1].lower()))
                if match is not None:
                    aliases[source] = match
    return aliases


def check_sources(deployed: DeployedGroup, names: Any) -> list[str]:
    """Warnings for source names the config does not know (compared case-insensitively:
    CloudWatch upper-cases them, so `Recommended_For_You` is the same source)."""
    return unknown_source_warnings(deployed.group_name, deployed.sources, names)


def unknown_source_warnings(group_name: str, configured: Any, names: Any) -> list[str]:
    """`check_sources` for a group known only from the config (no AWS call, e.g. a dry run)."""
    configured = list(configured)
    known = {cloudwatch_name(source) for source in configured}
    listed = ", ".join(configured) or "none"
    return [
        f"source {name!r} is not configured for dataset group {group_name!r} "
        f"(configured: {listed}); its events still count, under that name"
        for name in names
        if cloudwatch_name(name) not in known
    ]
