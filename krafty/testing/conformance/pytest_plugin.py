"""`pytest --cni-conformance=CONFIG`: the suite as pytest tests, one per rule and version.

A broken MUST fails its test; a broken SHOULD is an xfail with the evidence (a failure with
`--cni-conformance-strict`); a rule that cannot apply is a skip with the reason. At the end the
table of verdicts is printed and written as `<report>.json` and `<report>.md`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from krafty.testing.conformance import report
from krafty.testing.conformance.case import OLDEST_JUDGED, Subject
from krafty.testing.conformance.rules import RULES, all_rules
from krafty.testing.conformance.runner import ERROR, FAIL, NA, WARN, Verdict, judge
from krafty.testing.runtime import CniExecError

SUITE = Path(__file__).with_name("suite.py")
VERDICTS = pytest.StashKey[list[Verdict]]()


class Conformance:
    """Registered by krafty.testing.plugin when --cni-conformance is given."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        config.args = [str(SUITE)]  # the suite replaces whatever would have been collected
        config.stash[VERDICTS] = []
        self._classified = False
        from krafty.testing.plugin import _search_path

        try:
            self.subject = Subject.from_file(
                config.getoption("cni_conformance"),
                _search_path(config),
                plugin=config.getoption("cni_conformance_plugin"),
                parent=config.getoption("cni_conformance_parent"),
                one_at_a_time=config.getoption("cni_conformance_single"),
                private=config.getoption("cni_conformance_private"),
                timeout=config.getoption("cni_timeout"),
            )
        except Exception as err:  # noqa: BLE001 - one clear line instead of a traceback
            raise pytest.UsageError(f"--cni-conformance: {err}") from None
        unknown = [v for v in config.getoption("cni_conformance_version") if v not in self.subject.versions]
        if unknown:  # else the suite would collect nothing and say only "got empty parameter set"
            raise pytest.UsageError(
                f"--cni-conformance-version: {', '.join(unknown)} not judged here; the plugins give "
                f"{', '.join(self.subject.versions) or 'none'} from {OLDEST_JUDGED} on"
            )

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "conformance_rule" not in metafunc.fixturenames:
            return
        wanted = self.config.getoption("cni_conformance_version")
        versions = [v for v in self.subject.versions if not wanted or v in wanted]
        pairs = [(r.id, v) for r in all_rules() for v in versions]
        metafunc.parametrize(("conformance_rule", "conformance_version"), pairs, ids=[f"{r}[{v}]" for r, v in pairs])

    def classified(self) -> Subject:
        """The plugin under test, its kinds found by a first ADD (once per session)."""
        if not self._classified:
            try:
                self.subject.classify()
            except CniExecError as err:
                pytest.exit(f"--cni-conformance: {err}", returncode=pytest.ExitCode.USAGE_ERROR)
            self._classified = True
        return self.subject

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        verdicts = self.config.stash[VERDICTS]
        if not verdicts:
            return
        terminalreporter.section("CNI conformance")
        terminalreporter.write_line(report.table(verdicts))
        written = report.write(Path(self.config.getoption("cni_conformance_report")), self.subject, verdicts)
        terminalreporter.write_line("report: " + ", ".join(map(str, written)))


def run_rule(config: pytest.Config, subject: Subject, rule_id: str, version: str) -> None:
    """The body of every suite test: judge, record, and turn the verdict into pytest's outcome."""
    verdict = judge(subject, RULES[rule_id], version, strict=config.getoption("cni_conformance_strict"))
    config.stash[VERDICTS].append(verdict)
    if verdict.outcome == NA:
        pytest.skip(verdict.evidence)
    if verdict.outcome == WARN:
        pytest.xfail(f"SHOULD broken: {verdict.evidence}")
    if verdict.outcome in (FAIL, ERROR):
        pytest.fail(
            f"{verdict.level} broken: {verdict.evidence}" if verdict.outcome == FAIL else verdict.evidence,
            pytrace=False,
        )
