"""One synthesis path: the pinned CDK CLI (`make synth`, which runs app.py) gives the same
templates and the same cdk-nag acknowledgements for the default config as the session's
synthesis (harness/synthesis.py) that every template test asserts on.

The CLI synthesizes in its own process while the other tests run on the other worker.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.iam_wildcards import count as count_wildcards
from stacks.nag import acknowledged_rules

REPO = Path(__file__).resolve().parents[1]
MAX_ACKNOWLEDGED_DEFAULT = 8  # the bound for the default config, on every path
STAGING_PATH_KEYS = ("aws:asset:path",)  # where an asset was staged: the only allowed difference


def without_staging_paths(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ("<staged>" if k in STAGING_PATH_KEYS else without_staging_paths(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [without_staging_paths(v) for v in node]
    return node


def templates(outdir: Path) -> dict[str, Any]:
    return {p.name: without_staging_paths(json.loads(p.read_text())) for p in sorted(outdir.glob("*.template.json"))}


def test_cli_and_the_session_synthesize_identical_templates(tmp_path, synthesized):
    package = json.loads((REPO / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"].startswith("2.")  # 3.x cannot read aws-cdk-lib 2 assemblies
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_") and k != "PERSONALIZE_IMPACT_CONFIG"}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    # CDK's built-in template validation reads templates and writes none; the session's synthesis
    # runs it on these same templates (asserted equal below), so this run skips its ~3 s start-up.
    env["CDK_VALIDATION"] = "false"
    cli_out = tmp_path / "cli"
    run = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "-c", "config=config/default.yaml", "-o", str(cli_out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, f"cli: {run.stdout}{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    # The CLI's run of app.py names the config and environment it synthesized, in one line.
    assert "config/default.yaml: environment 'pimpact-default', 3 stacks" in run.stderr, run.stderr

    default_stacks = set(synthesized.stacks["default"].values())
    from_cli = templates(cli_out)
    from_session = {name: template for name, template in templates(synthesized.outdir).items() if name.removesuffix(".template.json") in default_stacks}
    assert sorted(from_cli) == sorted(from_session) == [f"pimpact-default-{role}.template.json" for role in ("dashboard", "personalize", "storage")]
    for name in from_cli:
        assert from_session[name] == from_cli[name], f"{name} differs between `cdk synth` and the session's synthesis"
    # The CLI's path metadata is on (cdk.json has no `pathMetadata: false`), so it is on in every synth.
    storage = from_cli["pimpact-default-storage.template.json"]
    assert storage["Resources"]["Data666C94C7"]["Metadata"]["aws:cdk:path"] == "pimpact-default-storage/Data/Resource"

    acknowledged = {"cli": acknowledged_rules(cli_out),
                    "session": [rule for rule in acknowledged_rules(synthesized.outdir) if rule.split(":", 1)[0].split("/", 1)[0] in default_stacks]}
    assert acknowledged["cli"] == acknowledged["session"]
    assert 0 < len(acknowledged["cli"]) <= MAX_ACKNOWLEDGED_DEFAULT, acknowledged["cli"]
    assert not [rule for rule in acknowledged["cli"] if "AwsSolutions-SF2" in rule]  # the waiters are traced instead

    # The README's least-privilege figure, recounted: unconditioned wildcard statements / all.
    wildcards = count_wildcards(cli_out)
    assert wildcards == {name: counted for name, counted in count_wildcards(synthesized.outdir).items() if name in default_stacks}
    assert wildcards["pimpact-default-storage"] == (0, 0) and wildcards["pimpact-default-dashboard"] == (0, 0)
    unconditioned, statements = wildcards["pimpact-default-personalize"]
    # Each handler role's grant on Personalize resources named under the environment's prefix
    # (cleanup and rollbacks must reach earlier configs' resources) is a wildcard by design, and
    # so is "*" for the Personalize actions the Service Authorization Reference gives no resource
    # type (IAM authorizes them against "*" only); both counted apart. The rest: bucket prefixes
    # and log delivery of the Provider waiters.
    template = json.loads((cli_out / "pimpact-default-personalize.template.json").read_text())
    prefix_grants, resource_less_grants = personalize_wildcard_grants(template)
    # 4 Providers x (on_event, is_complete) + the poll step; the teardown waits' is_complete
    # lists only (its on_event calls nothing).
    assert prefix_grants == 9, prefix_grants
    # The attribution's is_complete (ListMetricAttributionMetrics), the recommender's on_event
    # (TagResource, UntagResource), the teardown waits' is_complete (ListRecommenders, ListDatasetImportJobs).
    assert resource_less_grants == 3, resource_less_grants
    assert unconditioned - prefix_grants - resource_less_grants <= 10 and statements > 20, wildcards


def personalize_wildcard_grants(template: dict) -> tuple[int, int]:
    """Statements of Personalize actions only whose one resource is the environment's prefix
    `arn:...:personalize:<region>:<account>:*/<name>-*`, and those whose one resource is "*"."""
    from stacks.nag import flatten_reference

    prefixed = resource_less = 0
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            texts = [flatten_reference(r) for r in resources]
            if len(texts) != 1 or not all(a.startswith("personalize:") for a in actions):
                continue
            prefixed += texts[0].endswith(":*/pimpact-default-*")
            resource_less += texts[0] == "*"
    return prefixed, resource_less


def test_wildcard_count_reads_statements_like_cdk_nag():
    from benchmarks.iam_wildcards import is_unconditioned_wildcard

    joined = {"Fn::Join": ["", [{"Fn::GetAtt": ["Data", "Arn"]}, "/imports/*"]]}
    assert is_unconditioned_wildcard({"Effect": "Allow", "Action": "s3:GetObject", "Resource": joined})
    assert is_unconditioned_wildcard({"Effect": "Allow", "Action": ["a:B"], "Resource": ["arn:x", "*"]})
    assert not is_unconditioned_wildcard({"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": "AWS/Personalize"}}})
    assert not is_unconditioned_wildcard({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    assert not is_unconditioned_wildcard({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": {"Fn::GetAtt": ["Data", "Arn"]}})
