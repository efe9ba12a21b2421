"""The policy an external import bucket's owner adds (stacks/bucket_access.py), printed at synth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stacks.bucket_access import ACCOUNT_PLACEHOLDER, EXTERNAL_BUCKETS_METADATA, external_bucket_policies, external_bucket_policy
from config import load_config
from stacks.iam_reference import grant_problems
from harness.synthesis import SYNTH_CONFIGS

REPO = Path(__file__).resolve().parents[2]


def test_the_policy_lets_personalize_list_and_read_only_the_import_prefixes_for_this_account():
    policy = external_bucket_policy("partner", ["video/users/", "items.csv"], account="111122223333")
    listing, reading = policy["Statement"]
    assert listing["Principal"] == reading["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert listing["Action"] == "s3:ListBucket" and listing["Resource"] == "arn:aws:s3:::partner"
    assert listing["Condition"]["StringLike"] == {"s3:prefix": ["items.csv", "items.csv*", "video/users/", "video/users/*"]}
    assert reading["Action"] == "s3:GetObject" and reading["Resource"] == ["arn:aws:s3:::partner/items.csv*", "arn:aws:s3:::partner/video/users/*"]
    for statement in (listing, reading):
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
        keys = [key for tests in statement["Condition"].values() for key in tests]
        assert grant_problems([statement["Action"]], [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"], keys) == []


def test_a_whole_bucket_is_listed_without_a_prefix_condition():
    listing, reading = external_bucket_policy("partner", [""])["Statement"]
    assert "StringLike" not in listing["Condition"] and reading["Resource"] == ["arn:aws:s3:::partner/*"]
    assert listing["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_PLACEHOLDER}


def test_the_multi_group_example_declares_its_partner_bucket():
    policies = external_bucket_policies(load_config(SYNTH_CONFIGS["multi"]))
    assert list(policies) == ["example-partner-exports"]


def test_synthesis_records_the_declared_buckets_and_prints_the_policy(synthesized):
    template = synthesized.template("multi", "personalize")
    assert template["Metadata"][EXTERNAL_BUCKETS_METADATA] == {"example-partner-exports": ["video/users/"]}
    infos = [entry["data"] for entries in json.loads((synthesized.outdir / "pimpact-multi-personalize.metadata.json").read_text()).values()
             for entry in entries if entry["type"] == "aws:cdk:info"]
    [printed] = [text for text in infos if "example-partner-exports" in text]
    assert json.loads(printed[printed.index("{"):]) == external_bucket_policies(load_config(SYNTH_CONFIGS["multi"]))["example-partner-exports"]


def test_the_command_prints_the_policy_with_the_account():
    run = subprocess.run([sys.executable, "-m", "stacks.bucket_access", "config/multi-group.yaml", "--account", "111122223333"],
                         cwd=REPO, capture_output=True, text=True, check=True)
    header, body = run.stdout.split("\n", 1)
    assert header == "# s3://example-partner-exports: bucket policy for its owner to add"
    assert json.loads(body)["Statement"][0]["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
