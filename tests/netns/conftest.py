"""krafty's own netns fixtures, on top of the public harness (`krafty.testing`).

The harness gives each test a throwaway node namespace, pod namespaces and a runtime that
runs the installed `krafty` there as libcni would. This file only adds krafty's network:
its config (host-local with a per-test `dataDir`) and a reader for host-local's store.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest


class KraftyNetwork:
    """The network `krafty-test` (172.16.10.0/24, gateway .1, host-local from .10 to .250)."""

    name = "krafty-test"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def config(self, version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
        """The config; a change to None removes the key (`ipam=None, podIP=...`)."""
        conf = {
            "cniVersion": version,
            "name": self.name,
            "type": "krafty",
            "subnet": "172.16.10.0/24",
            "gateway": "172.16.10.1",
            "ipam": {
                "type": "host-local",
                "dataDir": str(self.data_dir),
                "ranges": [[{"subnet": "172.16.10.0/24", "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.250"}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
        conf.update(changes)
        return {k: v for k, v in conf.items() if v is not None}

    def allocations(self, network: str | None = None) -> list[str]:
        """Addresses host-local holds on disk (its store is one file per reserved IP)."""
        store = self.data_dir / (network or self.name)
        return sorted(p.name for p in store.glob("*") if _is_ip(p.name)) if store.exists() else []


def _is_ip(name: str) -> bool:
    try:
        ip_address(name)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def _no_lock_file_left() -> Iterator[None]:
    """krafty keeps /run/krafty/<network>.lock and _devices.lock on a node for good; a test run must not.

    Removed once the session is over, and never by an xdist worker (another worker may
    still be locking it): inside the VM /run vanishes with the VM anyway.
    """
    lock_dir = Path("/run/krafty")
    existed = lock_dir.exists()
    yield
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for name in (KraftyNetwork.name, "_devices"):  # the network's lock and the device lock
        (lock_dir / f"{name}.lock").unlink(missing_ok=True)
    if not existed and lock_dir.exists() and not any(lock_dir.iterdir()):
        lock_dir.rmdir()


@pytest.fixture(autouse=True)
def _krafty_installed(request: pytest.FixtureRequest) -> None:
    """krafty on CNI_PATH for the tests that run plugins: the harness installs nothing itself."""
    if "cni_runtime" in request.fixturenames:
        request.getfixturevalue("cni_runtime").install("krafty", Path(sys.executable).with_name("krafty"))


@pytest.fixture
def net(tmp_path: Path) -> KraftyNetwork:
    data_dir = tmp_path / "ipam"
    data_dir.mkdir()
    return KraftyNetwork(data_dir)


@pytest.fixture
def pod(cni_netns):
    return cni_netns("pod")


@pytest.fixture
def clean(cni_assert_clean, cni_node, net):
    """`clean(*pods)`: nothing left on the node, in the pods or in host-local's store."""

    # The kernel adds this rule with a network namespace's first VRF and never removes it.
    cni_assert_clean.allow("rules left: priority 1000 table 0 action to_tbl l3mdev 1")

    def check(*pods) -> None:
        cni_assert_clean(cni_node, *pods, ipam_dirs=[net.data_dir])

    return check
