"""`krafty demo`: a few throwaway pods on a throwaway node, attached by the real plugin.

For a box without Docker: it shows what krafty does to a node without a cluster. The
"node" is a network namespace too, so the host's own network is never touched. Every
pod is attached exactly as a runtime would (the plugin executable, the CNI environment,
the config on stdin, host-local from CNI_PATH), checked with ping, and everything is torn
down at the end, also on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from krafty import capability, naming
from krafty.dataplane import create_netns, remove_netns

CNI_DIRS = ("/opt/cni/bin", "/usr/lib/cni")
SUBNET, GATEWAY = "172.16.10.0/24", "172.16.10.1"
NETWORK = "krafty-demo"
VM_HINT = (
    "This kernel cannot create VRF devices (it lacks CONFIG_NET_VRF), so krafty cannot run here.\n"
    "Run the demo in a VM booting a kernel that has it: `make demo` does that on this machine.\n"
)


def _plugin() -> list[str]:
    installed = Path(sys.executable).with_name("krafty")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "krafty"]


def _cni_path() -> str | None:
    for directory in [*os.environ.get("CNI_PATH", "").split(":"), *CNI_DIRS]:
        if directory and Path(directory, "host-local").is_file():
            return directory
    return None


def _nsenter(netns: str, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net={netns}", *argv], capture_output=True, check=False, **kwargs)


class Demo:
    def __init__(self, pods: int, cni_path: str, data_dir: str) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.node = f"krafty-demo-{suffix}-node"
        self.pods = {f"demo{i}{uuid.uuid4().hex}": f"krafty-demo-{suffix}-pod{i}" for i in range(1, pods + 1)}
        self.cni_path = cni_path
        self.config = {
            "cniVersion": "1.1.0",
            "name": NETWORK,
            "type": "krafty",
            "subnet": SUBNET,
            "gateway": GATEWAY,
            "ipam": {
                "type": "host-local",
                "dataDir": data_dir,
                "ranges": [[{"subnet": SUBNET, "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.250"}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
        self.attached: dict[str, dict] = {}

    def call(self, command: str, container_id: str) -> tuple[int, dict | None, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": f"/run/netns/{self.pods[container_id]}",
            "CNI_IFNAME": "net1",
            "CNI_PATH": self.cni_path,
        }
        proc = _nsenter(f"/run/netns/{self.node}", *_plugin(), input=json.dumps(self.config).encode(), env=env)
        out = proc.stdout.decode()
        return proc.returncode, json.loads(out) if out.strip() else None, proc.stderr.decode()

    def up(self) -> None:
        create_netns(self.node)
        for container_id, pod in self.pods.items():
            create_netns(pod)
            status, result, stderr = self.call("ADD", container_id)
            if status != 0:
                raise RuntimeError(f"ADD for {pod} failed: {result}\n{stderr}")
            self.attached[container_id] = result

    def down(self) -> None:
        for container_id in list(self.attached):
            status, result, _ = self.call("DEL", container_id)
            if status != 0:
                print(f"DEL for {self.pods[container_id]} failed: {result}", file=sys.stderr)
            del self.attached[container_id]
        for name in [*self.pods.values(), self.node]:
            remove_netns(name)

    def table(self) -> str:
        rows = [("pod", "address", "pod MAC", "VRF (table)", "bridge", "host veth")]
        for container_id, result in self.attached.items():
            pod_if = result["interfaces"][2]
            rows.append(
                (
                    self.pods[container_id],
                    result["ips"][0]["address"],
                    pod_if["mac"],
                    f"{naming.vrf_name(container_id)} ({naming.default_vrf_table(NETWORK)})",
                    result["interfaces"][0]["name"],
                    result["interfaces"][1]["name"],
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
        return "\n".join(line.rstrip() for line in lines)

    def connectivity(self) -> list[tuple[str, bool]]:
        checks = []
        for container_id, result in self.attached.items():
            pod, address = self.pods[container_id], result["ips"][0]["address"].split("/")[0]
            ping = _nsenter(f"/run/netns/{pod}", "ping", "-c", "1", "-W", "10", GATEWAY)
            checks.append((f"{pod} -> gateway {GATEWAY}", ping.returncode == 0))
            vrf = naming.vrf_name(container_id)
            ping = _nsenter(f"/run/netns/{self.node}", "ping", "-c", "1", "-W", "10", "-I", vrf, address)
            checks.append((f"node -> {pod} ({address}) through {vrf}", ping.returncode == 0))
        return checks


def run(pods: int = 3) -> int:
    if not capability.vrf_supported():
        sys.stderr.write(VM_HINT)
        return 3
    cni_path = _cni_path()
    if cni_path is None:
        sys.stderr.write(f"host-local not found in CNI_PATH or {', '.join(CNI_DIRS)} (containernetworking-plugins)\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="krafty-demo-") as data_dir:
        demo = Demo(pods, cni_path, data_dir)
        checks: list[tuple[str, bool]] = []
        try:
            print(f"node namespace {demo.node}; attaching {pods} pods through {' '.join(_plugin())} ...")
            demo.up()
            print(demo.table())
            checks = demo.connectivity()
            for what, ok in checks:
                print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        except (RuntimeError, KeyboardInterrupt) as err:
            print(f"{err or 'interrupted'}: tearing down", file=sys.stderr)
            checks.append(("completed", False))
        finally:
            demo.down()
        passed = sum(ok for _, ok in checks)
        print(
            f"shown: {pods} pods attached through krafty, each with its VRF, bridge and veth pair; "
            f"{passed} of {len(checks)} connectivity checks passed; all torn down"
        )
    return 0 if passed == len(checks) else 1
