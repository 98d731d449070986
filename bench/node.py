"""The node a plugin runs on: throwaway network namespaces, the plugins and their configs.

Every call is the installed executable run through `nsenter --net=<node netns>` with the
CNI environment and the config on stdin, exactly as tests/netns/conftest.py's Runtime does.
krafty is compared with Debian's Go `bridge` + `host-local` (containernetworking-plugins,
/usr/lib/cni); each plugin has its own throwaway node namespace so neither sees the other's
devices. Everything lives in namespaces named kb-<pid>-..., removed at the end whatever
happened (also on Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from children import BenchError, Call, Sample, measure, sh

PYTHON = Path(sys.executable)
KRAFTY = PYTHON.with_name("krafty")
NETNS_DIR = Path("/run/netns")
IFNAME = "net1"
PREFIX = f"kb-{os.getpid()}"

VERBS = ("VERSION", "STATUS", "ADD", "CHECK", "DEL")
PLUGINS = ("krafty", "go")
PLUGIN_TITLES = {"krafty": "krafty", "go": "Go bridge"}

# The A/B network: docs/plugin.md's example config (krafty) and its Go bridge equivalent.
SUBNET, GATEWAY = "172.16.10.0/24", "172.16.10.1"
RANGE = {"subnet": SUBNET, "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.250"}
# Scaling needs room for 500 background pods plus the probes: a /21 on its own node.
SCALE_SUBNET, SCALE_GATEWAY = "172.16.8.0/21", "172.16.8.1"
SCALE_RANGE = {"subnet": SCALE_SUBNET, "rangeStart": "172.16.8.10", "rangeEnd": "172.16.15.250"}
SCALE_NET = (SCALE_SUBNET, SCALE_GATEWAY, SCALE_RANGE)
SCALE_CAPACITY = 1950  # addresses in SCALE_RANGE, minus headroom for probes and concurrent pods


# --- namespaces -------------------------------------------------------------------------


class Namespaces:
    """Throwaway network namespaces, created in batches (one `ip` process) and all removed."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def create(self, *roles: str) -> list[str]:
        names = [f"{PREFIX}-{role}" for role in roles]
        self.made.extend(names)  # before creating: a half-done batch is removed too
        sh("ip", "-batch", "-", stdin="".join(f"netns add {name}\n" for name in names))
        return names

    def remove_all(self) -> None:
        left = [name for name in self.made if (NETNS_DIR / name).exists()]
        if left:
            subprocess.run(
                ["ip", "-force", "-batch", "-"],
                input="".join(f"netns del {name}\n" for name in left),
                capture_output=True,
                text=True,
                check=False,
            )
        self.made.clear()


def path(netns: str) -> str:
    return str(NETNS_DIR / netns)


def in_netns(netns: str, *argv: str) -> list[str]:
    return ["nsenter", f"--net={path(netns)}", *argv]


def node_links(netns: str) -> list[str]:
    """Links left in a node namespace: a plugin that leaks devices would skew later figures."""
    text = sh(*in_netns(netns, "ip", "-o", "link", "show"))
    return sorted(line.split(": ")[1].split("@")[0] for line in text.splitlines() if ": " in line)


# --- plugins ----------------------------------------------------------------------------


@dataclass
class Plugin:
    """One CNI plugin on its own node namespace, called the way a runtime calls it."""

    name: str
    binary: str
    node: str
    cni_path: str
    conf: dict[str, Any]

    def env(self, command: str, container_id: str, netns: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": path(netns) if netns else "",
            "CNI_IFNAME": IFNAME,
            "CNI_PATH": self.cni_path,
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={container_id[:8]}",
        }

    def argv(self, command: str, container_id: str, netns: str, conf: dict[str, Any] | None = None) -> Call:
        stdin = json.dumps(conf or self.conf).encode()
        return in_netns(self.node, self.binary), stdin, self.env(command, container_id, netns)

    def call(
        self, command: str, container_id: str, netns: str, conf: dict[str, Any] | None = None, rss: bool = False
    ) -> Sample:
        argv, stdin, env = self.argv(command, container_id, netns, conf)
        sample = measure(argv, stdin, env, rss)
        if sample.status != 0:
            raise BenchError(f"{self.name} {command} failed ({sample.status}): {explain(sample)}")
        return sample

    def with_prev(self, result: Any) -> dict[str, Any]:
        return {**self.conf, "prevResult": result}


def explain(sample: Sample) -> str:
    stderr = sample.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return sample.stdout.decode(errors="replace").strip() + ("\n" + "\n".join(stderr) if stderr else "")


def new_container_id() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


def krafty_conf(data_dir: Path, subnet: str, gateway: str, ranges: dict[str, str]) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "kb-krafty",
        "type": "krafty",
        "subnet": subnet,
        "gateway": gateway,
        "ipam": {
            "type": "host-local",
            "dataDir": str(data_dir),
            "ranges": [[ranges]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }


def go_bridge_conf(data_dir: Path) -> dict[str, Any]:
    """The Go reference: one shared bridge per network, which is what "a bridge attach" costs."""
    return {
        "cniVersion": "1.0.0",
        "name": "kb-bridge",
        "type": "bridge",
        "bridge": "kbbr0",
        "isGateway": True,
        "ipam": {
            "type": "host-local",
            "dataDir": str(data_dir),
            "ranges": [[RANGE]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }


# STATUS without IPAM: a static podIP config, cniVersion 1.1.0 (STATUS exists from 1.1.0).
STATUS_CONF = {
    "cniVersion": "1.1.0",
    "name": "kb-krafty",
    "type": "krafty",
    "subnet": SUBNET,
    "gateway": GATEWAY,
    "podIP": "172.16.10.5",
}
