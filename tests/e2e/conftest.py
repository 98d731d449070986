"""Fixtures for the e2e layer: the kind lab, the API, the network under test, and a report.

The session brings the lab up with the harness's `cni_kind_lab` (krafty.testing.kind, the
code `make up` runs) with krafty's bundle, NAD, cluster name and nettools image, which this
file's `cni_kind_settings` supplies (the harness has no defaults for them), and deletes it at the end. With
pytest-kind's `--keep-cluster` a running lab is used as it is and kept (that is how
`make validate` and CI run). pytest-kind's `--cluster-name` picks
the lab; without it CLUSTER_NAME, else `krafty`. Where Docker, kind, kubectl, helm or the
e2e extra are missing, every test skips with the one reason `tools.missing()` gives;
with CI=true (the harness's one switch, which CI services set) every test fails with it
instead, so a run in which nothing could run is red.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

import pytest

from krafty import config as krafty_config
from krafty.testing.kind import tools
from krafty.testing.kind.settings import Settings
from krafty.testing.plugin import skip_or_fail
from lab.settings import ROOT, lab_settings, nettools_image
from tests.e2e.kube import Kube

PYTEST_KIND_DEFAULT_NAME = "pytest-kind"
REPORT = pytest.StashKey[list[str]]()
UNAVAILABLE = pytest.StashKey[str | None]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip here, not in a fixture, so that the whole layer reports its one reason on one line."""
    if UNAVAILABLE not in item.config.stash:
        item.config.stash[UNAVAILABLE] = tools.missing()
    reason = item.config.stash[UNAVAILABLE]
    if reason:
        skip_or_fail(reason)


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
def cni_kind_settings(request: pytest.FixtureRequest) -> Settings:
    """krafty's lab, as `make up` builds it: krafty's bundle, its NAD, the nettools image, the name `krafty`."""
    name = request.config.getoption("cluster_name", default=None)
    return lab_settings(name=None if name == PYTEST_KIND_DEFAULT_NAME else name)


@pytest.fixture(scope="session")
def settings(cni_kind_settings: Settings) -> Settings:
    return cni_kind_settings


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, settings: Settings) -> Any:
    """pytest-kind's KindCluster for the lab: the bundle and the image built first, unless a
    running lab is kept as it is."""
    from krafty.testing.kind import cluster

    if not (request.config.getoption("keep_cluster", default=False) and cluster.exists(settings)):
        from lab import nettools

        subprocess.run(["make", "-C", str(ROOT), "bundle"], check=True)
        nettools.build(nettools_image())
    return request.getfixturevalue("cni_kind_lab")


@pytest.fixture(scope="session")
def kube(lab: Any, settings: Settings) -> Kube:
    return Kube(settings)


@pytest.fixture(scope="session")
def nettools(lab: Any, settings: Settings, kube: Kube) -> None:
    """The nettools Deployment as `make deployment` applies it, settled at its one replica."""
    from lab import nettools

    nettools.deploy(lab, settings)
    kube.wait_rollout(1)


@pytest.fixture(scope="session")
def network(lab: Any, settings: Settings) -> Network:
    """Parsed by the plugin's own config code, so the tests expect what krafty computes."""
    from krafty.testing.kind.settings import nad_config

    raw = nad_config(settings.nad)
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
