"""Per-account settings as CloudFormation parameters, for templates stamped into new accounts.

`make synth` bakes the config in. A release (`tools/release.py`) instead turns what differs per
account into stack parameters, so one set of templates serves every account of a StackSet:

| Parameter | Stacks | Effect |
|---|---|---|
| `NamePrefix` | all | replaces the config's `name` in every physical name |
| `RecommendersEnabled` | personalize | `false` creates no recommender (nothing billed per hour) |
| `MinRecommendationRequestsPerSecond` | personalize | each recommender's billed TPS floor |
| `CampaignsEnabled` | personalize | `false` creates no campaign (nothing billed per hour) |
| `AlarmEmail` | dashboard | e-mail subscribed to the alarm topic; empty subscribes none |

Data locations differ per account through per-account config files (one release per config).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnCondition, CfnOutput, CfnParameter, CfnResource, Fn, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from config import SHORT_NAME_PATTERN, AppConfig

NAME_PREFIX_MAX = 20  # the config's `name` limit: physical names stay within Personalize's 63


@dataclass(frozen=True)
class StackSettings:
    """What a stack builds from: the config, and the parameters when the stack is parameterized."""

    config: AppConfig
    label: str  # the config's literal name, for descriptions (a template Description is a plain string)
    parameterized: bool = False

    @staticmethod
    def of(stack: Stack, config: AppConfig, parameterized: bool) -> StackSettings:
        if not parameterized:
            return StackSettings(config, config.name)
        prefix = CfnParameter(
            stack,
            "NamePrefix",
            type="String",
            default=config.name,
            allowed_pattern=SHORT_NAME_PATTERN,
            max_length=NAME_PREFIX_MAX,
            min_length=1,
            description="Starts every physical name; lower-case letters, digits and '-'. Use one value per environment in an account.",
        )
        # The model is frozen and already validated; only the name becomes a deploy-time value.
        return StackSettings(config.model_copy(update={"name": prefix.value_as_string}), config.name, True)


class _Switch:
    """A "true"/"false" stack parameter and the condition that creates everything under a scope
    only when it is "true"."""

    def __init__(self, stack: Stack, parameter_id: str, condition_id: str, *, description: str) -> None:
        self.enabled = CfnParameter(
            stack,
            parameter_id,
            type="String",
            allowed_values=["true", "false"],
            default="true",
            description=description,
        )
        self.condition = CfnCondition(stack, condition_id, expression=Fn.condition_equals(self.enabled.value_as_string, "true"))

    def apply(self, scope: IConstruct) -> None:
        """Create every resource and output under `scope` only when the switch is on."""
        for construct in scope.node.find_all():
            if isinstance(construct, CfnResource):
                construct.cfn_options.condition = self.condition
            elif isinstance(construct, CfnOutput):
                construct.condition = self.condition


class RecommenderSwitch(_Switch):
    """`RecommendersEnabled` and `MinRecommendationRequestsPerSecond` of a parameterized stack."""

    def __init__(self, stack: Stack, default_tps: int) -> None:
        super().__init__(
            stack,
            "RecommendersEnabled",
            "CreateRecommenders",
            description="false: create no recommenders in this account (they bill per hour while ACTIVE).",
        )
        self.min_tps = CfnParameter(
            stack,
            "MinRecommendationRequestsPerSecond",
            type="Number",
            min_value=1,
            default=default_tps,
            description="Billed floor of requests per second for every recommender.",
        )


class CampaignSwitch(_Switch):
    """`CampaignsEnabled` of a parameterized stack: campaigns cannot be stopped, only deleted."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(
            stack,
            "CampaignsEnabled",
            "CreateCampaigns",
            description="false: create no campaigns in this account (they bill their minimum TPS every hour).",
        )


def alarm_email_subscription(scope: Construct, topic: sns.ITopic, *, default: str) -> None:
    """`AlarmEmail` parameter; an empty value subscribes no one."""
    stack = Stack.of(scope)
    email = CfnParameter(
        stack,
        "AlarmEmail",
        type="String",
        default=default,
        allowed_pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="E-mail address subscribed to the attribution alarms; leave empty for none.",
    )
    has_email = CfnCondition(stack, "HasAlarmEmail", expression=Fn.condition_not(Fn.condition_equals(email.value_as_string, "")))
    subscription = sns.CfnSubscription(scope, "AlarmEmailSubscription", topic_arn=topic.topic_arn, protocol="email", endpoint=email.value_as_string)
    subscription.cfn_options.condition = has_email
