"""The registry of conformance rules: what each one is, where the spec says it, how strongly.

A rule is a function of one `Case` (krafty.testing.conformance.case) that returns when the
plugin keeps the rule, raises `Broken` with the evidence when it does not, and `NotApplicable`
with the reason when the rule cannot apply to this plugin or version. Rule ids are stable:
reports and pinned verdicts refer to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krafty.types import version_tuple

if TYPE_CHECKING:
    from krafty.testing.conformance.case import Case

MUST, SHOULD = "MUST", "SHOULD"
"""The spec's own keywords (RFC 2119); a rule whose text has no keyword but defines a format
or code that a runtime relies on is a MUST, and says so in its doc."""

# What a plugin does, decided from its config and a first ADD (Subject.kinds).
ANY = "any"
INTERFACE = "interface"  # its ADD result lists CNI_IFNAME in CNI_NETNS
DELEGATING = "delegating"  # its config has `ipam.type`
IPAM = "ipam"  # its ADD result has no `interfaces`
CHAINED = "chained"  # it is not the first plugin of the list


class Broken(AssertionError):
    """The plugin breaks the rule; the message is the evidence."""


class NotApplicable(Exception):
    """The rule cannot apply to this plugin or version; the message says why."""


class Unchecked(Exception):
    """What the rule needs first failed (an ADD, say): the rule could not be judged; the message says why."""


@dataclass(frozen=True)
class Rule:
    id: str
    section: str  # where the spec says it (SPEC.md of spec 1.1.0)
    level: str  # MUST or SHOULD
    applies: str  # ANY, INTERFACE, DELEGATING, IPAM or CHAINED
    summary: str  # the rule in one line, as the report shows it
    check: Callable[[Case], None]
    since: str = "0.3.0"  # the first version the rule exists in
    group: str = ""  # the report's rule group

    def exists_in(self, version: str) -> bool:
        return version_tuple(version) >= version_tuple(self.since)


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, section: str, level: str, summary: str, *, applies: str = ANY, since: str = "0.3.0", group: str
) -> Callable[[Callable[[Case], None]], Callable[[Case], None]]:
    """Register a rule function under its id (ids are unique: a second one is a bug)."""

    def register(check: Callable[[Case], None]) -> Callable[[Case], None]:
        if rule_id in RULES:
            raise ValueError(f"conformance rule {rule_id!r} is registered twice")
        if level not in (MUST, SHOULD):
            raise ValueError(f"conformance rule {rule_id!r}: level must be MUST or SHOULD, not {level!r}")
        RULES[rule_id] = Rule(rule_id, section, level, applies, summary, check, since, group)
        return check

    return register


def load_rules() -> None:
    """Import each module of rules, which registers its own; import order = report order."""
    from krafty.testing.conformance import protocol  # noqa: F401, I001
    from krafty.testing.conformance import lifecycle  # noqa: F401
    from krafty.testing.conformance import delegation  # noqa: F401
    from krafty.testing.conformance import concurrency  # noqa: F401


def all_rules() -> list[Rule]:
    """Every rule."""
    load_rules()
    return list(RULES.values())
