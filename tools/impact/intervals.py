"""Intervals of a ratio of totals over clusters (delta method, bootstrap), the blocks of
correlated days, heavy tails, and the multiple-comparisons adjustment."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tools.impact.figures import Comparison, Interval, Settings

BLOCK_DAYS = (1, 7, 28)  # coarser blocks tried in turn while consecutive blocks are correlated
MIN_BLOCKS = 8  # fewer blocks than this estimate the variance too poorly to coarsen further
HEAVY_TOP_HOURS = 0.01  # heavy-tailed: the top 1 % of hours with data ...
HEAVY_TOP_SHARE = 0.10  # ... carry at least this share of the total


def t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    from scipy.special import stdtrit  # Student's t quantile; scipy.stats would cost ~1 s to import

    return float(stdtrit(degrees_of_freedom, 1 - (1 - confidence) / 2))



def t_p_value(statistic: float, degrees_of_freedom: int) -> float:
    from scipy.special import stdtr

    return float(2 * stdtr(degrees_of_freedom, -abs(statistic)))



def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    method: str = "delta",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    unit: str = "days",
    positions: np.ndarray | None = None,
    heavy: bool = False,
) -> Interval:
    """sum(numerator) / sum(denominator) with an interval from the per-cluster sums given.

    `positions` (the day number of each cluster) lets correlated consecutive days be merged into
    blocks (choose_block). `heavy` (a few hours carry much of the numerator) turns the delta
    method into a studentized bootstrap, whose interval follows the skew of the data.
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    total_numerator, total_denominator = float(numerator.sum()), float(denominator.sum())
    if total_denominator <= 0:
        return Interval(None, note="the denominator is 0 in the window")
    ratio = total_numerator / total_denominator
    block_days = 1 if unit == "days" else None
    warnings: list[str] = []
    if positions is not None and len(numerator) >= 2:
        numerator, denominator, block_days, warnings = choose_block(numerator, denominator, np.asarray(positions))
    clusters = len(numerator)
    if clusters < 2:
        return Interval(ratio, note=f"no interval: 1 {unit[:-1]} in the window")
    residuals = numerator - ratio * denominator
    variance = clusters / (clusters - 1) * float(residuals @ residuals) / total_denominator**2
    se_log = math.sqrt(variance) / ratio if ratio > 0 else None
    found = Interval(ratio, se_log=se_log, df=clusters - 1, block_days=block_days, warnings=warnings)
    if method == "bootstrap" or (heavy and ratio > 0 and variance > 0):
        if _resampled(found, numerator, denominator, bootstrap_only=method == "bootstrap", confidence=confidence, resamples=resamples, seed=seed):
            return found
    t = t_quantile(confidence, clusters - 1)
    if ratio > 0:
        found.low, found.high = ratio * math.exp(-t * se_log), ratio * math.exp(t * se_log)
    else:
        found.low, found.high = 0.0, t * math.sqrt(variance)
    return found



def _resampled(
    found: Interval,
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    bootstrap_only: bool,
    confidence: float,
    resamples: int,
    seed: int,
) -> bool:
    """Whole clusters resampled: the percentile interval (`bootstrap_only`) or the studentized
    one into `found`; False when the studentized bootstrap did not settle (the delta method then)."""
    clusters, ratio, se_log = len(numerator), found.estimate, found.se_log
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=resamples)
    resampled_denominator = weights @ denominator
    usable = resampled_denominator > 0
    if usable.sum() < resamples / 2:
        found.note = "too few resamples with a nonzero denominator"
        return True
    weights, resampled_denominator = weights[usable], resampled_denominator[usable]
    ratios = (weights @ numerator) / resampled_denominator
    tail = (1 - confidence) / 2
    if bootstrap_only:
        found.low, found.high = (float(v) for v in np.percentile(ratios, [tail * 100, 100 - tail * 100]))
        return True
    # Studentized: the spread of (log R* - log R) / se*(log R*) sets each side of the interval.
    squares = weights @ numerator**2 - 2 * ratios * (weights @ (numerator * denominator)) + ratios**2 * (weights @ denominator**2)
    spread = np.sqrt(np.maximum(clusters / (clusters - 1) * squares, 0)) / resampled_denominator
    keep = (ratios > 0) & (spread > 0)
    studentized = (np.log(ratios[keep]) - math.log(ratio)) / (spread[keep] / ratios[keep])
    low_q, high_q = np.quantile(studentized, [tail, 1 - tail])
    if np.isfinite([low_q, high_q]).all() and max(-low_q, high_q) * se_log < 50:
        found.low, found.high = ratio * math.exp(-high_q * se_log), ratio * math.exp(-low_q * se_log)
        return True
    found.warnings.append("the studentized bootstrap did not settle; delta-method interval instead")
    return False


def choose_block(
    numerator: np.ndarray, denominator: np.ndarray, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """Per-block sums of consecutive days, as coarse as serial correlation needs.

    Day-clustered intervals assume days are independent. A week-long promotion or a drift makes
    neighbouring days alike, and the interval too narrow. The lag-1 autocorrelation r of the
    residuals S_b - R * B_b of neighbouring blocks is compared with 2/sqrt(G) (about the one-sided
    5 % point for G independent blocks); while it is above, days are merged into blocks of
    BLOCK_DAYS, as long as MIN_BLOCKS remain. Merging independent days only widens the interval.
    """
    ratio = numerator.sum() / denominator.sum()
    chosen = (numerator, denominator, 1)
    warnings: list[str] = []
    correlation = 0.0  # of the blocks before; read once they are too few
    for days in BLOCK_DAYS:
        keys, inverse = np.unique((positions - positions.min()) // days, return_inverse=True)
        if days > 1 and len(keys) < MIN_BLOCKS:
            warnings.append(
                f"consecutive {'days' if chosen[2] == 1 else f'{chosen[2]}-day blocks'} are correlated "
                f"(r = {correlation:.2f}), too few for {days}-day blocks: the interval may be too narrow"
            )
            break
        block_numerator = np.bincount(inverse, weights=numerator)
        block_denominator = np.bincount(inverse, weights=denominator)
        chosen = (block_numerator, block_denominator, days)
        residuals = block_numerator - ratio * block_denominator
        neighbours = np.flatnonzero(np.diff(keys) == 1)
        scale = float(residuals @ residuals)
        correlation = float(residuals[neighbours] @ residuals[neighbours + 1]) / scale if scale > 0 else 0.0
        if correlation <= 2 / math.sqrt(len(keys)):
            break
    if chosen[2] > 1:
        warnings.insert(0, f"neighbouring days are correlated: {chosen[2]}-day blocks are the independent units")
    return chosen[0], chosen[1], chosen[2], warnings



def heavy_tail(values: np.ndarray) -> str | None:
    """A warning when the top HEAVY_TOP_HOURS of the hours with data carry HEAVY_TOP_SHARE of the total."""
    positive = np.sort(values[values > 0])[::-1]
    total = float(positive.sum())
    if total <= 0:
        return None
    top = max(1, math.ceil(HEAVY_TOP_HOURS * len(positive)))
    share = float(positive[:top].sum()) / total
    # Also five times their share if all hours were alike: a handful of hours is not a tail.
    if share < max(HEAVY_TOP_SHARE, 5 * top / len(positive)):
        return None
    return (
        f"heavy-tailed: {top} of {len(positive)} hours with data carry {share * 100:.0f} % of the total; "
        "the interval is a studentized bootstrap over days, and a few more such hours would move the figure"
    )



def adjust_comparisons(comparisons: Sequence[Comparison], settings: Settings) -> int:
    """p-values of every rate lift, Holm-adjusted, and simultaneous intervals; the family size.

    Holm rather than Benjamini-Hochberg: a report is read as "which sources beat the baseline",
    and one false winner among many misleads as much as several, so the family-wise error is
    what is controlled (Holm does so at the level asked, uniformly more powerful than
    Bonferroni). The intervals next to it are Bonferroni's (level 1 - alpha/m each), the
    simultaneous intervals that go with Holm's first step.
    """
    family = [c for c in comparisons if c.rate_lift.se_log and c.rate_lift.df and c.rate_lift.estimate]
    for item in family:
        lift = item.rate_lift
        item.p_value = t_p_value(math.log(lift.estimate) / lift.se_log, lift.df)
    if settings.adjust != "holm" or not family:
        return len(family)
    size = len(family)
    running = 0.0
    for rank, item in enumerate(sorted(family, key=lambda c: c.p_value)):
        running = max(running, min(1.0, (size - rank) * item.p_value))
        item.p_adjusted = running
    level = 1 - (1 - settings.confidence) / size
    for item in family:
        lift = item.rate_lift
        spread = t_quantile(level, lift.df) * lift.se_log
        item.adjusted = Interval(lift.estimate, lift.estimate * math.exp(-spread), lift.estimate * math.exp(spread))
    return size
