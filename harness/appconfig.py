"""AppConfig behind CloudFormation's native AWS::AppConfig::* types: create, update in place,
delete (CloudFormation replaces a resource on a create-only change first: harness/schemas.py).

The fake keeps what AppConfig holds: applications, environments, profiles, hosted versions
(immutable, numbered per profile) and deployments, and answers what an application would read
from an environment (the last deployed version of a profile). A FeatureFlags version is checked as
AppConfig checks it: against the published AWS.AppConfig.FeatureFlags schema
(appconfig_feature_flags.schema.json, copied from the user guide's "Understanding the type
reference for AWS.AppConfig.FeatureFlags") and the rule that the default variant is last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from config.feature_flags import variant_order_problems

PREFIX = "AWS::AppConfig::"
FLAG_SCHEMA = Path(__file__).with_name("appconfig_feature_flags.schema.json")
# The identifier each type's create returns (its GetAtt attribute; physical id alike).
ID_ATTRIBUTE = {
    "Application": "ApplicationId",
    "Environment": "EnvironmentId",
    "ConfigurationProfile": "ConfigurationProfileId",
    "HostedConfigurationVersion": "VersionNumber",
    "DeploymentStrategy": "Id",
    "Deployment": "DeploymentNumber",
}


class AppConfigRefused(Exception):
    pass


@cache
def _flag_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(FLAG_SCHEMA.read_text()))


def flag_document_problems(document: Any) -> list[str]:
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}" for e in _flag_validator().iter_errors(document)]
    return problems + variant_order_problems(document) if not problems else problems


@dataclass
class FakeAppConfig:
    objects: dict[tuple[str, str], dict] = field(default_factory=dict)  # (type, id) → properties
    versions: dict[str, list[str]] = field(default_factory=dict)  # profile id → version ids
    deployed: dict[tuple[str, str], str] = field(default_factory=dict)  # (environment id, profile id) → version id
    numbered: dict[str, int] = field(default_factory=dict)  # profile id → last version number given
    refuse_content: str = ""  # a scenario's injected fault: a hosted version whose content holds this is refused
    _ids: int = 0

    def _new_id(self) -> str:
        self._ids += 1
        return f"sim{self._ids:04d}"

    def _need(self, kind: str, identifier: str) -> dict:
        found = self.objects.get((kind, identifier))
        if found is None:
            raise AppConfigRefused(f"ResourceNotFoundException: {kind} {identifier} does not exist")
        return found

    # --- the native types --------------------------------------------------------------------

    def provision(self, kind: str, properties: Mapping, old_physical: str | None) -> tuple[str, dict]:
        """Create, or update in place (CloudFormation replaces on a create-only change before this:
        harness/schemas.py)."""
        short = kind.removeprefix(PREFIX)
        if old_physical is not None:
            self.objects[(short, old_physical)] = dict(properties)
            return old_physical, {ID_ATTRIBUTE[short]: old_physical.rsplit("/", 1)[-1]}
        return self._create(short, properties)

    def _create(self, short: str, properties: Mapping) -> tuple[str, dict]:
        if short not in ("Application", "DeploymentStrategy"):
            self._need("Application", properties["ApplicationId"])
        if short == "HostedConfigurationVersion" and self.refuse_content and self.refuse_content in properties["Content"]:
            raise AppConfigRefused(f"BadRequestException: the content is refused (injected: {self.refuse_content!r})")
        if short == "HostedConfigurationVersion":
            profile = self._need("ConfigurationProfile", properties["ConfigurationProfileId"])
            if profile.get("Type") == "AWS.AppConfig.FeatureFlags":
                try:
                    document = json.loads(properties["Content"])
                except ValueError as exc:
                    raise AppConfigRefused(f"BadRequestException: the content is not JSON ({exc})") from None
                problems = flag_document_problems(document)
                if problems:
                    raise AppConfigRefused("BadRequestException: invalid feature flags: " + "; ".join(problems[:5]))
            # Numbered per profile, never reused; the physical id names the profile too.
            profile_id = properties["ConfigurationProfileId"]
            self.numbered[profile_id] = number = self.numbered.get(profile_id, 0) + 1
            self.versions.setdefault(profile_id, []).append(str(number))
            identifier = f"{profile_id}/{number}"
            self.objects[(short, identifier)] = dict(properties)
            return identifier, {ID_ATTRIBUTE[short]: str(number)}
        else:
            identifier = self._new_id()
        if short == "Deployment":
            self._need("Environment", properties["EnvironmentId"])
            self._need("DeploymentStrategy", properties["DeploymentStrategyId"])
            version = str(properties["ConfigurationVersion"])
            if version not in self.versions.get(properties["ConfigurationProfileId"], []):
                raise AppConfigRefused(f"ResourceNotFoundException: version {version} of profile {properties['ConfigurationProfileId']} does not exist")
            self.deployed[(properties["EnvironmentId"], properties["ConfigurationProfileId"])] = version
        self.objects[(short, identifier)] = dict(properties)
        return identifier, {ID_ATTRIBUTE[short]: identifier}

    def delete(self, kind: str, physical: str) -> None:
        short = kind.removeprefix(PREFIX)
        properties = self.objects.pop((short, physical), None)
        if properties is None or short == "Deployment":
            return  # deleting a Deployment resource leaves what it deployed in place
        if short == "HostedConfigurationVersion":
            self.versions[properties["ConfigurationProfileId"]].remove(physical.rsplit("/", 1)[-1])
        if short == "Application":
            children = [k for k, p in self.objects.items() if p.get("ApplicationId") == physical and k[0] != "Deployment"]
            if children:
                self.objects[(short, physical)] = properties
                raise AppConfigRefused(f"BadRequestException: application {physical} still has {children}")

    # --- what applications read ----------------------------------------------------------------

    def deployed_document(self, application: str, environment: str, profile: str) -> dict | None:
        """The flags an application reads from application/environment/profile (names)."""
        ids = {kind: next((i for (k, i), p in self.objects.items() if k == kind and p.get("Name") == name), None)
               for kind, name in (("Application", application), ("Environment", environment), ("ConfigurationProfile", profile))}
        version = self.deployed.get((ids["Environment"], ids["ConfigurationProfile"]))
        if version is None:
            return None
        properties = self.objects.get(("HostedConfigurationVersion", f"{ids['ConfigurationProfile']}/{version}"))
        return json.loads(properties["Content"]) if properties is not None else None

    def left(self) -> list[str]:
        return sorted(f"appconfig {kind} {identifier}" for kind, identifier in self.objects if kind != "Deployment")
