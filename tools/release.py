"""Build a self-contained, versioned release for accounts that never run the CDK app.

    .venv/bin/python -m tools.release --version 1.2.0 --asset-bucket my-org-cfn-assets \\
        [--config config/default.yaml] [--out dist]

Synthesizes the config's stacks with CDK's `CliCredentialsStackSynthesizer` pointed at the
organization's asset buckets (`<asset-bucket>-<region>`, one per region, key prefix
`personalize-impact/<version>/`), so templates reference no CDK bootstrap bucket or role and
carry per-account settings as parameters (see stacks/deployment.py). The release folder holds:

    templates/<stack>.template.json   deploy in the order listed in release.json
    assets/<bucket key>               file assets, laid out exactly as they go into each bucket
    release.json                      version, stacks, parameters, assets with SHA-256
    publish-assets.sh                 copies assets/ into <asset-bucket>-<region> for given regions,
                                      only if the bucket belongs to the given account
                                      (ASSET_BUCKET_OWNER or --owner; --expected-bucket-owner)
    stackset-example.yaml             StackSets (service-managed) deploying to an OU
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEY_PREFIX = "personalize-impact"
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,40}$")  # room for "-<region>" within 63
VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$")
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # fixed, so the same source gives byte-identical zips

COST_SWITCHES = ("RecommendersEnabled", "CampaignsEnabled")


class ReleaseError(Exception):
    pass


@dataclass(frozen=True)
class ReleaseRequest:
    config_path: Path
    version: str
    asset_bucket: str
    out: Path

    def validate(self) -> None:
        if not VERSION_PATTERN.match(self.version):
            raise ReleaseError(f"--version {self.version!r}: use letters, digits, '.', '+', '_' or '-' (e.g. 1.2.0)")
        if not BUCKET_PATTERN.match(self.asset_bucket):
            raise ReleaseError(
                f"--asset-bucket {self.asset_bucket!r}: give the bucket name without the region suffix "
                "(lower-case, digits, '.', '-', at most 41 characters); the release uses <name>-<region>"
            )

    @property
    def key_prefix(self) -> str:
        return f"{KEY_PREFIX}/{self.version}/"

    @property
    def folder(self) -> Path:
        return self.out / f"personalize-impact-{self.version}"


def deterministic_zip(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(source)), ZIP_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def display_path(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def release_synthesizer(asset_bucket: str, key_prefix: str):
    """No bootstrap roles or bucket: the organization's bucket in each region holds the assets."""
    import aws_cdk as cdk

    return cdk.CliCredentialsStackSynthesizer(file_assets_bucket_name=f"{asset_bucket}-${{AWS::Region}}", bucket_prefix=key_prefix)


def synthesize(request: ReleaseRequest, assembly: Path):
    """Synthesize the parameterized stacks; returns the config and the stack names in deploy order."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.path.insert(0, str(REPO))
    from stacks.app_builder import add_environment, enable_nag, new_app
    from config import load_config, parse_config
    from stacks.deployment import NAME_PREFIX_MAX

    config = load_config(request.config_path, choose_with="--config PATH (make release CONFIG=PATH)")
    # NamePrefix may be up to 20 characters in any account: names must fit Personalize's limits then too.
    longest = {**config.model_dump(by_alias=True, mode="json"), "name": "n" * NAME_PREFIX_MAX}
    parse_config(longest, f"{request.config_path} with a {NAME_PREFIX_MAX}-character NamePrefix")

    app = new_app(outdir=str(assembly))
    stacks = add_environment(app, config, synthesizer=lambda: release_synthesizer(request.asset_bucket, request.key_prefix), parameterized=True)
    enable_nag(app)
    app.synth()
    return config, [stack.stack_name for stack in stacks]


def collect_assets(assembly: Path, stack_names: list[str], request: ReleaseRequest, assets_dir: Path) -> list[dict]:
    """Copy (zipping directories) every file asset the templates reference to its bucket key."""
    assets: dict[str, dict] = {}
    for name in stack_names:
        manifest = json.loads((assembly / f"{name}.assets.json").read_text())
        for asset_hash, asset in manifest.get("files", {}).items():
            source = asset["source"]
            if source["path"].endswith(".template.json"):
                continue  # templates travel in templates/, not as assets
            [destination] = {(d["bucketName"], d["objectKey"]) for d in asset["destinations"].values()}
            bucket, key = destination
            if bucket != f"{request.asset_bucket}-${{AWS::Region}}":
                raise ReleaseError(f"asset {asset_hash} of {name} goes to {bucket}, not the release bucket")
            target = assets_dir / key
            if key not in assets:
                origin = assembly / source["path"]
                if source.get("packaging") == "zip":
                    deterministic_zip(origin, target)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(origin, target)
                assets[key] = {"key": key, "assetHash": asset_hash, "sha256": sha256(target), "bytes": target.stat().st_size, "stacks": []}
            assets[key]["stacks"].append(name)
    return sorted(assets.values(), key=lambda a: a["key"])


def stackset_example(request: ReleaseRequest, stack_names: list[str], parameters: dict[str, dict]) -> str:
    """An AWS::CloudFormation::StackSet per stack, service-managed, auto-deployed to an OU."""
    # The cost switches of the personalize stack (no recommender / no campaign: no hourly cost).
    switches = [name for name in COST_SWITCHES if name in parameters]
    lines = _stackset_parameters(request, parameters["NamePrefix"]["Default"], switches) + ["Resources:"]
    previous = None
    for name in stack_names:
        logical = "".join(part.title() for part in re.split(r"[^A-Za-z0-9]", name.split("-")[-1])) + "StackSet"
        lines += _stackset_resource(name, logical, previous, switches if name.endswith("-personalize") else [])
        previous = logical
    return "\n".join(lines) + "\n"


def _stackset_parameters(request: ReleaseRequest, name_prefix: str, switches: list[str]) -> list[str]:
    lines = [
        "AWSTemplateFormatVersion: '2010-09-09'",
        f"Description: Deploys personalize-impact {request.version} to every account of an organizational unit (service-managed StackSets).",
        "Parameters:",
        "  OrganizationalUnitId:",
        "    Type: String",
        "    AllowedPattern: '^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$'",
        "    Description: OU (or root) whose accounts receive the stacks.",
        "  Regions:",
        "    Type: CommaDelimitedList",
        "    Default: eu-west-1",
        f"    Description: Regions to deploy to; each needs the assets published to {request.asset_bucket}-<region>.",
        "  TemplateBucketUrl:",
        "    Type: String",
        f"    Description: HTTPS URL of the folder holding the release's templates/, e.g. https://{request.asset_bucket}-eu-west-1.s3.eu-west-1.amazonaws.com/{request.key_prefix}templates",
        "    AllowedPattern: '^https://.+[^/]$'",
        "  NamePrefix:",
        "    Type: String",
        f"    Default: {name_prefix}",
        "    AllowedPattern: '^[a-z0-9][a-z0-9-]*$'",
        "    MaxLength: 20",
    ]
    for switch in switches:
        lines += [
            f"  {switch}:",
            "    Type: String",
            "    AllowedValues: ['true', 'false']",
            "    Default: 'true'",
        ]
    return lines


def _stackset_resource(name: str, logical: str, previous: str | None, switches: list[str]) -> list[str]:
    """The StackSet of one stack, after the previous one; `switches` are passed on to it."""
    lines = [
        f"  {logical}:",
        "    Type: AWS::CloudFormation::StackSet",
    ]
    if previous:
        lines.append(f"    DependsOn: {previous}")
    lines += [
        "    Properties:",
        f"      StackSetName: !Sub '${{NamePrefix}}-{name.split('-')[-1]}'",
        "      PermissionModel: SERVICE_MANAGED",
        "      AutoDeployment:",
        "        Enabled: true",
        "        RetainStacksOnAccountRemoval: false",
        "      Capabilities: [CAPABILITY_IAM, CAPABILITY_NAMED_IAM]",
        "      CallAs: SELF",
        "      ManagedExecution:",
        "        Active: true",
        "      OperationPreferences:",
        "        FailureToleranceCount: 0",
        "        MaxConcurrentCount: 5",
        "        RegionConcurrencyType: PARALLEL",
        f"      TemplateURL: !Sub '${{TemplateBucketUrl}}/{name}.template.json'",
        "      Parameters:",
        "        - ParameterKey: NamePrefix",
        "          ParameterValue: !Ref NamePrefix",
    ]
    for switch in switches:
        lines += [
            f"        - ParameterKey: {switch}",
            f"          ParameterValue: !Ref {switch}",
        ]
    return lines + [
        "      StackInstancesGroup:",
        "        - DeploymentTargets:",
        "            OrganizationalUnitIds: [!Ref OrganizationalUnitId]",
        "          Regions: !Ref Regions",
    ]


PUBLISH_SCRIPT = """#!/usr/bin/env bash
# Copies this release's assets into {bucket}-<region> for every region given.
#
#   ASSET_BUCKET_OWNER=111122223333 ./publish-assets.sh eu-west-1 us-east-1 ...
#   ./publish-assets.sh --owner 111122223333 eu-west-1 us-east-1 ...
#
# The owner is the account that created {bucket}-<region> in every region beforehand. Every copy
# passes it as --expected-bucket-owner, so S3 refuses the upload when a bucket of that name
# belongs to anyone else: the templates load Lambda code from that bucket by name.
# Needs the AWS CLI and s3:PutObject on the buckets.
set -euo pipefail
cd "$(dirname "$0")"
owner="${{ASSET_BUCKET_OWNER:-}}"
if [ "${{1:-}}" = "--owner" ]; then
  owner="${{2:-}}"
  shift 2 || true
fi
usage="usage: ASSET_BUCKET_OWNER=ACCOUNT_ID $0 REGION [REGION ...]  (or: $0 --owner ACCOUNT_ID REGION ...)"
[[ "$owner" =~ ^[0-9]{{12}}$ ]] || {{ echo "$usage: the 12-digit account id that owns the asset buckets is required" >&2; exit 2; }}
[ "$#" -gt 0 ] || {{ echo "$usage" >&2; exit 2; }}
for region in "$@"; do
  aws s3 cp --recursive --region "$region" --expected-bucket-owner "$owner" assets/ "s3://{bucket}-$region/"
  aws s3 cp --recursive --region "$region" --expected-bucket-owner "$owner" templates/ "s3://{bucket}-$region/{prefix}templates/"
done
"""


def build_release(request: ReleaseRequest) -> Path:
    request.validate()
    folder = request.folder
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "templates").mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        assembly = Path(scratch) / "cdk.out"
        config, stack_names = synthesize(request, assembly)
        parameters: dict[str, dict] = {}
        for name in stack_names:
            template = json.loads((assembly / f"{name}.template.json").read_text())
            parameters.update(template.get("Parameters", {}))
            shutil.copyfile(assembly / f"{name}.template.json", folder / "templates" / f"{name}.template.json")
        assets = collect_assets(assembly, stack_names, request, folder / "assets")
    release = {
        "product": "personalize-impact",
        "version": request.version,
        "config": display_path(request.config_path),
        "configName": config.name,
        "assetBucket": f"{request.asset_bucket}-<region>",
        "keyPrefix": request.key_prefix,
        "stacks": [{"name": n, "template": f"templates/{n}.template.json", "sha256": sha256(folder / "templates" / f"{n}.template.json")} for n in stack_names],
        "parameters": {k: {f: v for f, v in p.items() if f in ("Type", "Default", "Description", "AllowedValues")} for k, p in sorted(parameters.items())},
        "assets": assets,
    }
    (folder / "release.json").write_text(json.dumps(release, indent=2) + "\n")
    script = folder / "publish-assets.sh"
    script.write_text(PUBLISH_SCRIPT.format(bucket=request.asset_bucket, prefix=request.key_prefix))
    script.chmod(0o755)
    (folder / "stackset-example.yaml").write_text(stackset_example(request, stack_names, parameters))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", required=True, help="release version, e.g. 1.2.0 (part of every asset key)")
    parser.add_argument("--asset-bucket", required=True, help="asset bucket name WITHOUT the region; one bucket <name>-<region> per region")
    parser.add_argument("--config", default=str(REPO / "config" / "default.yaml"), type=Path)
    parser.add_argument("--out", default=str(REPO / "dist"), type=Path)
    args = parser.parse_args(argv)
    from config import ConfigError

    try:
        folder = build_release(ReleaseRequest(args.config, args.version, args.asset_bucket, args.out))
    except (ReleaseError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"release written to {folder}")
    from config import load_config
    from stacks.cost import estimate, summary

    # What each account of the StackSet bills at the config's floors, and what the switches save.
    print(f"{display_path(args.config)}: per account, {summary(estimate(load_config(args.config)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
