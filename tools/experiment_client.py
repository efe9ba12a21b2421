"""How an application gets its experiment arm and attributes what it shows (docs/experiments.md).

The AppConfig agent (EC2, ECS, EKS) or Lambda extension serves the deployed flags on
localhost:2772 and evaluates multi-variant flags with the caller's context, passed as
``Context: key=value`` headers; ``?flag=KEY`` returns one flag (user guide, "Retrieving basic and
multi-variant feature flags"). The answer is ``{KEY: {"_variant": name, "enabled": ..., attributes}}``.
The variant's ``arn`` is the recommender or campaign to call; its ``eventAttributionSource`` goes
into every event about what was shown, so metric attribution counts it for that arm.

Copy this file into the application (it needs only the standard library and boto3).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

AGENT = "http://localhost:2772"


@dataclass(frozen=True)
class Arm:
    source: str
    event_attribution_source: str
    arn: str | None  # None: not a Personalize source (e.g. a vendor widget)


def arm_for(user_id: str, *, application: str, environment: str, profile: str, flag: str, agent: str = AGENT, timeout: float = 1.0) -> Arm:
    """The user's arm of experiment ``flag``, as the agent evaluates it for ``userId=user_id``."""
    query = urllib.parse.urlencode({"flag": flag})
    path = "/".join(urllib.parse.quote(part, safe="") for part in ("applications", application, "environments", environment, "configurations", profile))
    request = urllib.request.Request(f"{agent}/{path}?{query}", headers={"Context": f"userId={user_id}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())[flag]
    return Arm(answer["source"], answer["eventAttributionSource"], answer.get("arn"))


def recommend_and_attribute(arm: Arm, user_id: str, runtime: Any) -> tuple[list[str], dict[str, Any]]:
    """Item ids to show from the arm's recommender (or campaign), and the ``metricAttribution`` to
    put on the PutEvents events about them; a non-Personalize arm shows its own widget (no ids)."""
    items: list[str] = []
    if arm.arn is not None:
        key = "campaignArn" if ":campaign/" in arm.arn else "recommenderArn"
        items = [item["itemId"] for item in runtime.get_recommendations(**{key: arm.arn, "userId": user_id})["itemList"]]
    return items, {"eventAttributionSource": arm.event_attribution_source}
