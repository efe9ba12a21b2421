"""CDK's built-in CloudFormation validation, with its rule engine built on a second core.

With `builtinCloudFormationValidation` on, the App builds CDK's `CloudFormationValidatePlugin`
inside its jsii process when the templates are written, and the synth waits for its rule engine
(1.5 to 2 s, on the critical path of every synth). Here the same plugin class, from
`node_modules/aws-cdk-lib` at the version the app runs (package.json pins it), runs in a side
process (template_validation.js) started with the app, while the app builds its constructs; the
app registers a plugin that hands the templates to it. The rules, their exclusions and severities
are CDK's own code, not a copy, and the plugin carries CDK's plugin name, so CDK treats its
findings exactly as the built-in plugin's: warnings unless `@aws-cdk/core:validateAgainstDefaultRules`
is set, `Validations.acknowledge` applies, the same validation-report.json. Where node_modules
lacks that aws-cdk-lib version, the App validates in-process as CDK does by default.
"""

from __future__ import annotations

import atexit
import json
import subprocess
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import IO, Any, cast

import aws_cdk as cdk
import jsii

REPOSITORY = Path(__file__).resolve().parents[1]
SIDE_PROCESS_SCRIPT = Path(__file__).with_name("template_validation.js")
# V8 compiles the engine's 8.9 MB of WebAssembly with its baseline compiler only, on one thread:
# the same code, compiled by the tier that is ready sooner. Building the engine and validating
# the custom-solutions templates took 2.8 s and 4.9 CPU seconds with node's defaults, 1.2 s and
# 1.2 CPU seconds with these flags (node 20, 2 cores), so the side process barely competes with
# the app for a core.
NODE_FLAGS = ("--single-threaded", "--liftoff-only")


def side_process_runs(repository: Path = REPOSITORY) -> bool:
    """Whether `repository`'s node_modules holds the aws-cdk-lib (npm) the app runs (PyPI)."""
    manifest = repository / "node_modules" / "aws-cdk-lib" / "package.json"
    return manifest.is_file() and json.loads(manifest.read_text()).get("version") == installed_version("aws-cdk-lib")


class ValidationProcess:
    """The side process: started once per Python process and shared by every app it
    synthesizes, as CDK shares one plugin instance per jsii process."""

    _shared: ValidationProcess | None = None

    def __init__(self, repository: Path = REPOSITORY) -> None:
        self._process = subprocess.Popen(["node", *NODE_FLAGS, str(SIDE_PROCESS_SCRIPT), str(repository)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._plugin: dict[str, Any] | None = None
        atexit.register(self.close)

    @classmethod
    def shared(cls) -> ValidationProcess:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def _answer(self) -> dict[str, Any]:
        line = cast(IO[str], self._process.stdout).readline()
        if not line:
            raise RuntimeError(f"{SIDE_PROCESS_SCRIPT.name} ended without an answer (exit code {self._process.wait()})")
        answer = cast(dict[str, Any], json.loads(line))
        if "error" in answer:
            raise RuntimeError(f"{SIDE_PROCESS_SCRIPT.name}: {answer['error']}")
        return answer

    def plugin(self) -> dict[str, Any]:
        """CDK's plugin's {name, version, ruleIds}: the first line the process writes, once its
        engine is built (the first call waits for it)."""
        if self._plugin is None:
            self._plugin = self._answer()
        return self._plugin

    def validate(self, stack_templates: list[dict[str, str]]) -> dict[str, Any]:
        """What CDK's plugin's `validate` returns for these stacks (JSON)."""
        self.plugin()
        stdin = cast(IO[str], self._process.stdin)
        stdin.write(json.dumps({"stackTemplates": stack_templates}) + "\n")
        stdin.flush()
        return cast(dict[str, Any], self._answer()["report"])

    def close(self) -> None:
        """Nothing is pending between calls, so stopping it loses nothing."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def stack_template(stack: cdk.PolicyValidationStack) -> dict[str, str]:
    """The fields CDK's plugin reads; an unknown account or region stays absent, as in-process."""
    fields = {"stackConstructPath": stack.stack_construct_path, "templatePath": stack.template_path, "accountId": stack.account_id, "region": stack.region}
    return {key: value for key, value in fields.items() if value is not None}


def policy_report(report: dict[str, Any]) -> cdk.PolicyValidationPluginReport:
    return cdk.PolicyValidationPluginReport(
        success=report["success"],
        violations=[
            cdk.PolicyViolation(
                rule_name=violation["ruleName"],
                description=violation["description"],
                severity=violation.get("severity"),
                fix=violation.get("fix"),
                rule_metadata=violation.get("ruleMetadata"),
                violating_resources=[
                    cdk.PolicyViolatingResource(
                        resource_logical_id=resource.get("resourceLogicalId"),
                        construct_path=resource.get("constructPath"),
                        template_path=resource.get("templatePath"),
                        locations=resource["locations"],
                    )
                    for resource in violation["violatingResources"]
                ],
            )
            for violation in report["violations"]
        ],
    )


@jsii.implements(cdk.IPolicyValidationPlugin)
class CloudFormationValidation:
    """CDK's CloudFormationValidatePlugin, run by the side process."""

    def __init__(self, process: ValidationProcess) -> None:
        self._process = process

    @property
    def name(self) -> str:
        return cast(str, self._process.plugin()["name"])

    @property
    def version(self) -> str:
        return cast(str, self._process.plugin()["version"])

    @property
    def rule_ids(self) -> list[str]:
        return cast(list[str], self._process.plugin()["ruleIds"])

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        return policy_report(self._process.validate([stack_template(stack) for stack in context.stack_templates]))


def cloudformation_validated_app(**props: Any) -> cdk.App:
    """A `cdk.App(**props)` whose templates CDK's CloudFormation validation checks: in the side
    process where node_modules has the app's aws-cdk-lib, else in-process (CDK's default)."""
    if not side_process_runs():
        return cdk.App(**props, builtin_cloud_formation_validation=True)
    process = ValidationProcess.shared()  # started first: its engine builds while the app does
    app = cdk.App(**props, builtin_cloud_formation_validation=False)
    cdk.Validations.of(app).add_plugins(CloudFormationValidation(process))
    return app
