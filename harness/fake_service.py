"""One stateful fake Amazon Personalize for a whole simulated stack, on the simulated clock.

Extends harness.fake_recommenders.FakeRecommenders (recommenders, tags, the botocore
validation plumbing of FakePersonalize) and harness.fake_solutions.FakeSolutions
(solutions, solution versions and their metrics) with the native types CloudFormation creates
(dataset group, schema, dataset, event tracker, filter, campaign), dataset export jobs, and time-based
lifecycles for every type instead of one status step per Describe. Refusals modelled on the
service: DeleteDataset while an import job on it is CREATE PENDING/IN_PROGRESS,
DeleteDatasetGroup while it has children, DeleteSchema while a dataset uses it, one metric
attribution and one event tracker per dataset group, name conflicts, asynchronous deletes
through DELETE PENDING / DELETE IN_PROGRESS; CreateCampaign/UpdateCampaign only on an ACTIVE
solution version; DeleteSolution while a campaign serves one of its versions (*unconfirmed*:
modelled as refused, the conservative choice) or while a version trains.
"""

from __future__ import annotations

import copy
import datetime as dt
import heapq
import itertools
from dataclasses import dataclass
from typing import Any

from harness.fake_personalize import CREATING, DELETING, GONE, UPDATING, FakeError, FakeResource, operation
from harness.fake_recommenders import Durations, FakeRecommenders
from harness.fake_solutions import FakeSolutions
from harness.kernel import Clock

MINUTE = dt.timedelta(minutes=1)
JOB_TYPES = ("dataset-import-job", "dataset-export-job")


@dataclass
class Timings:
    """Modelled durations (minutes) of what Personalize does; per scenario overridable."""

    dataset_group: float = 1
    dataset: float = 1
    event_tracker: float = 1
    metric_attribution: float = 2
    dataset_import_job: float = 15
    dataset_export_job: float = 10
    recommender_training: float = 90
    solution: float = 2
    solution_training: float = 60
    campaign: float = 10
    filter: float = 1
    iam_policy: float = 0.25  # an inline policy until it is in force (IAM is eventually consistent)
    transition_step: float = 1  # each step of an update or delete (PENDING → IN_PROGRESS → ...)

    def create_minutes(self, resource_type: str) -> float:
        return {
            "dataset-group": self.dataset_group, "dataset": self.dataset, "event-tracker": self.event_tracker,
            "metric-attribution": self.metric_attribution, "dataset-import-job": self.dataset_import_job,
            "dataset-export-job": self.dataset_export_job, "solution": self.solution,
            "solution-version": self.solution_training, "campaign": self.campaign, "filter": self.filter,
        }.get(resource_type, 0)


@dataclass
class Refusal:
    operation: str
    message: str


class StackFakePersonalize(FakeRecommenders, FakeSolutions):
    def __init__(self, clock: Clock, timings: Timings) -> None:
        super().__init__(clock=clock, durations=Durations(
            pending=dt.timedelta(0), training=dt.timedelta(minutes=timings.recommender_training),
            retraining=dt.timedelta(minutes=timings.recommender_training),
            stopping=dt.timedelta(minutes=10), starting=dt.timedelta(minutes=15),
            deleting=dt.timedelta(minutes=timings.transition_step * 2)))
        self.timings = timings
        self._timeline: list[tuple[dt.datetime, int, Any]] = []
        self._sequence = itertools.count()
        self.refusals: list[Refusal] = []
        self.events_recorded: dict[str, int] = {}  # dataset ARN → events sent with PutEvents
        self.exported_events: dict[str, int] = {}  # s3 path → events a dataset export job wrote
        self.import_minutes: dict[str, float] = {}  # dataLocation substring → duration override
        # (resource type, ARN substring) → duration override / failure reason: one resource of
        # several created at once can be made slow or failing.
        self.minutes_of: dict[tuple[str, str], float] = {}
        self.failing: dict[tuple[str, str], str] = {}
        self.active_at: dict[str, dt.datetime] = {}  # ARN → when it first became ACTIVE

    # --- simulated time for every type ----------------------------------------------------

    def now(self) -> dt.datetime:
        return self.clock.now

    def _at(self, delay_minutes: float, change: Any) -> None:
        heapq.heappush(self._timeline, (self.clock.now + dt.timedelta(minutes=delay_minutes), next(self._sequence), change))

    def _settle(self) -> None:
        while self._timeline and self._timeline[0][0] <= self.clock.now:
            _, _, change = heapq.heappop(self._timeline)
            change()
        super()._settle()

    def add_resource(self, arn: str, resource_type: str, attributes: dict) -> FakeResource:
        self._settle()
        failures = self._failing_creations[resource_type]
        reason = failures.pop(0) if failures else None
        reason = next((r for (kind, part), r in self.failing.items() if kind == resource_type and part in arn), reason)
        now = self.clock.now
        resource = FakeResource(arn, resource_type, attributes, "CREATE PENDING", now, now, failure_reason=reason)
        self.resources[arn] = resource
        minutes = self.timings.create_minutes(resource_type)
        if resource_type == "dataset-import-job":
            location = attributes["dataSource"]["dataLocation"]
            minutes = next((m for key, m in self.import_minutes.items() if key in location), minutes)
        minutes = next((m for (kind, part), m in self.minutes_of.items() if kind == resource_type and part in arn), minutes)
        self._at(0, self._status(resource, "CREATE IN_PROGRESS", only_from=CREATING))
        # Only from a creating status: a stopped training (CREATE STOPPING) does not finish.
        self._at(minutes, self._status(resource, "CREATE FAILED" if reason else "ACTIVE", only_from=CREATING))
        return resource

    def _status(self, resource: FakeResource, status: Any, only_from: tuple[str, ...] = ()):
        def change() -> None:
            if self.resources.get(resource.arn) is not resource:
                return
            if only_from and resource.status not in only_from:
                return
            if status is GONE:
                self._remove_resource(resource)
            else:
                resource.status, resource.updated = status, self.clock.now
                if status == "ACTIVE":
                    self.active_at.setdefault(resource.arn, self.clock.now)
        return change

    def begin_transition(self, resource: FakeResource, statuses: Any) -> None:
        first, *rest = statuses
        resource.status, resource.updated = first, self.clock.now
        for index, status in enumerate(rest, start=1):
            self._at(index * self.timings.transition_step, self._status(resource, status))

    def observe(self, arn: str) -> FakeResource:
        self._settle()
        return copy.deepcopy(self.get(arn))

    def require_settled(self, resource: FakeResource) -> None:
        if resource.status in CREATING + UPDATING + DELETING:
            self.refusals.append(Refusal("change", f"{resource.arn} is {resource.status}"))
            raise FakeError("ResourceInUseException", f"Resource {resource.arn} is {resource.status}")

    def _remove_resource(self, resource: FakeResource) -> None:
        self.resources.pop(resource.arn, None)
        self.dataset_groups.discard(resource.arn)
        self.datasets.discard(resource.arn)
        # Import and export jobs are kept after their dataset is deleted: whether the service
        # frees their names is unconfirmed, so the conservative model keeps the names taken.

    def left(self) -> list[str]:
        """Every Personalize resource that still exists, except finished jobs (records, not billed)."""
        self._settle()
        return sorted(arn for arn, r in self.resources.items()
                      if not (r.resource_type in JOB_TYPES and r.status not in CREATING))

    def _children(self, group_arn: str) -> list[FakeResource]:
        return [r for r in self.resources.values() if r.attributes.get("datasetGroupArn") == group_arn and r.arn != group_arn]

    def _refuse(self, operation_name: str, code: str, message: str) -> None:
        self.refusals.append(Refusal(operation_name, message))
        raise FakeError(code, message)

    # --- dataset groups -------------------------------------------------------------------

    @operation("CreateDatasetGroup")
    def create_dataset_group(self, params: dict) -> dict:
        self._settle()
        arn = self.arn("dataset-group", params["name"])
        self.require_absent(arn)
        attributes = {"name": params["name"], "datasetGroupArn": arn}
        for key in ("domain", "roleArn", "kmsKeyArn"):
            if key in params:
                attributes[key] = params[key]
        self.add_resource(arn, "dataset-group", attributes)
        self.dataset_groups.add(arn)
        return {"datasetGroupArn": arn, **({"domain": params["domain"]} if "domain" in params else {})}

    @operation("DescribeDatasetGroup")
    def describe_dataset_group(self, params: dict) -> dict:
        return {"datasetGroup": self.observe(params["datasetGroupArn"]).view()}

    @operation("DeleteDatasetGroup")
    def delete_dataset_group(self, params: dict) -> dict:
        self._settle()
        resource = self.get(params["datasetGroupArn"])
        children = self._children(resource.arn)
        if children:
            self._refuse("DeleteDatasetGroup", "ResourceInUseException",
                         f"Dataset group {resource.arn} still has {', '.join(sorted(c.arn for c in children))}")
        self.require_settled(resource)
        self.begin_delete(resource)
        return {}

    # --- schemas ------------------------------------------------------------------------------

    @operation("CreateSchema")
    def create_schema(self, params: dict) -> dict:
        arn = self.arn("schema", params["name"])
        self.require_absent(arn)
        attributes = {"name": params["name"], "schemaArn": arn, "schema": params["schema"]}
        if "domain" in params:
            attributes["domain"] = params["domain"]
        now = self.clock.now
        # Schemas have no status: usable at once.
        self.resources[arn] = FakeResource(arn, "schema", attributes, "ACTIVE", now, now)
        return {"schemaArn": arn}

    @operation("DescribeSchema")
    def describe_schema(self, params: dict) -> dict:
        view = self.observe(params["schemaArn"]).view()
        view.pop("status")
        return {"schema": view}

    @operation("DeleteSchema")
    def delete_schema(self, params: dict) -> dict:
        resource = self.get(params["schemaArn"])
        users = [r.arn for r in self.resources.values() if r.attributes.get("schemaArn") == resource.arn and r is not resource]
        if users:
            self._refuse("DeleteSchema", "ResourceInUseException", f"Schema {resource.arn} is used by {', '.join(users)}")
        self.resources.pop(resource.arn)
        return {}

    # --- datasets -----------------------------------------------------------------------------

    @operation("CreateDataset")
    def create_dataset(self, params: dict) -> dict:
        self._settle()
        group = params["datasetGroupArn"]
        if group not in self.dataset_groups:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset group {group}")
        if self.get(group).status != "ACTIVE":
            self._refuse("CreateDataset", "ResourceInUseException", f"Dataset group {group} is {self.get(group).status}")
        self.get(params["schemaArn"])
        arn = self.arn("dataset", f"{group.rsplit('/', 1)[1]}/{params['datasetType'].upper()}")
        self.require_absent(arn)
        self.add_resource(arn, "dataset", {
            "name": params["name"], "datasetArn": arn, "datasetGroupArn": group,
            "datasetType": params["datasetType"], "schemaArn": params["schemaArn"]})
        self.datasets.add(arn)
        return {"datasetArn": arn}

    @operation("DescribeDataset")
    def describe_dataset(self, params: dict) -> dict:
        return {"dataset": self.observe(params["datasetArn"]).view()}

    @operation("DeleteDataset")
    def delete_dataset(self, params: dict) -> dict:
        self._settle()
        resource = self.get(params["datasetArn"])
        running = [r.arn for r in self.resources.values()
                   if r.attributes.get("datasetArn") == resource.arn and r.status in CREATING]
        if running:
            self._refuse("DeleteDataset", "ResourceInUseException",
                         f"Dataset {resource.arn} has running jobs: {', '.join(running)}")
        self.require_settled(resource)
        self.begin_delete(resource)
        return {}

    # --- event trackers -----------------------------------------------------------------------

    @operation("CreateEventTracker")
    def create_event_tracker(self, params: dict) -> dict:
        self._settle()
        group = params["datasetGroupArn"]
        if group not in self.dataset_groups:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset group {group}")
        if any(r.resource_type == "event-tracker" for r in self._children(group)):
            self._refuse("CreateEventTracker", "LimitExceededException", f"Dataset group {group} has an event tracker")
        arn = self.arn("event-tracker", params["name"])
        self.require_absent(arn)
        tracking_id = f"tracking-{len(self.resources):08d}"
        self.add_resource(arn, "event-tracker", {
            "name": params["name"], "eventTrackerArn": arn, "datasetGroupArn": group,
            "trackingId": tracking_id, "accountId": self.account})
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    @operation("DescribeEventTracker")
    def describe_event_tracker(self, params: dict) -> dict:
        return {"eventTracker": self.observe(params["eventTrackerArn"]).view()}

    @operation("DeleteEventTracker")
    def delete_event_tracker(self, params: dict) -> dict:
        resource = self.get(params["eventTrackerArn"])
        self.require_settled(resource)
        self.begin_delete(resource)
        return {}

    # --- dataset export jobs (where recorded events can survive a destroy) ----------------------

    @operation("CreateDatasetExportJob")
    def create_dataset_export_job(self, params: dict) -> dict:
        self._settle()
        dataset = params["datasetArn"]
        if dataset not in self.datasets:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset {dataset}")
        arn = self.arn("dataset-export-job", params["jobName"])
        self.require_absent(arn)
        resource = self.add_resource(arn, "dataset-export-job", {
            "jobName": params["jobName"], "datasetExportJobArn": arn, "datasetArn": dataset,
            "ingestionMode": params.get("ingestionMode", "PUT"), "roleArn": params["roleArn"],
            "jobOutput": params["jobOutput"]})
        path = params["jobOutput"]["s3DataDestination"]["path"]
        events = self.events_recorded.get(dataset, 0)

        def written() -> None:
            if resource.status == "ACTIVE":
                self.exported_events[path] = self.exported_events.get(path, 0) + events
        self._at(self.timings.dataset_export_job, written)
        return {"datasetExportJobArn": arn}

    @operation("DescribeDatasetExportJob")
    def describe_dataset_export_job(self, params: dict) -> dict:
        return {"datasetExportJob": self.observe(params["datasetExportJobArn"]).view()}

    # --- the import job: one running import per dataset is enough for the refusals ---------------

    @operation("CreateDatasetImportJob")
    def create_dataset_import_job(self, params: dict) -> dict:
        self._settle()
        if self.get(params["datasetArn"]).status != "ACTIVE":
            self._refuse("CreateDatasetImportJob", "ResourceInUseException", f"Dataset {params['datasetArn']} is not ACTIVE")
        return super().create_dataset_import_job(params)

    # --- tags: recommenders keep theirs in their state, other resources in FakeSolutions' map ------

    @operation("TagResource")
    def tag_resource(self, params: dict) -> dict:
        if params["resourceArn"] in self.recommenders:
            return FakeRecommenders.tag_resource(self, params)
        return FakeSolutions.tag_resource(self, params)

    @operation("UntagResource")
    def untag_resource(self, params: dict) -> dict:
        if params["resourceArn"] in self.recommenders:
            return FakeRecommenders.untag_resource(self, params)
        return FakeSolutions.untag_resource(self, params)

    # --- solutions: not deleted while a campaign serves one of their versions --------------------

    @operation("DeleteSolution")
    def delete_solution(self, params: dict) -> dict:
        self._settle()
        arn = params["solutionArn"]
        serving = [c.arn for c in self._of_type("campaign") if c.attributes["solutionVersionArn"].startswith(arn + "/")]
        if serving:
            self._refuse("DeleteSolution", "ResourceInUseException", f"Solution {arn} is used by {', '.join(serving)}")
        return FakeSolutions.delete_solution(self, params)

    # --- filters (native type) -----------------------------------------------------------------

    @operation("CreateFilter")
    def create_filter(self, params: dict) -> dict:
        self._settle()
        group = params["datasetGroupArn"]
        if group not in self.dataset_groups or self.get(group).status != "ACTIVE":
            self._refuse("CreateFilter", "ResourceNotFoundException", f"Dataset group {group} is not ACTIVE")
        arn = self.arn("filter", params["name"])
        self.require_absent(arn)
        self.add_resource(arn, "filter", {"name": params["name"], "filterArn": arn, "datasetGroupArn": group,
                                          "filterExpression": params["filterExpression"]})
        self.tags[arn] = {t["tagKey"]: t["tagValue"] for t in params.get("tags", [])}
        return {"filterArn": arn}

    @operation("DescribeFilter")
    def describe_filter(self, params: dict) -> dict:
        return {"filter": self.observe(params["filterArn"]).view()}

    @operation("DeleteFilter")
    def delete_filter(self, params: dict) -> dict:
        resource = self.get(params["filterArn"])
        self.require_settled(resource)
        self.begin_delete(resource)
        return {}

    # --- campaigns (native type): served versions change in place --------------------------------

    def _servable(self, operation_name: str, version_arn: str) -> None:
        if version_arn.endswith("/$LATEST"):
            return
        version = self.get(version_arn)
        if version.status != "ACTIVE":
            self._refuse(operation_name, "ResourceInUseException", f"Solution version {version_arn} is {version.status}, not ACTIVE")

    @operation("CreateCampaign")
    def create_campaign(self, params: dict) -> dict:
        self._settle()
        self._servable("CreateCampaign", params["solutionVersionArn"])
        arn = self.arn("campaign", params["name"])
        self.require_absent(arn)
        self.add_resource(arn, "campaign", {
            "name": params["name"], "campaignArn": arn, "solutionVersionArn": params["solutionVersionArn"],
            "minProvisionedTPS": params.get("minProvisionedTPS", 1), "campaignConfig": copy.deepcopy(params.get("campaignConfig", {}))})
        self.tags[arn] = {t["tagKey"]: t["tagValue"] for t in params.get("tags", [])}
        return {"campaignArn": arn}

    @operation("DescribeCampaign")
    def describe_campaign(self, params: dict) -> dict:
        return {"campaign": self.observe(params["campaignArn"]).view()}

    @operation("UpdateCampaign")
    def update_campaign(self, params: dict) -> dict:
        self._settle()
        resource = self.get(params["campaignArn"])
        self.require_settled(resource)
        latest = resource.attributes.get("latestCampaignUpdate")
        if latest and latest["status"] in CREATING:
            self._refuse("UpdateCampaign", "ResourceInUseException", f"Campaign {resource.arn} is updating")
        if "solutionVersionArn" in params:
            self._servable("UpdateCampaign", params["solutionVersionArn"])
        changes = {k: copy.deepcopy(params[k]) for k in ("solutionVersionArn", "minProvisionedTPS", "campaignConfig") if k in params}
        update = {**changes, "status": "CREATE PENDING", "creationDateTime": self.clock.now, "lastUpdatedDateTime": self.clock.now}
        resource.attributes["latestCampaignUpdate"] = update

        def applied() -> None:
            if self.resources.get(resource.arn) is resource:
                resource.attributes.update(changes)
                update["status"], update["lastUpdatedDateTime"] = "ACTIVE", self.clock.now
        self._at(self.timings.campaign, applied)
        return {"campaignArn": resource.arn}

    @operation("DeleteCampaign")
    def delete_campaign(self, params: dict) -> dict:
        resource = self.get(params["campaignArn"])
        self.require_settled(resource)
        self.begin_delete(resource)
        return {}

    def record_events(self, dataset_arn: str, count: int) -> None:
        self.events_recorded[dataset_arn] = self.events_recorded.get(dataset_arn, 0) + count


# What keeps billing while it exists (Amazon Personalize pricing: recommenders per hour while
# training or serving, not while INACTIVE; campaigns per hour of provisioned TPS; training hours;
# a solution with automatic training starts a new billed training every few days).
RECOMMENDER_UNBILLED = ("INACTIVE", "CREATE FAILED", *DELETING)


def billable(fake: StackFakePersonalize) -> list[str]:
    """ARNs of the resources billing now."""
    fake._settle()
    running = []
    for arn, resource in fake.resources.items():
        kind, status = resource.resource_type, resource.status
        if ((kind == "recommender" and status not in RECOMMENDER_UNBILLED)
                or (kind == "campaign" and status not in ("CREATE FAILED", *DELETING))
                or (kind == "solution-version" and status in CREATING)
                or (kind == "solution" and status == "ACTIVE" and resource.attributes.get("performAutoTraining", True))):
            running.append(arn)
    return sorted(running)


def attribution_order_problems(fake: StackFakePersonalize) -> list[str]:
    """Personalize reports only on data imported after the metric attribution exists, and
    SUM(ITEMS.col) needs item metadata: Items import → attribution → Interactions import."""
    problems = []
    jobs = [r for r in fake.resources.values() if r.resource_type == "dataset-import-job"]
    for attribution in [r for r in fake.resources.values() if r.resource_type == "metric-attribution"]:
        group = attribution.attributes["datasetGroupArn"]
        attribution_active = fake.active_at.get(attribution.arn)
        # Item metadata imported before the attribution was created is what SUM(ITEMS.…) needs:
        # a later Items import (an update) is fine once one finished before it.
        items_ready = any(fake.active_at.get(job.arn) is not None and fake.active_at[job.arn] <= attribution.created
                          and job.attributes["datasetArn"].endswith("/ITEMS")
                          and job.attributes["datasetArn"].startswith(group.replace(":dataset-group/", ":dataset/") + "/")
                          and (dataset := fake.resources.get(job.attributes["datasetArn"])) is not None
                          and job.created >= dataset.created
                          for job in jobs)
        for job in jobs:
            if not job.attributes["datasetArn"].startswith(group.replace(":dataset-group/", ":dataset/") + "/"):
                continue
            dataset = fake.resources.get(job.attributes["datasetArn"])
            if dataset is None or job.created < dataset.created:
                continue  # a job of an earlier dataset of that name (see stale_import_problems)
            dataset_type = job.attributes["datasetArn"].rsplit("/", 1)[-1]
            if dataset_type == "INTERACTIONS" and (attribution_active is None or job.created < attribution_active):
                problems.append(f"{job.arn.rsplit('/', 1)[-1]} started before the attribution of {group.rsplit('/', 1)[-1]}"
                                " was ACTIVE: its interactions are not reported")
            uses_items = any("ITEMS." in m["expression"].upper() for m in attribution.attributes["metrics"])
            job_active = fake.active_at.get(job.arn)
            if dataset_type == "ITEMS" and uses_items and not items_ready and (job_active is None or attribution.created < job_active):
                problems.append(f"the attribution of {group.rsplit('/', 1)[-1]} (SUM(ITEMS.…)) was created before its"
                                " Items import finished")
    return problems


def stale_import_problems(fake: StackFakePersonalize) -> list[str]:
    """Every dataset that has import jobs must have one started after the dataset itself was
    created: a job of an earlier dataset of the same name (a redeploy after destroy) imported
    nothing into this one."""
    problems = []
    for dataset in [r for r in fake.resources.values() if r.resource_type == "dataset"]:
        jobs = [r for r in fake.resources.values()
                if r.resource_type == "dataset-import-job" and r.attributes["datasetArn"] == dataset.arn]
        if jobs and not any(job.created >= dataset.created for job in jobs):
            problems.append(f"{dataset.arn.split(':', 5)[-1]}: no import job ran into this dataset; the stack adopted"
                            f" {', '.join(sorted(j.arn.rsplit('/', 1)[-1] for j in jobs))} of an earlier dataset of that name")
    return problems
