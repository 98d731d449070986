"""Fixtures for the e2e layer: the kind lab, the API, the network under test, and a report.

The session brings the lab up with `lab.cluster.up()`, the code `make up` runs, and
deletes it at the end. With pytest-kind's `--keep-cluster` a running lab is used as it is
and kept (that is how `make validate` and CI run). pytest-kind's `--cluster-name` picks
the lab; without it CLUSTER_NAME, else `krafty`. Where Docker, kind, kubectl, helm or the
e2e extra are missing, every test skips with the one reason `lab.tools.missing()` gives;
with KRAFTY_E2E=required (CI's e2e job) every test fails with it instead, so a run in which
nothing could run is red.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

import pytest

from krafty import config as krafty_config
from lab import tools
from lab.settings import ROOT, Settings
from tests.e2e.kube import Kube

PYTEST_KIND_DEFAULT_NAME = "pytest-kind"
REPORT = pytest.StashKey[list[str]]()
UNAVAILABLE = pytest.StashKey[str | None]()
REQUIRED = "KRAFTY_E2E"  # =required: a missing tool fails the layer instead of skipping it


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip here, not in a fixture, so that the whole layer reports its one reason on one line."""
    if UNAVAILABLE not in item.config.stash:
        item.config.stash[UNAVAILABLE] = tools.missing()
    reason = item.config.stash[UNAVAILABLE]
    if reason and os.environ.get(REQUIRED) == "required":
        pytest.fail(f"{REQUIRED}=required: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


@dataclass(frozen=True)
class Network:
    """The krafty network as the lab's NetworkAttachmentDefinition defines it."""

    subnet: IPv4Network
    gateway: IPv4Address
    table: int
    first: IPv4Address
    last: IPv4Address

    @property
    def gateway_interface(self) -> str:
        return f"{self.gateway}/{self.subnet.prefixlen}"

    def holds(self, address: IPv4Interface) -> bool:
        """A pod address host-local may hand out: in the range, with the subnet's prefix."""
        return address.network == self.subnet and self.first <= address.ip <= self.last


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Settings:
    name = request.config.getoption("cluster_name", default=None)
    return Settings.from_env(name=None if name == PYTEST_KIND_DEFAULT_NAME else name)


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Any]:
    """pytest-kind's KindCluster for the lab, brought up or attached to."""
    from lab import cluster

    keep = request.config.getoption("keep_cluster", default=False)
    if keep and cluster.exists(settings):
        yield cluster.attach(settings)
        return
    subprocess.run(["make", "-C", str(ROOT), "bundle"], check=True)
    try:
        yield cluster.up(settings)
    finally:
        if not keep:
            cluster.down(settings)


@pytest.fixture(scope="session")
def kube(lab: Any, settings: Settings) -> Kube:
    return Kube(settings)


@pytest.fixture(scope="session")
def nettools(lab: Any, settings: Settings, kube: Kube) -> None:
    """The nettools Deployment as `make deployment` applies it, settled at its one replica."""
    from lab import cluster

    cluster.deploy_nettools(lab, settings)
    kube.wait_rollout(1)


@pytest.fixture(scope="session")
def network(lab: Any) -> Network:
    """Parsed by the plugin's own config code, so the tests expect what krafty computes."""
    from lab import cluster

    raw = cluster.network_config()
    parsed = krafty_config.parse(json.dumps(raw).encode())
    (range_,) = raw["ipam"]["ranges"][0]
    return Network(
        parsed.subnet,
        parsed.gateway,
        parsed.vrf_table,
        IPv4Address(range_["rangeStart"]),
        IPv4Address(range_["rangeEnd"]),
    )


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Lines for the summary `make validate` ends with: what was found, not only that it passed."""
    lines = request.config.stash.setdefault(REPORT, [])
    return lines.append


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(REPORT, [])
    if lines:
        terminalreporter.section("krafty lab")
        for line in lines:
            terminalreporter.write_line(line)
