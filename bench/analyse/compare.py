"""`archbench compare RUN_A RUN_B`: how the headline figures changed from one run to another, and
a regression guard for CI (`--fail-on p99:+10%,capacity:-5%`: exit 2 beyond a threshold)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from bench.analyse.headline import BY_NAME, METRICS, Metric, Value, format_value, headline
from bench.store.stored import StoredRun, open_run
from pipeline.errors import UserError

REGRESSION_EXIT = 2  # 1 is a user's mistake (a bad flag, a missing folder)
RULE = re.compile(r"(?P<name>[a-z0-9]+):(?P<sign>[+-])(?P<percent>\d+(?:\.\d+)?)%")
# Config that may differ between comparable runs: where and under which name results went.
INCIDENTAL = {"label", "base_port"}


class CompareError(UserError):
    """A --fail-on specification that cannot be read; the message says what is valid."""


@dataclass(frozen=True)
class Rule:
    """Fail when a figure moves by more than `limit` (a fraction) in the direction of its sign."""

    metric: Metric
    limit: float  # +0.10: rises by more than 10%; -0.05: falls by more than 5%

    def __str__(self) -> str:
        return f"{self.metric.name}:{self.limit * 100:+g}%"


def parse_rules(spec: str | None) -> list[Rule]:
    """Read `p99:+10%,capacity:-5%`; CompareError (one line) for anything else."""
    if not spec:
        return []
    valid = (
        "use FIGURE:+N% (fail when it rises more than N%) or FIGURE:-N% (falls more than N%), "
        f"comma-separated; FIGURE is one of: {', '.join(BY_NAME)}"
    )
    rules = []
    for part in spec.split(","):
        match = RULE.fullmatch(part.strip())
        if match is None or match["name"] not in BY_NAME:
            raise CompareError(f"bad --fail-on {part.strip()!r}: {valid}")
        sign = 1 if match["sign"] == "+" else -1
        rules.append(Rule(BY_NAME[match["name"]], sign * float(match["percent"]) / 100))
    return rules


@dataclass(frozen=True)
class Change:
    """One figure of one architecture in both runs."""

    arch: str
    metric: Metric
    before: Value
    after: Value

    @property
    def relative(self) -> float | None:
        a, b = self.before.median, self.after.median
        if a is None or b is None:
            return None
        if a == 0:
            return 0.0 if b == 0 else math.copysign(math.inf, b)
        return (b - a) / abs(a)

    def breaks(self, rule: Rule) -> bool:
        """Beyond the rule's limit, or not measured in either run (a guard cannot pass blind)."""
        change = self.relative
        if change is None:
            return True
        return change > rule.limit if rule.limit >= 0 else change < rule.limit


def changes(a: StoredRun, b: StoredRun) -> list[Change]:
    before, after = headline(a), headline(b)
    return [
        Change(arch, m, before[arch][m.name], after[arch][m.name])
        for arch in before
        if arch in after
        for m in METRICS
    ]


def _shown(metric: Metric, value: Value) -> str:
    return format_value(metric, value) + (" ⚠" if value.flags else "")


def where(run: StoredRun) -> str:
    """Where a run's stacks ran, as its meta.json says (runs before the Docker backend: local)."""
    backend = run.meta.get("backend") or {"backend": "local"}
    if backend.get("backend") != "docker":
        return "local processes"
    return f"Docker Engine {backend.get('engine', '?')}, budget mode {backend.get('mode', '?')}"


def served(run: StoredRun) -> str:
    """The served model in a few words: name, version and its file's sha256 (12 hex digits)."""
    model = run.meta.get("model") or {}
    sha256 = str(model.get("sha256") or "unknown")[:12]
    return f"{model.get('name', '?')} {model.get('version', '?')} (sha256 {sha256})"


def report(a: StoredRun, b: StoredRun, rules: list[Rule]) -> tuple[list[str], list[str]]:
    """The lines to print, and the regressions (empty when every rule holds)."""
    found = changes(a, b)
    lines = [f"archbench compare: {a.path.name} → {b.path.name}"]
    lines += [
        f"{side}: {run.path.name} on {where(run)}" for side, run in (("before", a), ("after", b))
    ]
    if served(a) == served(b):
        lines.append(f"model: {served(a)} in both")
    else:
        lines.append(f"note: the runs serve different models: {served(a)} → {served(b)}")
    differ = [
        f"{k} {a.config.get(k)} → {b.config.get(k)}"
        for k in sorted((set(a.config) | set(b.config)) - INCIDENTAL)
        if a.config.get(k) != b.config.get(k)
    ]
    if differ:
        lines.append("note: the runs differ in config: " + "; ".join(differ))
    only = sorted(set(a.archs) ^ set(b.archs))
    if only:
        lines.append(f"note: only in one run: {', '.join(only)}")
    width = max(len(f"{m.label} ({m.unit})") for m in METRICS)
    lines.append(f"{'':<12} {'figure':<{width}}  {'before':>26}  {'after':>26}  {'change':>8}")
    for c in found:
        change = "–" if c.relative is None else f"{c.relative * 100:+.1f}%"
        figure = f"{c.metric.label} ({c.metric.unit})"
        lines.append(
            f"{c.arch:<12} {figure:<{width}}  {_shown(c.metric, c.before):>26}  "
            f"{_shown(c.metric, c.after):>26}  {change:>8}"
        )
    if any(c.before.flags or c.after.flags for c in found):
        lines.append("⚠ from runs that were invalid or noisy: see each run's report.md")
    regressions = [
        f"regression: {c.arch} {c.metric.name} "
        + (f"{c.relative * 100:+.1f}%" if c.relative is not None else "not measured in one run")
        + f" (limit {rule})"
        for rule in rules
        for c in found
        if c.metric == rule.metric and c.breaks(rule)
    ]
    if rules and not any(c.metric == rule.metric for rule in rules for c in found):
        regressions.append("regression: no architecture is in both runs, nothing to check")
    return lines, regressions


def main(run_a: Path, run_b: Path, spec: str | None) -> int:
    """Print the comparison; the exit code: 0, or REGRESSION_EXIT when a rule is broken."""
    rules = parse_rules(spec)
    lines, regressions = report(open_run(run_a), open_run(run_b), rules)
    print("\n".join(lines))
    for line in regressions:
        print(line)
    return REGRESSION_EXIT if regressions else 0
