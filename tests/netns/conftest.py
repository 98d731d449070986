"""Fixtures for the netns layer: a throwaway node and pods, and krafty run as a runtime runs it.

Each test gets its own "node" network namespace, so the devices krafty creates never touch
the real host and tests can run in parallel (`pytest -n 2`): names carry the worker id and
a random part, and teardown deletes every namespace the test made, whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

NETNS_DIR = Path("/run/netns")
KRAFTY = Path(sys.executable).with_name("krafty")
CNI_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
NETWORK = "krafty-test"
SUBNET = "172.16.10.0/24"
GATEWAY = "172.16.10.1"
# Inside the emulated VM every plugin process costs seconds: be generous.
PROCESS_TIMEOUT = 300


def _netns_name(role: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    return f"kt-{role}-{worker}-{uuid.uuid4().hex[:8]}"


class Netns:
    """A named network namespace that exists for one test."""

    def __init__(self, role: str) -> None:
        self.name = _netns_name(role)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.path = str(NETNS_DIR / self.name)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv: str, check: bool = True, timeout: float = PROCESS_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--net={self.path}", *argv],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    @contextmanager
    def kernel(self) -> Iterator[IPRoute]:
        """pyroute2 in this namespace, never creating it (flags=0)."""
        ipr = IPRoute(netns=self.name, flags=0)
        try:
            yield ipr
        finally:
            ipr.close()

    def remove(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], check=False, capture_output=True)

    @property
    def exists(self) -> bool:
        return Path(self.path).exists()


@dataclass
class Call:
    status: int
    out: dict[str, Any] | None
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass
class Runtime:
    """Runs the installed `krafty` binary inside the node namespace, exactly as a runtime does."""

    node: Netns
    cni_path: str
    data_dir: Path
    calls: list[Call] = field(default_factory=list)

    def config(self, version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
        conf = {
            "cniVersion": version,
            "name": NETWORK,
            "type": "krafty",
            "subnet": SUBNET,
            "gateway": GATEWAY,
            "ipam": {
                "type": "host-local",
                "dataDir": str(self.data_dir),
                "ranges": [[{"subnet": SUBNET, "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.250"}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
        conf.update(changes)
        return {k: v for k, v in conf.items() if v is not None}

    @property
    def argv(self) -> list[str]:
        return ["nsenter", f"--net={self.node.path}", str(KRAFTY)]

    def environment(self, command: str, container_id: str, netns: str, ifname: str = "net1") -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": netns,
            "CNI_IFNAME": ifname,
            "CNI_PATH": self.cni_path,
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={container_id[:8]}",
        }

    def call(
        self,
        command: str,
        container_id: str,
        netns: str,
        conf: dict[str, Any] | None = None,
        ifname: str = "net1",
        raw: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> Call:
        stdin = raw if raw is not None else json.dumps(conf or self.config()).encode()
        proc = subprocess.run(
            self.argv,
            input=stdin,
            env={**self.environment(command, container_id, netns, ifname), **(env or {})},
            capture_output=True,
            timeout=PROCESS_TIMEOUT,
            check=False,
        )
        stdout = proc.stdout.decode()
        call = Call(proc.returncode, json.loads(stdout) if stdout.strip() else None, proc.stderr.decode())
        self.calls.append(call)
        return call

    def add(self, container_id: str, pod: Netns, conf: dict[str, Any] | None = None, ifname: str = "net1") -> Call:
        return self.call("ADD", container_id, pod.path, conf, ifname)

    def delete(self, container_id: str, netns: str, conf: dict[str, Any] | None = None, ifname: str = "net1") -> Call:
        return self.call("DEL", container_id, netns, conf, ifname)

    def allocations(self, network: str = NETWORK) -> list[str]:
        """Addresses host-local holds on disk (its store is one file per reserved IP)."""
        store = self.data_dir / network
        return sorted(p.name for p in store.glob("*") if _is_ip(p.name)) if store.exists() else []


def _is_ip(name: str) -> bool:
    try:
        ip_address(name)
    except ValueError:
        return False
    return True


def _cni_path() -> str:
    configured = os.environ.get("KRAFTY_TEST_CNI_PATH")
    if configured:
        return configured
    for directory in CNI_DIRS:
        if Path(directory, "host-local").is_file():
            return directory
    pytest.fail(f"host-local not found in {CNI_DIRS}: install containernetworking-plugins", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _preconditions() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the netns layer needs root, and CI must run it", pytrace=False)
        pytest.skip("the netns layer needs root")
    if not KRAFTY.exists():
        pytest.fail(f"{KRAFTY} is missing: install the project into this environment", pytrace=False)
    for tool in ("ip", "nsenter", "ping"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing", pytrace=False)


@pytest.fixture
def namespaces() -> Iterator[callable]:
    """Factory for throwaway namespaces, all removed at teardown."""
    made: list[Netns] = []

    def make(role: str = "pod") -> Netns:
        ns = Netns(role)
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.remove()


@pytest.fixture
def node(namespaces) -> Netns:
    return namespaces("node")


@pytest.fixture
def pod(namespaces) -> Netns:
    return namespaces("pod")


@pytest.fixture
def runtime(node: Netns, tmp_path: Path) -> Runtime:
    data_dir = tmp_path / "ipam"
    data_dir.mkdir()
    return Runtime(node, _cni_path(), data_dir)


def container_id() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture
def ipam_plugins(runtime: Runtime, tmp_path: Path):
    """Put extra IPAM plugins (shell scripts) first on the runtime's CNI_PATH."""
    directory = tmp_path / "cni-bin"
    directory.mkdir()
    runtime.cni_path = f"{directory}:{runtime.cni_path}"
    host_local = Path(runtime.cni_path.split(":")[1], "host-local")

    def install(name: str, script: str, mode: int = 0o755) -> None:
        plugin = directory / name
        plugin.write_text("#!/bin/sh\n" + script.replace("HOST_LOCAL", str(host_local)))
        plugin.chmod(mode)

    return install


def node_links(node: Netns) -> set[str]:
    with node.kernel() as ipr:
        return {msg.get("IFLA_IFNAME") for msg in ipr.link("dump")}


def assert_clean(node: Netns, runtime: Runtime, *, keep: set[str] = frozenset()) -> None:
    """Nothing of krafty's left: no device but lo (and what the test made by hand), no allocation."""
    left = sorted(node_links(node) - {"lo"} - set(keep))
    assert left == [], f"devices left on the node: {left}"
    assert runtime.allocations() == [], f"host-local still holds {runtime.allocations()}"
