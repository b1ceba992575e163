"""Which case systems a task goes to: every enabled system whose match rules the task satisfies (a system with
no rules takes every task). Pure: the outbox calls it in the decision's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.cases.config import CaseSystem, MatchRule


@dataclass(frozen=True)
class TaskKey:
    """What routing looks at in a task."""

    subject: str
    item: str | None
    kind: str
    source: str


def rule_matches(rule: MatchRule, key: TaskKey) -> bool:
    return ((not rule.subjects or key.subject in rule.subjects)
            and (not rule.items or key.item in rule.items)
            and (not rule.kinds or key.kind in rule.kinds)
            and (not rule.sources or key.source in rule.sources))


def destinations(systems: list[CaseSystem], key: TaskKey) -> list[CaseSystem]:
    """The systems `key` is delivered to, in configured order; empty means the task is unrouted."""
    return [s for s in systems if s.enabled and (not s.match or any(rule_matches(r, key) for r in s.match))]
