"""The machine the run is on: recorded with every result, and checked before it starts.

Whether this is the QEMU guest (TCG inflates absolute times unevenly: its own profile and a
note on the table), whether the kernel can create VRF devices (krafty needs them), where the
Go plugins are, and what else is running that could distort the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from node import PYTHON

CNI_DIRS = ("/usr/lib/cni", "/opt/cni/bin")


def detect_vm() -> bool:
    """The caller says so (KRAFTY_IN_VM=1), or the DMI vendor is QEMU (krafty.testing.vm's q35 guest)."""
    if os.environ.get("KRAFTY_IN_VM") == "1":
        return True
    with contextlib.suppress(OSError):
        return Path("/sys/class/dmi/id/sys_vendor").read_text().strip() == "QEMU"
    return False


def has_vrf() -> bool:
    probe = ["unshare", "--net", "ip", "link", "add", "probe", "type", "vrf", "table", "4242"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("pyroute2", "krafty"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "?"
    try:
        direct_url = json.loads(metadata.distribution("krafty").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        direct_url = {}
    plugins = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "containernetworking-plugins"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "interpreter": str(PYTHON),
        "pyroute2": versions["pyroute2"],
        "krafty": versions["krafty"],
        # An editable install's site hook costs every call ~12 ms: benchmark a regular install.
        "krafty_editable": bool(direct_url.get("dir_info", {}).get("editable")),
        "containernetworking_plugins": plugins.stdout.strip() or "?",
        "hostname": platform.node(),
    }


def other_vms() -> int:
    """QEMU VMs running next to us (another engineer's test session) distort the figures."""
    found = subprocess.run(["pgrep", "-f", "^qemu-system"], capture_output=True, text=True, check=False)
    return len(found.stdout.split())


def find_cni_path() -> str | None:
    for directory in CNI_DIRS:
        if all(Path(directory, name).is_file() for name in ("host-local", "bridge")):
            return directory
    return None
