"""Interleaved rounds for a self-check's comparisons: the order the sides take turns in, and each
figure's per-round values summarised as a median with its bootstrap interval, flagged when the
rounds disagree."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bench.analyse.interval import median_interval, ratios
from bench.report.console import NOT_AVAILABLE

# A figure whose interval reaches further than this from its median is flagged: its rounds
# disagree more than the targets' run-to-run tolerance (±10% of the mean across runs).
MAX_SPREAD = 0.10
CONFIDENCE = 0.95
SEED = 0


def order(steps: Sequence[str], rounds: int) -> list[list[str]]:
    """The steps of each round: as given in even rounds, reversed in odd ones (ABBA), so that a
    drift of the machine over a round falls on every side alike."""
    if rounds < 1:
        raise ValueError(f"rounds must be 1 or more, not {rounds}")
    return [list(steps) if r % 2 == 0 else list(reversed(steps)) for r in range(rounds)]


def run_rounds(
    steps: Mapping[str, Callable[[int], object]],
    rounds: int,
    say: Callable[[str], None] = lambda _: None,
) -> None:
    """Call every step once per round (with the round's number), in alternating order."""
    for number, names in enumerate(order(list(steps), rounds)):
        say(f"round {number + 1}/{rounds}: {', '.join(names)}")
        for name in names:
            steps[name](number)


@dataclass(frozen=True)
class Figure:
    """One figure measured in every round: its per-round values and their median's interval."""

    name: str
    values: list[float]
    interval: tuple[float, float, float] | None
    bound: float = MAX_SPREAD

    @property
    def median(self) -> float | None:
        return None if self.interval is None else self.interval[0]

    @property
    def disagrees(self) -> bool:
        """Whether the interval reaches beyond ±bound of the median (or has no median to hold)."""
        if self.interval is None:
            return False
        median, low, high = self.interval
        if median == 0:
            return low != high
        return max(median - low, high - median) > self.bound * abs(median)


def figure(name: str, values: Sequence[float | None], bound: float = MAX_SPREAD) -> Figure:
    """A figure from its per-round values; rounds without a value are left out."""
    kept = [v for v in values if v is not None]
    return Figure(name, kept, median_interval(kept, CONFIDENCE, SEED), bound)


def paired(
    name: str,
    numerators: Sequence[float | None],
    denominators: Sequence[float | None],
    bound: float = MAX_SPREAD,
) -> Figure:
    """A ratio from pairs measured in the same round; a pair missing either side is left out."""
    pairs = [
        (n, d)
        for n, d in zip(numerators, denominators, strict=True)
        if n is not None and d is not None
    ]
    kept = ratios([n for n, _ in pairs], [d for _, d in pairs])
    return Figure(name, kept, median_interval(kept, CONFIDENCE, SEED), bound)


def cell(fig: Figure, digits: int = 3, scale: float = 1.0) -> str:
    """`median (low–high)`, with a red mark when the rounds disagree."""
    if fig.interval is None:
        return NOT_AVAILABLE
    median, low, high = (v * scale for v in fig.interval)
    text = f"{median:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"
    return f"[red]{text} ![/]" if fig.disagrees else text


def per_round(fig: Figure, digits: int = 3, scale: float = 1.0) -> str:
    """The per-round values, in round order."""
    return " ".join(f"{v * scale:.{digits}f}" for v in fig.values) or NOT_AVAILABLE


def legend(figures: Sequence[Figure], over: str) -> list[str]:
    """How the intervals were made (`over`: of what, e.g. "8 interleaved rounds"), and a red line
    naming the figures whose rounds disagree."""
    lines = [
        f"median (low–high) over {over}: percentile bootstrap "
        f"{CONFIDENCE:.0%} interval of the median (seed {SEED}; with fewer than 3 rounds, their "
        "range); a ratio is the median of its per-round ratios, both sides from the same round"
    ]
    flagged = [f.name for f in figures if f.disagrees]
    if flagged:
        lines.append(
            f"[red]! rounds disagree (interval beyond ±{MAX_SPREAD:.0%} of the median): "
            f"{', '.join(flagged)}[/]"
        )
    return lines
