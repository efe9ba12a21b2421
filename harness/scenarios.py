"""The scenarios: steps over config variants, failures injected, and what must hold after."""

from __future__ import annotations

import copy
import importlib
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks.bucket_access import EXTERNAL_BUCKETS_METADATA, external_bucket_policy
from config import parse_config
from config.experiments import ENVIRONMENT_NAME, application_name, profile_name
from config.feature_flags import evaluate
from stacks.iam_reference import as_list
from harness.aws import RETAINED, Aws, FrameworkBridge
from harness.cloudformation import Outcome, Stack, apply_conditions, dependencies
from harness.fake_service import (StackFakePersonalize, Timings, attribution_order_problems, billable,
                                          stale_import_problems)
from harness.iam import Iam
from harness.intrinsics import ACCOUNT
from harness.kernel import Clock, Kernel, drain
from harness.variants import CHANGED_FILTER, DEPLOYED_WHOLE, load_template, raw_config


StepCheck = Callable[[StackFakePersonalize], list[str]]


@dataclass
class Step:
    action: str                 # deploy | destroy (the personalize stack) | deploy-all | destroy-all | record-events | wait
    variant: str = ""
    expect: str = ""            # the stack status this step must end in
    minutes: float = 0          # deploy: cancelled this many minutes in; wait: how long
    events: int = 0
    reason: str = ""            # a failure expected by the scenario must carry this text
    check: StepCheck | None = None  # what must hold in Personalize after the step
    check_aws: Callable[[Aws], list[str]] | None = None  # what must hold elsewhere (AppConfig) after it
    edit: Callable[[dict], dict] | None = None  # deploy: the template as an earlier release of the app had it
    parameters: dict[str, str] = field(default_factory=dict)  # each stack gets those its template declares


def deploy(variant: str, expect: str = "", cancel_after: float = 0, reason: str = "", check: Any = None, edit: Any = None,
           parameters: dict[str, str] | None = None, check_aws: Any = None) -> Step:
    return Step("deploy", variant, expect, minutes=cancel_after, reason=reason, check=check, edit=edit, parameters=parameters or {},
                check_aws=check_aws)


def wait(minutes: float, check: StepCheck | None = None) -> Step:
    return Step("wait", minutes=minutes, check=check)


def destroy() -> Step:
    return Step("destroy", expect="DELETE_COMPLETE")


def deploy_all(variant: str, expect: str = "", reason: str = "", check: Any = None, parameters: dict[str, str] | None = None) -> Step:
    """`cdk deploy --all`: storage, personalize, dashboard in order, stopping at the first failure."""
    if variant not in DEPLOYED_WHOLE:
        raise ValueError(f"deploy_all({variant!r}): add the variant to harness.variants.DEPLOYED_WHOLE, or its dashboard stack is not synthesized")
    return Step("deploy-all", variant, expect, reason=reason, check=check, parameters=parameters or {})


def destroy_all() -> Step:
    """`cdk destroy --all`: dashboard, personalize, storage."""
    return Step("destroy-all", expect="DELETE_COMPLETE")


@dataclass
class Scenario:
    name: str
    steps: list[Step]
    timings: Timings = field(default_factory=Timings)
    setup: Callable[[Aws], None] | None = None
    check: Callable[[Aws, list[Outcome]], list[str]] | None = None
    about: str = ""
    # Seconds before a policy CloudFormation wrote is in force (IAM is eventually consistent).
    iam_propagation_seconds: float = 0
    # The owners of the config's `externalBuckets` added the bucket policy synthesis printed.
    external_owners_comply: bool = True

    @property
    def interrupted(self) -> bool:
        """A step fails or is cancelled: what was in progress at that instant decides the rollback."""
        return any("ROLLBACK" in step.expect or step.minutes and step.action == "deploy" for step in self.steps)


def _fail_creation(kind: str, reason: str) -> Callable[[Aws], None]:
    return lambda aws: aws.personalize.fail_next_creation(kind, reason)


def _faults(**values: int) -> Callable[[Aws], None]:
    def setup(aws: Aws) -> None:
        for key, value in values.items():
            setattr(aws.faults, key, value)
    return setup


def _events_survive(aws: Aws, outcomes: list[Outcome]) -> list[str]:
    recorded = sum(aws.personalize.events_recorded.values())
    exported = sum(aws.personalize.exported_events.values())
    if exported < recorded:
        return [f"{recorded} events were recorded with PutEvents, {exported} survive the destroy (RETAIN config)"]
    return []


# --- what a step must have changed in Personalize (not only the stack status) ----------------------


def _recommenders(fake: StackFakePersonalize) -> list:
    fake._settle()
    return [state for state in fake.recommenders.values()]


def _all_recommenders(status: str) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        return [f"{r.resource.arn.rsplit('/', 1)[-1]} is {r.resource.status}, not {status}"
                for r in _recommenders(fake) if r.resource.status != status]
    return check


def _recipes(*expected: str) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        present = sorted(r.resource.attributes["recipeArn"].rsplit("/", 1)[-1] for r in _recommenders(fake))
        return [] if present == sorted(expected) else [f"recommenders with recipes {present}, expected {sorted(expected)}"]
    return check


def _min_tps(name_part: str, value: int) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        found = [r.resource.attributes["recommenderConfig"].get("minRecommendationRequestsPerSecond")
                 for r in _recommenders(fake) if name_part in r.resource.arn]
        return [] if found == [value] else [f"{name_part}: minRecommendationRequestsPerSecond {found}, expected [{value}]"]
    return check


def _tags(key: str, value: str) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        return [f"{r.resource.arn.rsplit('/', 1)[-1]} has tags {r.tags}, expected {key}={value}"
                for r in _recommenders(fake) if r.tags.get(key) != value]
    return check


def _metrics(*names: str) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        attributions = [r for r in fake.resources.values() if r.resource_type == "metric-attribution"]
        present = sorted(m["metricName"] for a in attributions for m in a.attributes["metrics"])
        return [] if present == sorted(names) else [f"attribution metrics {present}, expected {sorted(names)}"]
    return check


def _of_type(fake: StackFakePersonalize, resource_type: str) -> list:
    fake._settle()
    return [r for r in fake.resources.values() if r.resource_type == resource_type]


def _campaigns(**expected_tps: int) -> StepCheck:
    """Campaigns by config name (`top-picks`...) with their TPS; each serves an ACTIVE version of
    a live solution, the newest one of that solution."""
    def check(fake: StackFakePersonalize) -> list[str]:
        problems = []
        campaigns = {c.attributes["name"].rsplit("-ratings-", 1)[-1]: c for c in _of_type(fake, "campaign")}
        if sorted(campaigns) != sorted(expected_tps):
            problems.append(f"campaigns {sorted(campaigns)}, expected {sorted(expected_tps)}")
        for name, campaign in campaigns.items():
            served = fake.resources.get(campaign.attributes["solutionVersionArn"])
            if served is None or served.status != "ACTIVE":
                problems.append(f"campaign {name} serves {campaign.attributes['solutionVersionArn']}, which is not an ACTIVE version")
                continue
            newest = max((v for v in _of_type(fake, "solution-version") if v.attributes["solutionArn"] == served.attributes["solutionArn"]),
                         key=lambda v: v.created)
            if newest.arn != served.arn:
                problems.append(f"campaign {name} serves {served.arn}, not the newest version {newest.arn}")
            if name in expected_tps and campaign.attributes["minProvisionedTPS"] != expected_tps[name]:
                problems.append(f"campaign {name}: minProvisionedTPS {campaign.attributes['minProvisionedTPS']}, expected {expected_tps[name]}")
        return problems
    return check


def _solutions(**thresholds: str | None) -> StepCheck:
    """Solutions by config name with their eventValueThreshold, and the versions trained (total)."""
    def check(fake: StackFakePersonalize) -> list[str]:
        present = {s.attributes["name"].split("-ratings-", 1)[-1].rsplit("-", 1)[0]: (s.attributes.get("solutionConfig") or {}).get("eventValueThreshold")
                   for s in _of_type(fake, "solution")}
        return [] if present == thresholds else [f"solutions {present}, expected {thresholds}"]
    return check


def _versions_of(solution: str, count: int) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        owners = {s.arn for s in _of_type(fake, "solution") if f"-ratings-{solution}-" in s.attributes["name"]}
        versions = [v for v in _of_type(fake, "solution-version") if v.attributes["solutionArn"] in owners]
        return [] if len(versions) == count else [f"{solution}: {len(versions)} trained versions, expected {count}"]
    return check


def _all(*checks: StepCheck) -> StepCheck:
    return lambda fake: [problem for check in checks for problem in check(fake)]


AwsCheck = Callable[[Aws], list[str]]
SPLIT_USERS = 20_000  # users evaluated against a deployed flag: shares within 1.5 points of the weights


def _arms(experiment: str, **weights: int) -> AwsCheck:
    """What the application reads from the deployed flag, over many users: each arm's share is its
    weight, and every variant names the ARN (recommenders) and source it must use."""
    def check(aws: Aws) -> list[str]:
        config = parse_config(raw_config("experiments"))
        group = config.dataset_groups[0]
        document = aws.appconfig.deployed_document(application_name(config), ENVIRONMENT_NAME, profile_name(group))
        if document is None:
            return [f"no flags deployed for {group.name}"]
        answers = [evaluate(document, experiment, {"userId": f"user-{i}"}) for i in range(SPLIT_USERS)]
        shares = Counter(a["_variant"] for a in answers)
        problems = [f"{experiment}: {arm} gets {100 * shares[arm] / SPLIT_USERS:.1f} % of users, weight {weight}"
                    for arm, weight in weights.items() if abs(100 * shares[arm] / SPLIT_USERS - weight) > 1.5]
        problems += [f"{experiment}: users get {sorted(set(shares) - set(weights))}, not configured arms" for _ in [0] if set(shares) - set(weights)]
        for answer in {a["_variant"]: a for a in answers}.values():
            if answer["eventAttributionSource"] != answer["_variant"]:
                problems.append(f"{experiment}: variant {answer['_variant']} sends eventAttributionSource {answer['eventAttributionSource']}")
            if answer["_variant"] != "third_party_widget" and ":recommender/" not in answer.get("arn", ""):
                problems.append(f"{experiment}: variant {answer['_variant']} has no recommender ARN ({answer.get('arn')})")
        return problems
    return check


def _no_appconfig(aws: Aws) -> list[str]:
    return [f"still there without experiments: {', '.join(aws.appconfig.left())}"] if aws.appconfig.left() else []


def _all_aws(*checks: AwsCheck) -> AwsCheck:
    return lambda aws: [problem for check in checks for problem in check(aws)]


def _campaign_count(count: int) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        found = len(_of_type(fake, "campaign"))
        return [] if found == count else [f"{found} campaigns, expected {count}"]
    return check


def _filters(*expressions: str) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        found = sorted(f.attributes.get("filterExpression", "") for f in _of_type(fake, "filter"))
        return [] if found == sorted(expressions) else [f"filters {found}, expected {sorted(expressions)}"]
    return check


def _retained_buckets_reached(aws: Aws, outcomes: list[Outcome]) -> list[str]:
    """After destroy → redeploy → destroy of every stack: the second life imported from the
    bucket the first one retained, and only the two retained buckets are left in the account."""
    problems = []
    retained = sorted(name[0] for (kind, name), owner in aws.named.items() if owner == RETAINED and kind == "AWS::S3::Bucket")
    left = sorted(f"{kind} {'|'.join(name)} ({owner})" for (kind, name), owner in aws.named.items() if kind != "AWS::S3::Bucket" or owner != RETAINED)
    if len(retained) != 2:
        problems.append(f"retained buckets {retained}, expected the data and access-log buckets")
    if left:
        problems.append(f"named resources left after the last destroy: {left}")
    buckets = {params["dataSource"]["dataLocation"].removeprefix("s3://").split("/", 1)[0]
               for params in aws.personalize.params_of("CreateDatasetImportJob")}
    if not buckets or not buckets <= set(retained):
        problems.append(f"imports read from {sorted(buckets)}, not from the retained buckets {retained}")
    return problems


def _rolled_back_within(outcomes: list[Outcome], minutes: float) -> list[str]:
    first = outcomes[0] if outcomes else None
    if first is None or first.minutes <= minutes:
        return []
    return [f"the rollback ended {first.minutes:.0f} min after the deploy began, not within {minutes:.0f} (the failure waited for a timeout?)"]


def _slow_and_failing(*resources: tuple[str, str, float, str]) -> Callable[[Aws], None]:
    """(resource type, ARN part, minutes to create or 0 for the default, failure reason or "")."""
    def setup(aws: Aws) -> None:
        for kind, part, minutes, reason in resources:
            if minutes:
                aws.personalize.minutes_of[(kind, part)] = minutes
            if reason:
                aws.personalize.failing[(kind, part)] = reason
    return setup


def _no_call_after(operation_name: str, count: int) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        made = fake.count(operation_name)
        return [] if made <= count else [f"{operation_name} called {made} times, expected at most {count}"]
    return check


def _imported_from(prefix: str) -> StepCheck:
    def check(fake: StackFakePersonalize) -> list[str]:
        jobs = [j for j in _of_type(fake, "dataset-import-job") if j.attributes["dataSource"]["dataLocation"].startswith(prefix)]
        return [] if jobs and all(j.status == "ACTIVE" for j in jobs) else [f"no ACTIVE import job read {prefix}"]
    return check


def _resource_less_calls_made(aws: Aws, outcomes: list[Outcome]) -> list[str]:
    # The calls the reference authorizes against "*" only were made (and allowed).
    made = {name.split(":", 1)[1] for name in aws.calls}
    missing = {"ListMetricAttributionMetrics", "ListRecommenders", "TagResource", "UntagResource"} - made
    return [f"never called: {sorted(missing)}"] if missing else []


def _without_grant(*actions: str) -> Callable[[dict], dict]:
    """The template with `actions` granted nowhere (as a release of the app before they were added)."""
    def edit(template: dict) -> dict:
        edited = copy.deepcopy(template)
        for resource in edited["Resources"].values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            document = resource["Properties"]["PolicyDocument"]
            for statement in document["Statement"]:
                kept = [a for a in as_list(statement["Action"]) if a not in actions]
                statement["Action"] = kept
            document["Statement"] = [st for st in document["Statement"] if st["Action"]]
        return edited
    return edit


def _handler_outlived_propagation(aws: Aws, outcomes: list[Outcome]) -> list[str]:
    # A handler's own call (not the framework's Invoke) met a policy not yet in force, and the
    # deployment still completed: the lifecycle core's AccessDenied retry carried it.
    handler_calls = [d for d in aws.propagation_denials if not d.startswith("Invoke (framework")]
    return [] if handler_calls else ["no handler call met a policy not yet in force: the delay was not exercised"]


def _training_stopped(aws: Aws, outcomes: list[Outcome]) -> list[str]:
    stopped = aws.personalize.params_of("StopSolutionVersionCreation")
    return [] if stopped else ["no training was stopped: the rollback deleted solutions without stopping their trainings"]


SCENARIOS: list[Scenario] = [
    Scenario("default-create-destroy", about="config/default.yaml: create, then destroy", steps=[deploy("default"), destroy()]),
    Scenario("multi-group-create-destroy", about="config/multi-group.yaml (KMS, two groups, an INACTIVE recommender): create, destroy", steps=[deploy("multi"), destroy()]),
    Scenario("metric-change", about="a metric changed and one added, then back; destroy", steps=[deploy("default"), deploy("metric-changed", check=_metrics("countViews", "sumMargin", "revenue")),
                   deploy("default", check=_metrics("countViews", "sumMargin")), destroy()]),
    Scenario("s3-output-off-on", about="`metricAttribution.s3Output` off, then on again; destroy", steps=[deploy("default"), deploy("s3-output-off"), deploy("default"), destroy()]),
    Scenario("recipe-change", about="a recommender's recipe changed (replacement; the old one deleted in cleanup); destroy", steps=[deploy("default"), deploy("recipe-changed", check=_recipes("aws-ecomm-recommended-for-you", "aws-ecomm-popular-items-by-views")),
                   destroy()]),
    Scenario("recommender-removed", about="a recommender removed from the config; destroy", steps=[deploy("default"), deploy("recommender-removed", check=_recipes("aws-ecomm-recommended-for-you")), destroy()]),
    Scenario("dataset-group-removed", about="the multi config's second dataset group removed; destroy", steps=[deploy("multi"), deploy("group-removed"), destroy()]),
    Scenario("recommender-config-change", about="`recommenderConfig` changed (UpdateRecommender in place); destroy", steps=[deploy("default"), deploy("config-changed", check=_min_tps("recommended-for-you", 2)), destroy()]),
    Scenario("state-active-inactive-active", about="every recommender INACTIVE, then ACTIVE again; destroy", steps=[deploy("default"), deploy("inactive", check=_all_recommenders("INACTIVE")),
                   deploy("default", check=_all_recommenders("ACTIVE")), destroy()]),
    Scenario("import-change", about="interactions import location and version changed (a new import job); destroy", steps=[deploy("default"), deploy("import-changed"), destroy()]),
    Scenario("tag-change", about="tags changed and added; destroy", steps=[deploy("default"), deploy("tags-changed", check=_tags("environment", "staging")), destroy()]),
    Scenario("timeout-change", about="`longWaitTimeoutHours` 8 → 10; destroy",
             steps=[deploy("default"), deploy("timeout-changed"), destroy()]),
    # The teardown waits' shares follow the timeout in place: none is removed (a removed wait's
    # delete would find the group's ACTIVE recommenders and hold the cleanup).
    Scenario("timeout-decrease", about="`longWaitTimeoutHours` 10 → 8 with ACTIVE recommenders; destroy",
             steps=[deploy("timeout-changed"), deploy("default", check=_all_recommenders("ACTIVE")), destroy()]),
    Scenario("import-create-failed", about="the first import job ends CREATE FAILED: rollback", steps=[deploy("default", "ROLLBACK_COMPLETE", reason="Input CSV is missing column")],
             setup=_fail_creation("dataset-import-job", "Input CSV is missing column EVENT_TYPE")),
    Scenario("recommender-create-failed", about="a recommender ends CREATE FAILED: rollback", steps=[deploy("default", "ROLLBACK_COMPLETE", reason="Not enough interactions")],
             setup=_fail_creation("recommender", "Not enough interactions to train")),
    Scenario("wait-condition-timeout", about="training takes 9 h, longer than the 8 h WaitCondition: rollback while training", steps=[deploy("default", "ROLLBACK_COMPLETE", reason="Ready")],
             timings=Timings(recommender_training=9 * 60)),
    Scenario("cancel-while-training", about="update with a new recipe cancelled 30 min in (new recommender training): rollback; destroy", steps=[deploy("default"), deploy("recipe-changed", "UPDATE_ROLLBACK_COMPLETE", cancel_after=30,
                                                                             reason="cancelled"),
                                       destroy()]),
    Scenario("throttling-burst", about="every handler call to Personalize throttled 3 times before it succeeds; destroy", steps=[deploy("default"), destroy()], setup=_faults(throttle_burst=3)),
    # The design (stacks/constructs/providers.py, Poller): the poll task retries only Lambda's
    # service exceptions; any other failure of the step, a timeout included, is caught and
    # signalled as FAILURE with its error. So the one promised outcome is a rollback that starts
    # at that poll and names Sandbox.Timedout, never the WaitCondition's hours-long timeout.
    Scenario("poll-lambda-timeout", about="the poller's Lambda times out once: FAILURE signalled at once with the error; rollback",
             steps=[deploy("default", "ROLLBACK_COMPLETE", reason="Sandbox.Timedout")],
             setup=_faults(poll_lambda_timeouts=1), check=lambda aws, outcomes: _rolled_back_within(outcomes, 60)),
    Scenario("start-execution-fails", about="StartExecution fails after CreateRecommender: rollback must not orphan the recommender", steps=[deploy("default", "ROLLBACK_COMPLETE", reason="StartExecution")], setup=_faults(start_execution_errors=1)),
    Scenario("import-3-hours", about="an import job takes 3 hours; destroy", steps=[deploy("default"), destroy()], timings=Timings(dataset_import_job=180)),
    # The import job's Delete answers at once (nothing to delete); the teardown waits hold the
    # datasets until the import ends (Personalize refuses DeleteDataset meanwhile).
    Scenario("rollback-during-long-import", about="the create cancelled 30 min into a 3-hour import: rollback",
             steps=[deploy("default", "ROLLBACK_COMPLETE", cancel_after=30, reason="cancelled")], timings=Timings(dataset_import_job=180)),
    Scenario("redeploy-after-destroy", about="create, destroy, create again under the same names; destroy",
             steps=[deploy("default"), destroy(), deploy("default"), destroy()]),
    # Custom solutions (issue 10): config/custom-solutions.yaml and edits of it.
    Scenario("custom-create-destroy", about="config/custom-solutions.yaml (two solutions trained, two campaigns, a filter): create, destroy",
             steps=[deploy("custom", check=_all(_campaigns(**{"top-picks": 1, "similar": 1}), _solutions(**{"top-picks": "3.5", "similar": None}))),
                    destroy()]),
    Scenario("custom-retrain", about="`training.version` 1 → 2: a new version trained, the campaign moved to it in place; destroy",
             steps=[deploy("custom"), deploy("custom-retrained", check=_all(_versions_of("top-picks", 2), _campaigns(**{"top-picks": 1, "similar": 1}))),
                    destroy()]),
    Scenario("custom-tps-change", about="a campaign's minProvisionedTPS 1 → 2, updated in place; destroy",
             steps=[deploy("custom"), deploy("custom-tps", check=_all(_campaigns(**{"top-picks": 2, "similar": 1}), _versions_of("top-picks", 1))),
                    destroy()]),
    Scenario("custom-threshold-change", about="eventValueThreshold 3.5 → 4: a new solution and version, the campaign updated, the old solution deleted; destroy",
             steps=[deploy("custom"), deploy("custom-threshold", check=_all(_solutions(**{"top-picks": "4", "similar": None}),
                                                                             _campaigns(**{"top-picks": 1, "similar": 1}))),
                    destroy()]),
    Scenario("custom-campaign-removed", about="a campaign removed from the config (deleted, no more hourly cost); destroy",
             steps=[deploy("custom"), deploy("custom-campaign-removed", check=_campaigns(**{"top-picks": 1})), destroy()]),
    Scenario("custom-destroy-while-training", about="the create cancelled 60 min in (trainings under way): the rollback stops the trainings, then deletes everything",
             steps=[deploy("custom", "ROLLBACK_COMPLETE", cancel_after=60, reason="cancelled")], check=_training_stopped),
    Scenario("custom-training-failed", about="a training ends CREATE FAILED: its failureReason fails the deploy; rollback",
             steps=[deploy("custom", "ROLLBACK_COMPLETE", reason="fewer than 25 users")],
             setup=_fail_creation("solution-version", "Insufficient data: fewer than 25 users with 2 or more interactions")),
    Scenario("experiment-lifecycle", about="config/experiments.yaml: flags split 50/50, reweighted to 20/80, ended with a winner (everyone); destroy",
             steps=[deploy("experiments", check_aws=_arms("home-widget", third_party_widget=50, recommended_for_you=50)),
                    deploy("experiments-reweighted", check_aws=_arms("home-widget", third_party_widget=20, recommended_for_you=80)),
                    deploy("experiments-ended", check_aws=_all_aws(_arms("home-widget", recommended_for_you=100),
                                                                   _arms("product-page", viewed_X_also_viewed=34, recommended_for_you=33, third_party_widget=33))),
                    deploy("experiments-removed", check_aws=_no_appconfig), destroy()]),
    Scenario("experiment-version-refused", about="a reweighting whose flag version AppConfig refuses: rollback, users keep the 50/50 split; destroy",
             steps=[deploy("experiments"), deploy("experiments-reweighted", "UPDATE_ROLLBACK_COMPLETE", reason="BadRequestException",
                                                  check_aws=_arms("home-widget", third_party_widget=50, recommended_for_you=50)),
                    destroy()],
             setup=lambda aws: setattr(aws.appconfig, "refuse_content", "pct::20 ")),  # the 20/80 version only
    Scenario("destroy-retain-events", about="`removalPolicy: RETAIN`, 5,000 events recorded with PutEvents, destroy: the events must survive", steps=[deploy("default"), Step("record-events", events=5000), destroy()],
             check=_events_survive),
    # CloudFormation's failure semantics (docs/simulator-rules.md, "Failures and rollbacks").
    Scenario("multi-group-attribution-cancelled", about="multi config: the shop Items import fails while the video group's attribution is being created: the attribution's create is cancelled, its Delete carries a made-up id; rollback",
             steps=[deploy("multi", "ROLLBACK_COMPLETE", reason="Input CSV is missing column")],
             timings=Timings(metric_attribution=30), setup=_slow_and_failing(("dataset-import-job", "shop-items", 30, "Input CSV is missing column PRICE"))),
    Scenario("custom-solution-cancelled", about="custom config: one solution fails while the other is being created: that create is cancelled, its Delete carries a made-up id; rollback",
             steps=[deploy("custom", "ROLLBACK_COMPLETE", reason="CREATE FAILED")],
             setup=_slow_and_failing(("solution", "-similar-", 0, "The recipe does not support this dataset"), ("solution", "-top-picks-", 30, ""))),
    Scenario("update-failed-rolled-back", about="tags and a recommender's config changed; UpdateRecommender refused: the update rolls back new → old (tags restored, no retraining); destroy",
             steps=[deploy("default"),
                    deploy("tags-and-config-changed", "UPDATE_ROLLBACK_COMPLETE", reason="injected: refused",
                           check=_all(_tags("environment", "default"), _min_tps("recommended-for-you", 1), _no_call_after("UpdateRecommender", 1))),
                    destroy()],
             setup=lambda aws: aws.personalize.inject_error("UpdateRecommender", "InvalidInputException", 1, "injected: refused")),
    Scenario("metric-update-cancelled", about="a metric change cancelled while the attribution is being updated: rolled back new → old, and an hour later still old; destroy",
             steps=[deploy("default"), deploy("metric-changed", "UPDATE_ROLLBACK_COMPLETE", cancel_after=1, reason="cancelled",
                                              check=_metrics("countViews", "sumMargin")),
                    wait(60, check=_metrics("countViews", "sumMargin")), destroy()]),
    Scenario("solution-replacement-cancelled", about="eventValueThreshold 3.5 → 4 cancelled while the new solution is being created: rolled back (the old solution stays, the new one must go); destroy",
             steps=[deploy("custom"), deploy("custom-threshold", "UPDATE_ROLLBACK_COMPLETE", cancel_after=1, reason="cancelled",
                                             check=_solutions(**{"top-picks": "3.5", "similar": None})),
                    destroy()]),
    Scenario("config-update-cancelled-then-destroy", about="a recommender's config update cancelled 30 min into its retraining: rolled back new → old, then destroyed at once",
             steps=[deploy("default"), deploy("config-changed", "UPDATE_ROLLBACK_COMPLETE", cancel_after=30, reason="cancelled",
                                              check=_min_tps("recommended-for-you", 1)),
                    destroy()]),
    # Authorization as IAM does it (docs/iam-authorization.md): AWS's resource types per action,
    # bucket and key policies for Personalize, policies in force only after a propagation delay.
    Scenario("reference-iam-default", about="config/default.yaml under the Service Authorization Reference's IAM (List*/Tag* on \"*\" only): create, change tags, change them back, destroy",
             steps=[deploy("default"), deploy("tags-changed", check=_tags("environment", "staging")), deploy("default"), destroy()],
             check=_resource_less_calls_made),
    Scenario("external-bucket-import", about="config/multi-group.yaml: the partner bucket's owner added the printed policy; its users import succeeds; destroy",
             steps=[deploy("multi", check=_imported_from("s3://example-partner-exports/")), destroy()]),
    Scenario("external-bucket-policy-missing", about="config/multi-group.yaml, the partner bucket's owner has not added the printed policy: the import is refused; rollback",
             steps=[deploy("multi", "ROLLBACK_COMPLETE", reason="example-partner-exports has no policy")], external_owners_comply=False),
    # An upgrade of the app that adds an operation to a handler: its policy gains the grant in the
    # same update that first uses it (here tagging, with the first tags), while every policy is
    # in force only 75 s after CloudFormation wrote it.
    Scenario("iam-propagation-delay", about="policies in force 75 s after they are written; an update whose handler policy gains TagResource and uses it at once; destroy",
             steps=[deploy("untagged", edit=_without_grant("personalize:TagResource", "personalize:UntagResource")),
                    deploy("default", check=_tags("environment", "default")), destroy()],
             iam_propagation_seconds=75, check=_handler_outlived_propagation),
    # Storage lifecycle (docs/storage-lifecycle.md): bucket names are unique and a Retain delete keeps them.
    Scenario("redeploy-all-names-collide", about="every stack created, destroyed (RETAIN), created again unchanged: the retained bucket's name is taken",
             steps=[deploy_all("default"), destroy_all(), deploy_all("default", "ROLLBACK_COMPLETE", reason="already exists")]),
    Scenario("destroy-redeploy-all", about="every stack created, 1,000 events recorded, destroyed (RETAIN), created again with `reuseRetainedBuckets`, destroyed",
             steps=[deploy_all("default"), Step("record-events", events=1000), destroy_all(), deploy_all("default-reuse"), destroy_all()],
             check=lambda aws, outcomes: _events_survive(aws, outcomes) + _retained_buckets_reached(aws, outcomes)),
    # Release templates (tools/release.py) with their cost switches off, on, off again.
    Scenario("release-recommenders-switched", about="release of config/default.yaml: `RecommendersEnabled=false`, then true, then false; destroy",
             steps=[deploy_all("release-default", parameters={"RecommendersEnabled": "false"}, check=_recipes()),
                    deploy("release-default", parameters={"RecommendersEnabled": "true"},
                           check=_recipes("aws-ecomm-recommended-for-you", "aws-ecomm-customers-who-viewed-x-also-viewed")),
                    deploy("release-default", parameters={"RecommendersEnabled": "false"}, check=_recipes()), destroy_all()]),
    Scenario("release-campaigns-switched", about="release of config/custom-solutions.yaml: `CampaignsEnabled=false`, then true, then false; destroy",
             steps=[deploy_all("release-custom", parameters={"CampaignsEnabled": "false"}, check=_campaign_count(0)),
                    deploy("release-custom", parameters={"CampaignsEnabled": "true"}, check=_campaign_count(2)),
                    deploy("release-custom", parameters={"CampaignsEnabled": "false"}, check=_campaign_count(0)), destroy_all()]),
    # The Filter's schema makes FilterExpression create-only: a new filter (its name carries the
    # expression's hash), the old one deleted in the cleanup.
    Scenario("filter-expression-replaced", about="a filter's expression changed: replaced under a new name (create-only in its schema); destroy",
             steps=[deploy("custom"), deploy("custom-filter-changed", check=_filters(CHANGED_FILTER)), destroy()]),
    # Personalize refuses a sixth running import in a region (LimitExceededException).
    Scenario("six-imports-at-once", about="three groups whose six imports could all start at once: the sixth waits for the first; destroy",
             steps=[deploy("six-imports"), destroy()]),
]


# --- the critical path ----------------------------------------------------------------------

# Resources whose create takes a fixed time of their own: the Timings field of each type.
OWN_DURATION = {
    "AWS::Personalize::DatasetGroup": "dataset_group",
    "AWS::IAM::Policy": "iam_policy",
    "AWS::Personalize::Dataset": "dataset",
    "AWS::Personalize::EventTracker": "event_tracker",
    "Custom::PersonalizeMetricAttribution": "metric_attribution",
    "Custom::PersonalizeSolution": "solution",
    "AWS::Personalize::Filter": "filter",
    "AWS::Personalize::Campaign": "campaign",
}


def critical_path_minutes(template: dict, timings: Timings) -> float:
    """Longest path through the template's dependency graph, each resource weighted with the
    modelled duration of what it waits for (the lower bound of any deploy)."""
    resources = template["Resources"]
    graph = dependencies(template)

    awaited = {d for logical_id, r in resources.items() if r["Type"] == "AWS::CloudFormation::WaitCondition"
               for d in graph[logical_id]}

    def work(resource: dict) -> float:
        kind = resource["Type"]
        if kind == "Custom::PersonalizeDatasetImportJob":
            return timings.dataset_import_job
        if kind == "Custom::PersonalizeRecommender":
            stop = 10 if resource["Properties"].get("DesiredState") == "INACTIVE" else 0
            return timings.recommender_training + stop
        if kind == "Custom::PersonalizeSolutionVersion":
            return timings.solution_training
        return 0

    def weight(logical_id: str) -> float:
        resource = resources[logical_id]
        kind = resource["Type"]
        if kind in OWN_DURATION:
            return getattr(timings, OWN_DURATION[kind])
        if kind == "Custom::PersonalizeDatasetImportJob":
            # Waited for inside the custom resource, or (when a WaitCondition follows it) there.
            return 0 if logical_id in awaited else work(resource)
        if kind == "AWS::CloudFormation::WaitCondition":
            return max((work(resources[d]) for d in graph[logical_id]), default=0)
        return 0

    finish: dict[str, float] = {}

    def end(logical_id: str) -> float:
        if logical_id not in finish:
            finish[logical_id] = max((end(d) for d in graph[logical_id]), default=0) + weight(logical_id)
        return finish[logical_id]

    return max((end(r) for r in resources), default=0)


# --- running ------------------------------------------------------------------------------------


def _with_parameters(template: dict, parameters: dict[str, str]) -> tuple[dict, dict[str, str]]:
    declared = template.get("Parameters") or {}
    return template, {name: value for name, value in parameters.items() if name in declared}


def _in_order(operations: list[tuple[Stack, Any]]):
    """Stack operations one after the other, as the CDK CLI runs `--all`: the first that does
    not complete stops the rest. One Outcome: the last status, every failure and leak by stack."""
    combined = Outcome("")
    for stack, operation in operations:
        outcome = yield from operation
        combined.status = outcome.status
        combined.failures += [f"{stack.name}: {failure}" for failure in outcome.failures]
        combined.leaks += [f"{stack.name}: {leak}" for leak in outcome.leaks]
        combined.minutes += outcome.minutes
        if outcome.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE"):
            break
    return combined


@dataclass
class Result:
    name: str
    passed: bool
    left: list[str]
    denied: list[str]
    deploy_minutes: float
    bound_minutes: float
    problems: list[str]
    events: list[str]
    billed_hours: float = 0.0
    largest_response: tuple[int, str] = (0, "")  # bytes of the largest custom-resource response, and whose

    def line(self) -> str:
        return (f"{self.name} {'PASS' if self.passed else 'FAIL'} left={len(self.left)} billed_h={self.billed_hours:.1f}"
                f" denied={len(self.denied)} deploy={self.deploy_minutes:.1f} bound={self.bound_minutes:.1f}")


def apply_external_bucket_policies(aws: Aws, template: dict) -> None:
    """What the owner of each bucket the config declares external does: add the printed policy."""
    for bucket, prefixes in template.get("Metadata", {}).get(EXTERNAL_BUCKETS_METADATA, {}).items():
        aws.iam.put_resource_policy(f"arn:aws:s3:::{bucket}", external_bucket_policy(bucket, prefixes, account=ACCOUNT))


def handler_modules(assets: Path) -> dict[str, Any]:
    python_assets = sorted(p.parent.parent for p in assets.glob("asset.*/personalize_resources/__init__.py"))
    if str(python_assets[0]) not in sys.path:
        sys.path.insert(0, str(python_assets[0]))
    package = python_assets[0] / "personalize_resources"
    names = sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__")
    return {name: importlib.import_module(f"personalize_resources.{name}") for name in names}


def run_scenario(scenario: Scenario, variants: dict[str, dict], bridge: FrameworkBridge, *, reversed_order: bool = False) -> Result:
    """``reversed_order``: resources ready at one instant start in the other order (see Stack)."""
    clock = Clock()
    kernel = Kernel(clock)
    personalize = StackFakePersonalize(clock, scenario.timings)
    aws = Aws(kernel, personalize, Iam(clock, scenario.iam_propagation_seconds), bridge)
    first = variants[next(s.variant for s in scenario.steps if s.action.startswith("deploy"))]
    stack = Stack(kernel, aws, first["stack"], Path(first["assets"]), reversed_order=reversed_order)
    modules = handler_modules(Path(first["assets"]))
    if scenario.setup:
        scenario.setup(aws)
    problems: list[str] = []
    outcomes: list[Outcome] = []
    deploy_minutes = 0.0
    first_step = next(s for s in scenario.steps if s.action.startswith("deploy"))
    template = load_template(first["template"])
    values = {name: first_step.parameters.get(name, spec.get("Default")) for name, spec in (template.get("Parameters") or {}).items()}
    bound = critical_path_minutes(apply_conditions(template, values), scenario.timings)
    ended_clean = False
    with aws.patched(modules):
        # The storage stack (buckets, key) first: the personalize stack reads its outputs.
        storage = Stack(kernel, aws, first["storage_stack"], Path(first["assets"]), custom_resources=False, reversed_order=reversed_order)
        dashboard = Stack(kernel, aws, first["dashboard_stack"], Path(first["assets"]), reversed_order=reversed_order)
        if not any(step.action.endswith("-all") for step in scenario.steps):
            created = kernel.spawn(storage.deploy(load_template(first["storage_template"])))
            kernel.run_until(created)
            if created.value.status != "CREATE_COMPLETE":
                problems.append(f"storage stack: {created.value.status}: {created.value.failures}")
            clock.now = type(clock)().now  # the personalize stack's deploy is what is timed
        for index, step in enumerate(scenario.steps):
            if step.action == "record-events":
                for dataset in [a for a in personalize.datasets if a.endswith("/INTERACTIONS")]:
                    personalize.record_events(dataset, step.events)
                continue
            if step.action == "wait":
                # Time passes with no stack operation: what still runs (abandoned waiters,
                # pollers) acts; the check then says what Personalize looks like.
                drain(kernel, limit_hours=step.minutes / 60)
                if step.check:
                    problems += [f"step {index + 1} (wait {step.minutes:g} min): {problem}" for problem in step.check(personalize)]
                continue
            if step.action == "deploy":
                variant = variants[step.variant]
                if scenario.external_owners_comply:
                    apply_external_bucket_policies(aws, load_template(variant["template"]))
                stack.asset_root = Path(variant["assets"])
                stack.cancel = type(stack.cancel)("cancel")
                if step.minutes:
                    kernel.after(step.minutes * 60, stack.cancel.resolve)
                template = load_template(variant["template"])
                process = stack.deploy(*_with_parameters(step.edit(template) if step.edit else template, step.parameters))
                expected = step.expect or ("UPDATE_COMPLETE" if stack.resources else "CREATE_COMPLETE")
            elif step.action == "deploy-all":
                variant = variants[step.variant]
                for each in (storage, stack, dashboard):
                    each.asset_root = Path(variant["assets"])
                templates = [variant["storage_template"], variant["template"], variant["dashboard_template"]]
                process = _in_order([(each, each.deploy(*_with_parameters(load_template(path), step.parameters)))
                                     for each, path in zip((storage, stack, dashboard), templates) if Path(path).exists()])
                expected = step.expect or "CREATE_COMPLETE|UPDATE_COMPLETE"
            elif step.action == "destroy-all":
                process = _in_order([(each, each.destroy()) for each in (dashboard, stack, storage)])
                expected = step.expect
            else:
                process = stack.destroy()
                expected = step.expect
            finished = kernel.spawn(process)
            try:
                kernel.run_until(finished, limit_hours=30)
            except Exception as exc:  # the simulator could not go on: reported, the scenario fails
                problems.append(f"step {index + 1} ({step.action} {step.variant}): simulator stopped: {type(exc).__name__}: {exc}")
                break
            outcome: Outcome = finished.value
            outcomes.append(outcome)
            if index == 0:
                deploy_minutes = outcome.minutes
            label = f"step {index + 1} ({step.action} {step.variant})".replace(" )", ")")
            # The invariants hold after every step, whatever its outcome (an update or a rollback
            # that reimports or recreates must keep the order too).
            problems += [f"{label}: {problem}" for problem in attribution_order_problems(personalize) + stale_import_problems(personalize)]
            if outcome.status not in expected.split("|"):
                problems.append(f"{label}: {outcome.status}, expected {expected}: {'; '.join(outcome.failures)[:1500]}")
            elif outcome.failures and outcome.status.endswith("COMPLETE") and "ROLLBACK" not in outcome.status:
                problems.append(f"{label}: {'; '.join(outcome.failures)[:800]}")
            if step.check and outcome.status in expected.split("|"):
                problems += [f"{label}: {problem}" for problem in step.check(personalize)]
            if step.check_aws and outcome.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
                problems += [f"{label}: {problem}" for problem in step.check_aws(aws)]
            if step.reason and "ROLLBACK" in outcome.status and not any(step.reason in failure for failure in outcome.failures[:2]):
                problems.append(f"{label}: failed, but not for the injected reason ({step.reason!r}): {'; '.join(outcome.failures)[:600]}")
            for leak in outcome.leaks:
                problems.append(f"{label}: {leak[:800]}")
            ended_clean = outcome.status in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE")
        # Left is what exists the moment the stack reports its last step complete; what keeps
        # billing after that is measured while the rest (pollers finishing a delete, timers)
        # runs to its end, for up to a day.
        left = personalize.left() + aws.appconfig.left()
        billed_hours = _billed_hours_until_quiet(kernel, personalize)
    if scenario.check:
        problems += scenario.check(aws, outcomes)
    if ended_clean and left:
        problems.append(f"left when the last step completed: {', '.join(a.split(':', 5)[-1] for a in left)}")
    if ended_clean and billed_hours:
        problems.append(f"{billed_hours:.1f} billable resource-hours after the last step completed")
    if aws.denied_calls:
        problems.append(f"IAM denied: {'; '.join(sorted(set(aws.denied_calls)))[:1500]}")
    if aws.iam.unknown_conditions:
        problems.append(f"unknown IAM condition keys (denied): {sorted(aws.iam.unknown_conditions)}")
    if not ended_clean and not problems:
        problems.append("the scenario does not end in a destroy or rollback")
    return Result(scenario.name, not problems, left, aws.denied_calls, deploy_minutes, bound, problems, stack.events, billed_hours, aws.largest_response)


BILLING_SAMPLE_MINUTES = 1


def _billed_hours_until_quiet(kernel: Kernel, personalize: StackFakePersonalize, limit_hours: float = 24) -> float:
    """Resource-hours of what bills (fake_service.billable) from now until nothing runs any more
    or ``limit_hours`` passed, sampled every BILLING_SAMPLE_MINUTES simulated minutes."""
    minutes = 0.0
    for _ in range(int(limit_hours * 60 / BILLING_SAMPLE_MINUTES)):
        running = billable(personalize)
        if not running and not kernel._queue:
            break
        minutes += len(running) * BILLING_SAMPLE_MINUTES
        drain(kernel, limit_hours=BILLING_SAMPLE_MINUTES / 60)
    return minutes / 60
