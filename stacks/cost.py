"""What a deployment of a config bills, from the config alone (no AWS call), at the prices of
`stacks/prices.csv` (one table: region, date read, source page, how it was read; docs/cost.md).

Four kinds of charge:

* **hourly** while deployed: each ACTIVE recommender bills its `minRecommendationRequestsPerSecond`
  floor (requests an hour at the recommender request price) and each enabled campaign its
  `minProvisionedTPS` (TPS-hours), whether or not anyone calls them (CreateRecommender and
  CreateCampaign API docs). The release switches `RecommendersEnabled` / `CampaignsEnabled`
  (stacks/deployment.py) remove them;
* **trainings**: what a deploy trains (a solution version per solution) and what retrains on its
  own (auto-training schedules; recommenders every 7 days, Developer Guide "Domain recommenders"),
  billed per training hour, which depends on the data, not on the config;
* **monthly** fixed: CloudWatch custom metrics (metrics x sources of each group publishing to
  CloudWatch; whether the AWS/Personalize series bill as custom metrics is undocumented, so the
  stricter reading counts them), the dashboard, alarms, customer managed KMS keys;
* **usage**: unit prices of what scales with use (Athena per TB scanned, Lambda, Step Functions
  per deploy-time poll, imports per GB).

A price the table marks `unread` has no figure: its charge is listed with an unknown amount and
never counted as zero in a total.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lambdas.personalize_resources.address_book import IMPORT_POLL_SECONDS, TRAINING_POLL_SECONDS, whole_seconds

from config import AppConfig

PRICES_CSV = Path(__file__).with_name("prices.csv")
DEFAULT_REGION = "us-east-1"
HOURS_PER_MONTH = 730  # the month of AWS's pricing pages
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
RECOMMENDER_RETRAIN_DAYS = 7  # Developer Guide, "Domain recommenders": full retraining every 7 days
TRANSITIONS_PER_POLL = 3  # Wait -> Poll -> Finished (stacks/constructs/poller.py)
NEW_VERSION = "new training.version"  # a solution trains on its first deploy and when its training.version changes
RECOMMENDERS_SWITCH = "RecommendersEnabled"
CAMPAIGNS_SWITCH = "CampaignsEnabled"


@dataclass(frozen=True)
class Price:
    key: str
    region: str
    usd: float | None  # None: the table could not read it
    unit: str
    read_on: str
    source: str
    status: str  # aws: read on the source page; quoted: read on the page named in read_via; unread
    read_via: str


class PriceError(Exception):
    """The price table lacks the region or a key."""


@cache
def price_table(path: Path = PRICES_CSV) -> tuple[Price, ...]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return tuple(
        Price(r["key"], r["region"], float(r["usd"]) if r["usd"] else None, r["unit"], r["read_on"], r["source"], r["status"], r["read_via"])
        for r in rows
    )


def prices(region: str = DEFAULT_REGION) -> dict[str, Price]:
    table = {p.key: p for p in price_table() if p.region == region}
    if not table:
        regions = sorted({p.region for p in price_table()})
        raise PriceError(f"stacks/prices.csv has no prices for {region}; it has {', '.join(regions)} (add that region's rows to the table)")
    return table


@dataclass(frozen=True)
class Charge:
    kind: str  # hourly | training | monthly | usage
    what: str
    quantity: float  # in the price's unit, per hour (hourly), per month (monthly), per new version or per month (training)
    price: Price
    per: str = ""  # training: NEW_VERSION or "month"; usage: what the quantity counts
    switch: str | None = None  # the release parameter that removes it

    @property
    def usd(self) -> float | None:
        return None if self.price.usd is None else self.quantity * self.price.usd


@dataclass(frozen=True)
class Estimate:
    config_name: str
    region: str
    charges: tuple[Charge, ...]

    def of(self, kind: str) -> list[Charge]:
        return [c for c in self.charges if c.kind == kind]

    def total(self, kind: str, *, switch: str | None = None) -> float:
        """The known part of a kind's total (unknown amounts are reported apart, never as 0)."""
        return sum(c.usd or 0.0 for c in self.of(kind) if switch is None or c.switch == switch)

    def unknown(self, kind: str) -> list[Charge]:
        return [c for c in self.of(kind) if c.usd is None]

    @property
    def hourly(self) -> float:
        return self.total("hourly")

    @property
    def monthly_fixed(self) -> float:
        return self.total("monthly")

    @property
    def month(self) -> float:
        """Idle hours of a month plus the fixed monthly charges (trainings and usage apart)."""
        return self.hourly * HOURS_PER_MONTH + self.monthly_fixed

    def savings_per_hour(self) -> dict[str, float]:
        """What each release switch saves while off, per hour."""
        return {switch: self.total("hourly", switch=switch) for switch in (RECOMMENDERS_SWITCH, CAMPAIGNS_SWITCH) if any(c.switch == switch for c in self.charges)}

    def trainings(self, per: str) -> float:
        return sum(c.quantity for c in self.of("training") if c.per == per)


def estimate(config: AppConfig, region: str = DEFAULT_REGION) -> Estimate:
    table = prices(region)
    charges: list[Charge] = []
    charges += _serving(config, table)
    charges += _trainings(config, table)
    charges += _monthly(config, table)
    charges += _usage(config, table)
    return Estimate(config.name, region, tuple(charges))


def _serving(config: AppConfig, table: dict[str, Price]) -> list[Charge]:
    charges: list[Charge] = []
    for group in config.dataset_groups:
        for recommender in group.recommenders:
            if recommender.state != "ACTIVE":
                continue  # a stopped recommender bills nothing (StopRecommender)
            rps = int(recommender.recommender_config.get("minRecommendationRequestsPerSecond", 1))
            name = f"recommender {group.name}/{recommender.name}"
            # requests an hour at the floor, in the price's unit of 1,000 requests
            charges.append(Charge("hourly", f"{name}: {rps} request/s floor", rps * 3600 / 1000, table["personalize.recommender_requests"], switch=RECOMMENDERS_SWITCH))
            if recommender.recommender_config.get("enableMetadataWithRecommendations"):
                charges.append(Charge("hourly", f"{name}: metadata in recommendations", 1, table["personalize.metadata_in_recommendations"], switch=RECOMMENDERS_SWITCH))
        for _, campaign in group.campaigns(enabled_only=True):
            name = f"campaign {group.name}/{campaign.name}"
            charges.append(Charge("hourly", f"{name}: {campaign.min_provisioned_tps} TPS floor", campaign.min_provisioned_tps, table["personalize.campaign_tps_hour"], switch=CAMPAIGNS_SWITCH))
            if campaign.metadata:
                charges.append(Charge("hourly", f"{name}: metadata in recommendations", 1, table["personalize.metadata_in_recommendations"], switch=CAMPAIGNS_SWITCH))
    return charges


def _trainings(config: AppConfig, table: dict[str, Price]) -> list[Charge]:
    charges: list[Charge] = []
    for group in config.dataset_groups:
        for solution in group.solutions:
            name = f"solution {group.name}/{solution.name}"
            hpo = " with HPO" if solution.perform_hpo else ""
            charges.append(Charge("training", f"{name}: trains{hpo} at each new training.version", 1, table["personalize.training_hour"], per=NEW_VERSION))
            if solution.auto_training.enabled:
                days = solution.auto_training.interval_days
                charges.append(Charge("training", f"{name}: auto-training every {days} days", DAYS_PER_MONTH / days, table["personalize.training_hour"], per="month"))
        for recommender in group.recommenders:
            if recommender.state == "ACTIVE":
                charges.append(Charge("training", f"recommender {group.name}/{recommender.name}: retrains every {RECOMMENDER_RETRAIN_DAYS} days",
                                      DAYS_PER_MONTH / RECOMMENDER_RETRAIN_DAYS, table["personalize.recommender_retraining"], per="month", switch=RECOMMENDERS_SWITCH))
    return charges


def custom_metric_series(config: AppConfig) -> int:
    """CloudWatch series the metric attributions publish: metrics x known sources per group."""
    return sum(
        len(g.metric_attribution.metrics) * len(g.all_sources())
        for g in config.dataset_groups
        if g.metric_attribution is not None and g.metric_attribution.cloudwatch
    )


def alarm_count(config: AppConfig) -> int:
    """The alarms stacks/constructs/alarms.py creates: the configured ones, and two ingestion
    alarms (PutEvents 4xx and 5xx) per group with an event tracker when they are on."""
    if not config.dashboard.enabled:
        return 0
    ingestion = 2 * sum(1 for g in config.dataset_groups if g.event_tracker) if config.dashboard.ingestion_alarms.enabled else 0
    return len(config.dashboard.alarms) + ingestion


def kms_key_count(config: AppConfig) -> int:
    """Customer managed keys the stacks create: the data key (KMS mode without kmsKeyArn) and
    the alarm topic's key (stacks/constructs/alarms.py)."""
    data_key = config.encryption.mode == "KMS" and not config.encryption.kms_key_arn
    return int(data_key) + int(config.dashboard.enabled and config.dashboard.any_alarms())


def _monthly(config: AppConfig, table: dict[str, Price]) -> list[Charge]:
    charges: list[Charge] = []
    if series := custom_metric_series(config):
        charges.append(Charge("monthly", f"{series} metric attribution series (metrics x sources)", series, table["cloudwatch.custom_metric_month"]))
    if config.dashboard.enabled:
        charges.append(Charge("monthly", "1 dashboard", 1, table["cloudwatch.dashboard_month"]))
    if alarms := alarm_count(config):
        charges.append(Charge("monthly", counted(alarms, "alarm"), alarms, table["cloudwatch.alarm_month"]))
    if keys := kms_key_count(config):
        charges.append(Charge("monthly", counted(keys, "customer managed KMS key"), keys, table["kms.key_month"]))
    return charges


def deploy_polls(config: AppConfig) -> int:
    """At most how many polls the waiters run in one deploy: each import job, recommender and
    training polled until the long-wait timeout (longWaitTimeoutHours)."""
    seconds = whole_seconds(config.long_wait_timeout_hours)
    imports = sum(1 for g in config.dataset_groups for d in g.datasets.present().values() if d.data_import is not None)
    recommenders = sum(len(g.recommenders) for g in config.dataset_groups)
    solutions = sum(len(g.solutions) for g in config.dataset_groups)
    return int(
        imports * seconds // IMPORT_POLL_SECONDS
        + recommenders * seconds // (config.recommender_poll_minutes * 60)
        + solutions * seconds // TRAINING_POLL_SECONDS
    )


def _usage(config: AppConfig, table: dict[str, Price]) -> list[Charge]:
    polls = deploy_polls(config)
    charges = [
        Charge("usage", f"deploy-time waiters: at most {polls:,} polls x {TRANSITIONS_PER_POLL} state transitions", polls * TRANSITIONS_PER_POLL / 1000, table["stepfunctions.transitions"], per="deploy, at most"),
        Charge("usage", f"deploy-time waiters: at most {polls:,} Lambda polls", polls / 1_000_000, table["lambda.requests"], per="deploy, at most"),
        Charge("usage", "data imported or sent with PutEvents", 1, table["personalize.ingestion_gb"], per="GB"),
        Charge("usage", "recommendation requests above the floors", 1, table["personalize.recommender_requests"], per="1,000 requests"),
        Charge("usage", "data bucket and metric reports", 1, table["s3.standard_gb_month"], per="GB-month"),
    ]
    if config.dashboard.enabled and config.dashboard.report_queries:
        charges.append(Charge("usage", "Athena report queries", 1, table["athena.tb_scanned"], per="TB scanned"))
    return charges


# --- text -----------------------------------------------------------------------------------------


def usd(amount: float | None) -> str:
    if amount is None:
        return "unknown"
    return f"USD {amount:,.2f}" if amount >= 0.01 or amount == 0 else f"USD {amount:.2g}"


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summary(estimate_: Estimate) -> str:
    """One line: what the deployment bills while it stands, and what the release switches save."""
    parts = [f"bills {usd(estimate_.hourly)}/hour while deployed ({usd(estimate_.month)}/month with fixed charges)"]
    unknown = estimate_.unknown("hourly") + estimate_.unknown("monthly")
    if unknown:
        parts.append(f"plus {counted(len(unknown), 'charge')} whose price is unread")
    trainings = estimate_.trainings(NEW_VERSION)
    if trainings:
        parts.append(f"{counted(int(trainings), 'training')} per new training.version at {usd(_training_price(estimate_))}/training hour")
    for switch, saved in estimate_.savings_per_hour().items():
        parts.append(f"{switch}=false saves {usd(saved)}/hour")
    return "; ".join(parts) + f" ({estimate_.region} prices, make cost for the breakdown)"


def _training_price(estimate_: Estimate) -> float | None:
    return next((c.price.usd for c in estimate_.of("training") if c.per == NEW_VERSION), None)


def markdown(estimate_: Estimate) -> list[str]:
    """The dashboard's cost widget: the estimate at synth, by kind, one line each."""
    read_on = max((c.price.read_on for c in estimate_.charges), default="")

    def listing(kind: str) -> str:
        return "; ".join(f"{c.what} ({usd(c.usd) if c.usd is not None else 'price unread'})" for c in estimate_.of(kind)) or "none"

    lines = [
        # No region name: the template stays environment-agnostic (make cost names the table's region).
        f"## What this environment bills (estimated at synth from its config, at the prices of stacks/prices.csv read {read_on})",
        f"* **While deployed:** {usd(estimate_.hourly)}/hour, {usd(estimate_.hourly * HOURS_PER_MONTH)} a month of {HOURS_PER_MONTH} hours, "
        f"billed whether or not anyone calls them: {listing('hourly')}.",
        f"* **Fixed:** {usd(estimate_.monthly_fixed)}/month: {listing('monthly')}.",
    ]
    trainings = estimate_.of("training")
    if trainings:
        lines.append("* **Trainings** (billed per training hour, which the data decides): "
                     + "; ".join(c.what + (f" (about {c.quantity:.3g} a month)" if c.per == "month" else "") for c in trainings) + ".")
    for switch, saved in estimate_.savings_per_hour().items():
        lines.append(f"* Deployed from a release with `{switch}=false`, this saves {usd(saved)}/hour.")
    lines.append("Usage (imports per GB, requests above the floors, Athena per TB scanned) comes on top: `make cost CONFIG=...` prints every line and price.")
    return lines
