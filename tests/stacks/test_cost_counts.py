"""The cost estimate counts what the templates create: customer managed keys, alarms, the
dashboard and the Step Functions waiters, read from the session's synthesized templates."""

from __future__ import annotations

import pytest

from config import load_config
from stacks.cost import alarm_count, kms_key_count
from tests.stacks.templates import resources
from harness.synthesis import SYNTH_CONFIGS


def count(synthesized, key: str, resource_type: str) -> int:
    return sum(len(resources(synthesized.template(key, role), resource_type)) for role in synthesized.stacks[key])


@pytest.mark.parametrize("key", sorted(SYNTH_CONFIGS))
def test_estimated_counts_are_the_templates(synthesized, key):
    config = load_config(SYNTH_CONFIGS[key])
    assert kms_key_count(config) == count(synthesized, key, "AWS::KMS::Key")
    assert alarm_count(config) == count(synthesized, key, "AWS::CloudWatch::Alarm")
    assert int(config.dashboard.enabled) == count(synthesized, key, "AWS::CloudWatch::Dashboard")
