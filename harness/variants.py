"""Config variants synthesized in one Python process (one jsii start-up): a new cdk.App per
variant, without cdk-nag (the test suite's synthesis checks nag on the real configs)."""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO = Path(__file__).resolve().parents[1]
BASE_CONFIGS = {
    "default": REPO / "config" / "default.yaml",
    "multi": REPO / "config" / "multi-group.yaml",
    "custom": REPO / "config" / "custom-solutions.yaml",
    "experiments": REPO / "config" / "experiments.yaml",
}


def _group(config: dict, index: int = 0) -> dict:
    return config["datasetGroups"][index]


def _set(path: Callable[[dict], None]) -> Callable[[dict], dict]:
    def mutate(config: dict) -> dict:
        changed = copy.deepcopy(config)
        path(changed)
        return changed
    return mutate


CHANGED_FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Purchase", "rating")'
def _six_imports(config: dict) -> None:
    """Three groups of Interactions and Items, without attribution: six imports start at once."""
    group = _group(config)
    group.pop("metricAttribution")
    group["recommenders"] = []
    config["datasetGroups"] = [{**copy.deepcopy(group), "name": name} for name in ("retail", "outlet", "archive")]
    config["dashboard"]["derivedMetrics"] = []


# variant → (base config, mutation)
VARIANTS: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "default": ("default", _set(lambda c: None)),
    "multi": ("multi", _set(lambda c: None)),
    "metric-changed": ("default", _set(lambda c: _group(c)["metricAttribution"].update(metrics=[
        {"eventType": "View", "expression": "SAMPLECOUNT()", "metricName": "countViews"},
        {"eventType": "View", "expression": "SUM(ITEMS.MARGIN)", "metricName": "sumMargin"},
        {"eventType": "Purchase", "expression": "SUM(ITEMS.PRICE)", "metricName": "revenue"}]))),
    "s3-output-off": ("default", _set(lambda c: _group(c)["metricAttribution"].update(s3Output=False))),
    "recipe-changed": ("default", _set(lambda c: _group(c)["recommenders"][1].update(recipe="aws-ecomm-popular-items-by-views"))),
    "recommender-removed": ("default", _set(lambda c: _group(c)["recommenders"].pop())),
    "group-removed": ("multi", _set(lambda c: c["datasetGroups"].pop())),
    "config-changed": ("default", _set(lambda c: _group(c)["recommenders"][0]["recommenderConfig"].update(minRecommendationRequestsPerSecond=2))),
    "inactive": ("default", _set(lambda c: [r.update(state="INACTIVE") for r in _group(c)["recommenders"]])),
    "import-changed": ("default", _set(lambda c: _group(c)["datasets"]["interactions"]["dataImport"].update(
        location="imports/retail/interactions-2024.csv", version="2"))),
    "timeout-changed": ("default", _set(lambda c: c.update(longWaitTimeoutHours=10))),
    "tags-changed": ("default", _set(lambda c: c["tags"].update(environment="staging", owner="data-team"))),
    "untagged": ("default", _set(lambda c: c.update(tags={}))),
    # Custom solutions (config/custom-solutions.yaml): solution 0 is top-picks, 1 is similar.
    "custom": ("custom", _set(lambda c: None)),
    "custom-retrained": ("custom", _set(lambda c: _group(c)["solutions"][0]["training"].update(version="2"))),
    "custom-tps": ("custom", _set(lambda c: _group(c)["solutions"][0]["campaigns"][0].update(minProvisionedTPS=2))),
    "custom-threshold": ("custom", _set(lambda c: _group(c)["solutions"][0].update(eventValueThreshold=4))),
    "custom-campaign-removed": ("custom", _set(lambda c: _group(c)["solutions"][1].update(campaigns=[]))),
    # Two in-place changes of one recommender at once (its tags and its recommenderConfig).
    "tags-and-config-changed": ("default", _set(lambda c: (c["tags"].update(environment="staging"),
                                                           _group(c)["recommenders"][0]["recommenderConfig"].update(minRecommendationRequestsPerSecond=2)))),
    "custom-filter-changed": ("custom", _set(lambda c: _group(c)["filters"][0].update(expression=CHANGED_FILTER))),
    "six-imports": ("default", _set(_six_imports)),
    # After a RETAIN destroy: the retained buckets used, not created again (docs/storage-lifecycle.md).
    "default-reuse": ("default", _set(lambda c: c.update(reuseRetainedBuckets=True))),
    # Release templates (tools/release.py): parameters and the cost switches' Conditions.
    "release-default": ("default", _set(lambda c: None)),
    "release-custom": ("custom", _set(lambda c: None)),
    # Experiments (config/experiments.yaml): experiment 0 is home-widget (widget 50 / rfy 50).
    "experiments": ("experiments", _set(lambda c: None)),
    "experiments-reweighted": ("experiments", _set(lambda c: _group(c)["experiments"][0].update(arms=[
        {"source": "third_party_widget", "weight": 20}, {"source": "recommended_for_you", "weight": 80}]))),
    "experiments-ended": ("experiments", _set(lambda c: _group(c)["experiments"][0].update(end="2026-12-29", winner="recommended_for_you"))),
    "experiments-removed": ("experiments", _set(lambda c: _group(c).pop("experiments"))),
}
RELEASES = {"release-default", "release-custom"}
# Variants a scenario deploys whole (storage, personalize and dashboard stacks: deploy_all in
# harness/scenarios.py, which refuses any other). The rest are synthesized without the dashboard
# stack, which nothing else reads: a quarter less synthesis, the same personalize template.
DEPLOYED_WHOLE = {"default", "default-reuse", "release-default", "release-custom"}
RELEASE_ASSET_BUCKET, RELEASE_KEY_PREFIX = "sim-release-assets", "personalize-impact/sim/"


def raw_config(name: str) -> dict:
    base, mutate = VARIANTS[name]
    return mutate(yaml.safe_load(BASE_CONFIGS[base].read_text()))


def synthesize(outdir: Path, names: list[str] | None = None, *, synthesized: Mapping[Path, Path] | None = None) -> dict[str, Any]:
    """Synthesize the variants into outdir/<variant>/; returns per variant the personalize
    template path and the asset root, plus the seconds it took.

    `synthesized` maps a config file to a cloud assembly that already holds its stacks, made by
    new_app and add_environment as here (the test session's synthesis): a variant that is that
    config unchanged is read from there, not synthesized again (the templates are the same bytes).
    """
    import sys
    sys.path.insert(0, str(REPO))
    from stacks.app_builder import add_environment, new_app
    from config import parse_config
    from tools.release import release_synthesizer

    started = time.perf_counter()
    synthesized = synthesized or {}
    variants = {}
    for name in names or list(VARIANTS):
        raw = raw_config(name)
        config = parse_config(raw, f"variant {name}")
        base = BASE_CONFIGS[VARIANTS[name][0]]
        if name not in RELEASES and base in synthesized and raw == yaml.safe_load(base.read_text()):
            folder = synthesized[base]
        else:
            folder = outdir / name
            app = new_app(outdir=str(folder), validate_templates=False)
            release = {"synthesizer": lambda: release_synthesizer(RELEASE_ASSET_BUCKET, RELEASE_KEY_PREFIX),
                       "parameterized": True} if name in RELEASES else {}
            add_environment(app, config, with_dashboard=name in DEPLOYED_WHOLE, **release)
            app.synth()
        variants[name] = {"template": str(folder / f"{config.name}-personalize.template.json"), "assets": str(folder),
                          "stack": f"{config.name}-personalize",
                          "storage_template": str(folder / f"{config.name}-storage.template.json"),
                          "storage_stack": f"{config.name}-storage",
                          "dashboard_template": str(folder / f"{config.name}-dashboard.template.json"),
                          "dashboard_stack": f"{config.name}-dashboard"}
    return {"variants": variants, "seconds": round(time.perf_counter() - started, 2)}


def load_template(path: str) -> dict:
    return json.loads(Path(path).read_text())
