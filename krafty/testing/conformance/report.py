"""The verdicts as a terminal table, and as JSON and Markdown files a plugin's README or CI can publish."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from krafty.testing.conformance.case import Subject
from krafty.testing.conformance.rules import RULES
from krafty.testing.conformance.runner import ERROR, FAIL, NA, PASS, WARN, Verdict

SYMBOL = {PASS: "pass", FAIL: "FAIL", WARN: "warn", NA: "-", ERROR: "ERROR"}


def summary(verdicts: Sequence[Verdict]) -> dict[str, int]:
    counts = {outcome: 0 for outcome in (PASS, FAIL, WARN, NA, ERROR)}
    for verdict in verdicts:
        counts[verdict.outcome] += 1
    return counts


def _grid(verdicts: Sequence[Verdict]) -> tuple[list[str], list[str], dict[tuple[str, str], Verdict]]:
    versions = list(dict.fromkeys(v.version for v in verdicts))
    rules = list(dict.fromkeys(v.rule for v in verdicts))
    return rules, versions, {(v.rule, v.version): v for v in verdicts}


def table(verdicts: Sequence[Verdict]) -> str:
    """One line per rule, one column per version, then the evidence of every fail/warn/error."""
    rules, versions, cell = _grid(verdicts)
    width = max([len(r) for r in rules] + [4])
    lines = [f"{'rule':{width}}  level   " + "  ".join(f"{v:>6}" for v in versions)]
    for rule_id in rules:
        marks = "  ".join(
            f"{SYMBOL[cell[rule_id, v].outcome]:>6}" if (rule_id, v) in cell else " " * 6 for v in versions
        )
        lines.append(f"{rule_id:{width}}  {RULES[rule_id].level:6}  {marks}")
    counts = summary(verdicts)
    lines.append(", ".join(f"{n} {outcome}" for outcome, n in counts.items()))
    for verdict in verdicts:
        if verdict.outcome in (FAIL, WARN, ERROR):
            evidence = verdict.evidence if len(verdict.evidence) <= 300 else verdict.evidence[:300] + " ..."
            lines.append(f"{SYMBOL[verdict.outcome]} {verdict.rule} [{verdict.version}]: {evidence}")
    return "\n".join(lines)


def as_json(subject: Subject, verdicts: Sequence[Verdict]) -> dict[str, Any]:
    return {
        "plugin": subject.plugin,
        "config": subject.config,
        "kinds": sorted(subject.kinds),
        "versions": subject.versions,
        "unjudged_versions": subject.unjudged,
        "rules": {
            rule_id: {
                "section": RULES[rule_id].section,
                "level": RULES[rule_id].level,
                "summary": RULES[rule_id].summary,
            }
            for rule_id in dict.fromkeys(v.rule for v in verdicts)
        },
        "verdicts": [v.as_dict() for v in verdicts],
        "summary": summary(verdicts),
    }


def as_markdown(subject: Subject, verdicts: Sequence[Verdict]) -> str:
    rules, versions, cell = _grid(verdicts)
    lines = [
        f"# CNI conformance: `{subject.plugin}`",
        "",
        f"Kinds: {', '.join(sorted(subject.kinds)) or 'none found'}. Versions: {', '.join(versions)}."
        + (
            f" Listed but not judged (no rules before 0.3.0): {', '.join(subject.unjudged)}."
            if subject.unjudged
            else ""
        ),
        "",
        "| rule | spec | level | " + " | ".join(versions) + " |",
        "|---|---|---|" + "---|" * len(versions),
    ]
    for rule_id in rules:
        rule = RULES[rule_id]
        marks = " | ".join(SYMBOL[cell[rule_id, v].outcome] if (rule_id, v) in cell else "" for v in versions)
        lines.append(f"| `{rule_id}` | {rule.section} | {rule.level} | {marks} |")
    lines += ["", ", ".join(f"{n} {outcome}" for outcome, n in summary(verdicts).items())]
    broken = [v for v in verdicts if v.outcome in (FAIL, WARN, ERROR)]
    if broken:
        lines += ["", "## Evidence", ""]
        lines += [f"- **{SYMBOL[v.outcome]}** `{v.rule}` [{v.version}]: {v.evidence}" for v in broken]
    return "\n".join(lines) + "\n"


def write(path: Path, subject: Subject, verdicts: Sequence[Verdict]) -> tuple[Path, Path]:
    """`<path>.json` and `<path>.md`."""
    json_path, md_path = path.with_name(path.name + ".json"), path.with_name(path.name + ".md")
    json_path.write_text(json.dumps(as_json(subject, verdicts), indent=2) + "\n")
    md_path.write_text(as_markdown(subject, verdicts))
    return json_path, md_path
