"""Judge rules: each rule at each version, in a case of its own, to one `Verdict`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from krafty.testing.conformance.case import Case, Subject, kind_text
from krafty.testing.conformance.expect import blame
from krafty.testing.conformance.rules import ANY, MUST, Broken, NotApplicable, Rule, Unchecked, all_rules
from krafty.testing.runtime import CniCallError, CniSpecViolation

PASS, FAIL, WARN, NA, ERROR = "pass", "fail", "warn", "n/a", "error"
"""A kept rule; a broken MUST (or a broken SHOULD with `strict`); a broken SHOULD; a rule that
cannot apply; a rule that could not be judged (what it needed first failed)."""


@dataclass(frozen=True)
class Verdict:
    rule: str
    version: str
    outcome: str
    level: str
    evidence: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def judge(subject: Subject, rule: Rule, version: str, *, strict: bool = False) -> Verdict:
    """One rule at one version, in a fresh case; never raises for what the plugin does."""
    if not rule.exists_in(version):
        return Verdict(rule.id, version, NA, rule.level, f"the rule came with spec {rule.since}")
    if rule.applies != ANY and rule.applies not in subject.kinds:
        why = subject.classify_error or f"applies to {kind_text(rule.applies)} only"
        return Verdict(rule.id, version, NA, rule.level, why)
    started = time.monotonic()
    outcome, evidence = PASS, ""
    try:
        with Case(subject, version) as case:
            rule.check(case)
    except NotApplicable as err:
        outcome, evidence = NA, str(err)
    except Unchecked as err:
        outcome, evidence = ERROR, f"not judged: {err}"
    except (CniCallError, CniSpecViolation) as err:
        verdict = blame(subject.plugin, err, "not judged")
        if isinstance(verdict, Unchecked):
            outcome, evidence = ERROR, str(verdict)
        else:
            outcome, evidence = (FAIL if rule.level == MUST or strict else WARN), str(err)
    except Broken as err:
        outcome, evidence = (FAIL if rule.level == MUST or strict else WARN), str(err)
    except Exception as err:  # noqa: BLE001 - the harness's own trouble is a verdict too, never a crash
        outcome, evidence = ERROR, f"{type(err).__name__}: {err}"
    return Verdict(rule.id, version, outcome, rule.level, evidence, round(time.monotonic() - started, 3))


def judge_all(
    subject: Subject,
    rules: Iterable[Rule] | None = None,
    versions: Iterable[str] | None = None,
    *,
    strict: bool = False,
    progress: Callable[[Verdict], None] | None = None,
) -> list[Verdict]:
    """Every rule at every version (the subject's, unless given), rule by rule."""
    verdicts = []
    for rule in rules if rules is not None else all_rules():
        for version in versions if versions is not None else subject.versions:
            verdict = judge(subject, rule, version, strict=strict)
            verdicts.append(verdict)
            if progress:
                progress(verdict)
    return verdicts
