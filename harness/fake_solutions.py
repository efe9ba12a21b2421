"""Solutions and solution versions for ``FakePersonalize`` (see its docstring for the wiring).

``FakeSolutions`` adds CreateSolution, DescribeSolution, UpdateSolution, ListSolutionVersions,
StopSolutionVersionCreation, DeleteSolution, TagResource and UntagResource, and for trained
versions CreateSolutionVersion, DescribeSolutionVersion and GetSolutionMetrics. As in the base fake,
statuses advance one step per Describe (solution) or per List (its versions), and every request
and response is validated against botocore's model.

Lifecycles as the model documents them:

    solution          CREATE PENDING → CREATE IN_PROGRESS → ACTIVE | CREATE FAILED
                      DELETE PENDING → DELETE IN_PROGRESS → gone
    latestSolutionUpdate  CREATE PENDING → CREATE IN_PROGRESS → ACTIVE | CREATE FAILED
    solution version  CREATE PENDING → CREATE IN_PROGRESS → ACTIVE | CREATE FAILED;
                      StopSolutionVersionCreation: CREATE PENDING → CREATE STOPPED,
                      CREATE IN_PROGRESS → CREATE STOPPING → CREATE STOPPED

Conservative choices where the service's behaviour is undocumented: UpdateSolution needs an
ACTIVE solution with no update in progress (ResourceInUseException otherwise) and at least one
field; DeleteSolution is refused while the solution is creating or any of its versions is
training or stopping (the model docs say so for training); a successful update also shows in the
solution's own fields. ``start_training(solution_arn, polls)`` plays automatic training starting a
version; ``fail_next_update(reason)`` fails the next update; ``fail_next_training(reason)`` the
next CreateSolutionVersion's training; ``training_polls`` sets how long a training takes.
"""

from __future__ import annotations

import copy
from typing import Any

from harness.fake_personalize import (
    FakeError,
    FakePersonalize,
    FakeResource,
    operation,
)

DEFAULT_AUTO_TRAINING_CONFIG = {"schedulingExpression": "rate(7 days)"}
TRAINING = ("CREATE PENDING", "CREATE IN_PROGRESS")
STOPPING = ("CREATE STOPPING",)


class FakeSolutions(FakePersonalize):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tags: dict[str, dict[str, str]] = {}
        self.updates: dict[str, dict] = {}  # solution ARN -> {"summary": ..., "schedule": [...], "apply": ...}
        self._failing_updates: list[str] = []
        self._failing_trainings: list[str] = []
        self._versions = 0
        self.training_polls = 3
        self.metrics = {"coverage": 0.2731, "precision_at_5": 0.0412, "normalized_discounted_cumulative_gain_at_10": 0.1167,
                        "mean_reciprocal_rank_at_25": 0.0923, "precision_at_10": 0.0356, "freshness": 0.5}

    # --- test controls ---------------------------------------------------------------------------

    def fail_next_update(self, reason: str) -> None:
        self._failing_updates.append(reason)

    def start_training(self, solution_arn: str, polls: int = 3, training_mode: str = "AUTOTRAIN") -> str:
        """A solution version starts training (as automatic training does); returns its ARN."""
        self._versions += 1
        arn = f"{solution_arn}/{self._versions:08x}"  # solution version ARNs extend the solution's
        resource = self.add_resource(arn, "solution-version", {
            "solutionVersionArn": arn, "solutionArn": solution_arn, "trainingMode": training_mode})
        resource.schedule = ["CREATE IN_PROGRESS"] * polls + ["ACTIVE"]
        return arn

    def fail_next_training(self, reason: str) -> None:
        self._failing_trainings.append(reason)

    def versions_of(self, solution_arn: str) -> list[FakeResource]:
        return [r for r in self._of_type("solution-version") if r.attributes["solutionArn"] == solution_arn]

    # --- solutions ---------------------------------------------------------------------------------

    @operation("CreateSolution")
    def create_solution(self, params: dict) -> dict:
        arn = self.arn("solution", params["name"])
        group = params["datasetGroupArn"]
        if group not in self.dataset_groups:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset group {group}")
        self.require_absent(arn)
        if params.get("solutionConfig", {}).get("eventValueThreshold") and not params.get("eventType"):
            raise FakeError("InvalidInputException", "eventValueThreshold requires eventType")
        auto_training = params.get("performAutoTraining", True)
        config = copy.deepcopy(params.get("solutionConfig", {}))
        if auto_training:
            config.setdefault("autoTrainingConfig", dict(DEFAULT_AUTO_TRAINING_CONFIG))
        attributes = {
            "name": params["name"],
            "solutionArn": arn,
            "datasetGroupArn": group,
            "recipeArn": params["recipeArn"],
            "performHPO": params.get("performHPO", False),
            "performAutoML": params.get("performAutoML", False),
            "performAutoTraining": auto_training,
            "solutionConfig": config,
        }
        for key in ("eventType", "performIncrementalUpdate"):
            if key in params:
                attributes[key] = params[key]
        self.add_resource(arn, "solution", attributes)
        self.tags[arn] = {tag["tagKey"]: tag["tagValue"] for tag in params.get("tags", [])}
        return {"solutionArn": arn}

    @operation("DescribeSolution")
    def describe_solution(self, params: dict) -> dict:
        arn = params["solutionArn"]
        view = self.observe(arn).view()
        view.pop("failureReason", None)  # the Solution shape has no failureReason (unlike its updates)
        update = self.updates.get(arn)
        if update is not None:
            view["latestSolutionUpdate"] = copy.deepcopy(update["summary"])
            self._advance_update(arn, update)
        return {"solution": view}

    def _advance_update(self, arn: str, update: dict) -> None:
        if not update["schedule"]:
            return
        status = update["schedule"].pop(0)
        update["summary"]["status"] = status
        update["summary"]["lastUpdatedDateTime"] = self.now()
        if status == "CREATE FAILED":
            update["summary"]["failureReason"] = update["reason"]
        elif status == "ACTIVE" and arn in self.resources:
            attributes = self.resources[arn].attributes
            summary = update["summary"]
            attributes["performAutoTraining"] = summary["performAutoTraining"]
            if "performIncrementalUpdate" in summary:
                attributes["performIncrementalUpdate"] = summary["performIncrementalUpdate"]
            attributes["solutionConfig"].update(copy.deepcopy(summary.get("solutionUpdateConfig", {})))

    @operation("UpdateSolution")
    def update_solution(self, params: dict) -> dict:
        arn = params["solutionArn"]
        resource = self.get(arn)
        self.require_settled(resource)
        if resource.status != "ACTIVE":
            raise FakeError("ResourceInUseException", f"Solution {arn} is {resource.status}")
        current = self.updates.get(arn)
        if current is not None and current["summary"]["status"] in TRAINING:
            raise FakeError("ResourceInUseException", f"An update of {arn} is in progress")
        fields = {key: params[key] for key in ("performAutoTraining", "performIncrementalUpdate", "solutionUpdateConfig")
                  if key in params}
        if not fields:
            raise FakeError("InvalidInputException", "Nothing to update")
        now = self.now()
        summary = {
            "status": "CREATE PENDING",
            "performAutoTraining": fields.get("performAutoTraining", resource.attributes["performAutoTraining"]),
            "creationDateTime": now,
            "lastUpdatedDateTime": now,
        }
        if "performIncrementalUpdate" in fields:
            summary["performIncrementalUpdate"] = fields["performIncrementalUpdate"]
        if "solutionUpdateConfig" in fields:
            summary["solutionUpdateConfig"] = copy.deepcopy(fields["solutionUpdateConfig"])
        reason = self._failing_updates.pop(0) if self._failing_updates else None
        self.updates[arn] = {"summary": summary, "schedule": ["CREATE IN_PROGRESS", "CREATE FAILED" if reason else "ACTIVE"],
                             "reason": reason}
        return {"solutionArn": arn}

    @operation("DeleteSolution")
    def delete_solution(self, params: dict) -> dict:
        arn = params["solutionArn"]
        resource = self.get(arn)
        self.require_settled(resource)
        busy = [v.arn for v in self.versions_of(arn) if v.status in TRAINING + STOPPING]
        if busy:
            raise FakeError("ResourceInUseException", f"Solution version {busy[0]} is training")
        self.begin_delete(resource)
        for version in self.versions_of(arn):
            del self.resources[version.arn]
        self.updates.pop(arn, None)
        return {}

    # --- solution versions -------------------------------------------------------------------------

    @operation("ListSolutionVersions")
    def list_solution_versions(self, params: dict) -> dict:
        arn = params.get("solutionArn")
        if arn is not None:
            self.get(arn)
        versions = [self.observe(v.arn) for v in (self.versions_of(arn) if arn else self._of_type("solution-version"))]
        summaries = []
        for version in versions:
            summary = {
                "solutionVersionArn": version.arn,
                "status": version.status,
                "trainingMode": version.attributes["trainingMode"],
                "creationDateTime": version.created,
                "lastUpdatedDateTime": version.updated,
            }
            summaries.append(summary)
        start = int(params.get("nextToken") or 0)
        size = min(params.get("maxResults", 100), self.page_size)
        page = {"solutionVersions": summaries[start:start + size]}
        if start + size < len(summaries):
            page["nextToken"] = str(start + size)
        return page

    @operation("StopSolutionVersionCreation")
    def stop_solution_version_creation(self, params: dict) -> dict:
        version = self.get(params["solutionVersionArn"])
        if version.status == "CREATE PENDING":
            self.begin_transition(version, ["CREATE STOPPED"])
        elif version.status == "CREATE IN_PROGRESS":
            self.begin_transition(version, ["CREATE STOPPING", "CREATE STOPPED"])
        else:
            raise FakeError("ResourceInUseException", f"Solution version {version.arn} is {version.status}")
        return {}

    @operation("CreateSolutionVersion")
    def create_solution_version(self, params: dict) -> dict:
        solution = self.get(params["solutionArn"])
        if solution.status != "ACTIVE":
            raise FakeError("ResourceInUseException", f"Solution {solution.arn} is {solution.status}")
        mode = params.get("trainingMode", "FULL")
        if mode == "UPDATE" and not any(v.status == "ACTIVE" and v.attributes["trainingMode"] == "FULL" for v in self.versions_of(solution.arn)):
            raise FakeError("InvalidInputException", "trainingMode UPDATE needs an ACTIVE FULL solution version")
        arn = self.start_training(solution.arn, polls=self.training_polls, training_mode=mode)
        version = self.resources[arn]
        if params.get("name"):
            version.attributes["name"] = params["name"]
        reason = self._failing_trainings.pop(0) if self._failing_trainings else None
        if reason:
            version.schedule, version.failure_reason = ["CREATE IN_PROGRESS", "CREATE FAILED"], reason
        return {"solutionVersionArn": arn}

    @operation("DescribeSolutionVersion")
    def describe_solution_version(self, params: dict) -> dict:
        return {"solutionVersion": self.observe(params["solutionVersionArn"]).view()}

    @operation("GetSolutionMetrics")
    def get_solution_metrics(self, params: dict) -> dict:
        version = self.get(params["solutionVersionArn"])
        if version.status != "ACTIVE":
            raise FakeError("ResourceInUseException", f"Solution version {version.arn} is {version.status}")
        return {"solutionVersionArn": version.arn, "metrics": dict(self.metrics)}

    # --- tags ----------------------------------------------------------------------------------------

    @operation("TagResource")
    def tag_resource(self, params: dict) -> dict:
        self.get(params["resourceArn"])
        self.tags.setdefault(params["resourceArn"], {}).update({t["tagKey"]: t["tagValue"] for t in params["tags"]})
        return {}

    @operation("UntagResource")
    def untag_resource(self, params: dict) -> dict:
        self.get(params["resourceArn"])
        for key in params["tagKeys"]:
            self.tags.get(params["resourceArn"], {}).pop(key, None)
        return {}
