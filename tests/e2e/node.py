"""The node's side, read through its container: `docker exec <node> ip -j ...`, crictl, host-local's store.

A pod's krafty devices are found from the pod's own `net1`: the host veth is the node link
whose ifindex is net1's peer index and whose peer index is net1's ifindex. From there the
bridge is the veth's master and the VRF the bridge's master.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from typing import Any

from krafty import naming

HOST_LOCAL_DIR = "/var/lib/cni/networks"
MULTUS_CACHE_DIR = "/var/lib/cni/multus/results"  # libcni's result cache, as the Multus daemon keeps it


@dataclass(frozen=True)
class Attachment:
    """One pod's devices on its node."""

    node: str
    container_id: str
    vrf: dict[str, Any]
    bridge: dict[str, Any]
    veth: dict[str, Any]

    @property
    def table(self) -> int | None:
        return self.vrf.get("linkinfo", {}).get("info_data", {}).get("table")

    @property
    def names(self) -> tuple[str, str, str]:
        return self.vrf["ifname"], self.bridge["ifname"], self.veth["ifname"]


class Node:
    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, *argv: str) -> str:
        proc = subprocess.run(["docker", "exec", self.name, *argv], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"{self.name}: `{' '.join(argv)}` failed: {proc.stderr.strip()}")
        return proc.stdout

    def ip(self, *args: str) -> list[dict[str, Any]]:
        return json.loads(self.sh("ip", "-j", *args) or "[]")

    def links(self) -> list[dict[str, Any]]:
        return self.ip("-d", "link", "show")

    def addresses(self, device: str) -> list[str]:
        infos = [info for entry in self.ip("address", "show", "dev", device) for info in entry.get("addr_info", ())]
        return [f"{info['local']}/{info['prefixlen']}" for info in infos if info["family"] == "inet"]

    def routes(self, table: int) -> list[dict[str, Any]]:
        return self.ip("route", "show", "table", str(table))

    def attachment_of(self, net1: dict[str, Any]) -> Attachment:
        """The devices behind a pod's net1 (as `ip -j -d link` reports it inside the pod)."""
        links = self.links()
        by_name = {link["ifname"]: link for link in links}
        veths = [
            link
            for link in links
            if link["ifindex"] == net1.get("link_index") and link.get("link_index") == net1["ifindex"]
        ]
        assert len(veths) == 1, (
            f"{self.name}: expected one veth whose peer is the pod's net1 "
            f"(net1 ifindex {net1['ifindex']}, peer ifindex {net1.get('link_index')}), found {len(veths)}"
        )
        veth = veths[0]
        alias = veth.get("ifalias", "").split(" ")
        assert len(alias) == 4 and alias[0] == "krafty", f"{self.name}: {veth['ifname']} has no krafty owner: {alias}"
        bridge = by_name.get(veth.get("master", ""), {})
        vrf = by_name.get(bridge.get("master", ""), {})
        assert bridge and vrf, f"{self.name}: {veth['ifname']} is not on a bridge enslaved to a VRF"
        return Attachment(self.name, alias[3], vrf, bridge, veth)

    def devices_of(self, container_id: str) -> list[str]:
        """Every device on the node that is, or is named for, this container's attachment."""
        names = {
            naming.vrf_name(container_id),
            naming.bridge_name(container_id),
            naming.host_veth_name(container_id),
        }
        return [
            link["ifname"]
            for link in self.links()
            if link["ifname"] in names or link.get("ifalias", "").endswith(f" {container_id}")
        ]

    def allocations(self, network: str) -> dict[str, str]:
        """host-local's store for the network: {address: container ID}."""
        script = (
            f'cd {HOST_LOCAL_DIR}/{network} 2>/dev/null || exit 0; for f in *.*.*.*; do [ -f "$f" ] && '
            'printf "%s %s\\n" "$f" "$(head -n 1 "$f" | tr -d "\\r")"; done; true'
        )
        return dict(line.split(" ", 1) for line in self.sh("sh", "-c", script).splitlines() if " " in line)

    def sandbox(self, pod: str, namespace: str) -> str:
        """The pod's sandbox ID: the CNI_CONTAINERID Multus and krafty see."""
        ids = self.sh("crictl", "pods", "--name", pod, "--namespace", namespace, "--state", "ready", "-q", "--no-trunc")
        assert ids.split(), f"{self.name}: crictl knows no ready sandbox of pod {pod}"
        return ids.split()[0]

    def netns(self, sandbox: str) -> str:
        spec = json.loads(self.sh("crictl", "inspectp", "-o", "json", sandbox))["info"]["runtimeSpec"]
        return next(ns["path"] for ns in spec["linux"]["namespaces"] if ns["type"] == "network")

    def multus_cache(self, network: str, container_id: str, ifname: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The config Multus gave the plugin on ADD and the result it got back, from its result cache."""
        cache = json.loads(self.sh("cat", f"{MULTUS_CACHE_DIR}/{network}-{container_id}-{ifname}"))
        return json.loads(base64.b64decode(cache["config"])), cache["result"]
