"""The conformance suite's one test, run once per rule and version (krafty.testing.conformance.pytest_plugin)."""

import pytest

from krafty.testing.conformance.case import Subject
from krafty.testing.conformance.pytest_plugin import run_rule


@pytest.fixture(scope="session")
def conformance_subject(request: pytest.FixtureRequest) -> Subject:
    return request.config.pluginmanager.get_plugin("cni-conformance").classified()


def test_rule(
    request: pytest.FixtureRequest, conformance_subject: Subject, conformance_rule: str, conformance_version: str
) -> None:
    run_rule(request.config, conformance_subject, conformance_rule, conformance_version)
