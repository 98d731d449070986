"""Delegation to the IPAM plugin named in the config, exec'd from CNI_PATH.

The IPAM plugin gets the same environment and the whole network config on stdin, as the
spec says. When it does not speak the config's cniVersion (Debian's host-local stops at
1.0.0) it is called with the highest version both sides support.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
from collections.abc import Callable
from typing import Any

from krafty.config import NetConf, not_a_host
from krafty.record import Record
from krafty.types import (
    INCOMPATIBLE_VERSION,
    INVALID_ENVIRONMENT,
    IPAM_FAILED,
    SUPPORTED_VERSIONS,
    CniError,
    Invocation,
    Result,
    version_tuple,
)

TIMEOUT_SECONDS = 120
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> Callable[[], None]:
    """In the IPAM child, before exec: SIGKILL when krafty dies.

    A runtime whose call times out kills the plugin process, not its group; an IPAM plugin
    left running would allocate after the runtime's DEL has released, and leak the address.
    """

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # krafty died before the signal was armed
            os._exit(1)

    return arm


class IpamPlugin(Record):
    __slots__ = ("path", "version")

    def __init__(self, path: str | os.PathLike[str], version: str) -> None:
        self.path = path
        self.version = version  # the version this call speaks to it

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def find(conf: NetConf, invocation: Invocation) -> IpamPlugin:
    """Locate the IPAM binary by bare name in CNI_PATH and agree on a version with it."""
    if not invocation.path:
        raise CniError(INVALID_ENVIRONMENT, "CNI_PATH is required to find the IPAM plugin", conf.ipam_type or "")
    for directory in invocation.path:
        candidate = os.path.join(directory, conf.ipam_type)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return IpamPlugin(candidate, _negotiate(candidate, conf.cni_version, invocation))
    raise CniError(
        IPAM_FAILED,
        f"IPAM plugin {conf.ipam_type!r} not found as an executable in CNI_PATH",
        ":".join(invocation.path),
    )


def _negotiate(path: str, wanted: str, invocation: Invocation) -> str:
    name = os.path.basename(path)
    info = _exec(path, "VERSION", {"cniVersion": wanted}, invocation)
    supported = info.get("supportedVersions") if isinstance(info, dict) else None
    if not isinstance(supported, list):
        raise CniError(IPAM_FAILED, f"IPAM plugin {name} answered VERSION without supportedVersions")
    if wanted in supported:
        return wanted
    common = [v for v in SUPPORTED_VERSIONS if v in supported and version_tuple(v) <= version_tuple(wanted)]
    if not common:
        raise CniError(
            INCOMPATIBLE_VERSION,
            f"IPAM plugin {name} supports none of the versions up to {wanted}",
            ", ".join(map(str, supported)),
        )
    return common[-1]


def _exec(path: str | os.PathLike[str], command: str, doc: dict[str, Any], invocation: Invocation) -> Any:
    """Run the plugin once; its error object becomes ours, with its code."""
    name = os.path.basename(path)
    env = {**invocation.environ, "CNI_COMMAND": command}
    try:
        proc = subprocess.run(
            [str(path)],
            input=json.dumps(doc).encode(),
            env=env,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            preexec_fn=_die_with(os.getpid()),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CniError(IPAM_FAILED, f"IPAM plugin {name} {command} could not run", str(err)) from None
    stderr = proc.stderr.decode(errors="replace").strip()
    try:
        answer = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        answer = None
        if proc.returncode == 0:
            raise CniError(
                IPAM_FAILED, f"IPAM plugin {name} {command} printed something that is not JSON", stderr
            ) from None
    if proc.returncode != 0:
        if isinstance(answer, dict) and isinstance(answer.get("code"), int) and answer.get("msg"):
            raise CniError(
                answer["code"], f"IPAM plugin {name} {command}: {answer['msg']}", answer.get("details") or stderr
            )
        raise CniError(IPAM_FAILED, f"IPAM plugin {name} {command} exited with {proc.returncode}", stderr)
    return answer


def _request(plugin: IpamPlugin, conf: NetConf) -> dict[str, Any]:
    return {**conf.raw, "cniVersion": plugin.version}


def add(plugin: IpamPlugin, conf: NetConf, invocation: Invocation) -> Result:
    """Allocate; a result without a usable pod address in the subnet is the plugin's failure (103)."""
    answer = _exec(plugin.path, "ADD", _request(plugin, conf), invocation)
    try:
        result = Result.from_json(answer)
    except (ValueError, AttributeError) as err:
        raise CniError(IPAM_FAILED, f"IPAM plugin {plugin.name} ADD returned an unusable result", str(err)) from None
    if not result.ips:
        raise CniError(IPAM_FAILED, f"IPAM plugin {plugin.name} returned no IPv4 address")
    ip = result.ips[0].address.ip
    if why := not_a_host(ip, conf.subnet) or (f"{ip} is the gateway" if ip == conf.gateway else None):
        raise CniError(IPAM_FAILED, f"IPAM plugin {plugin.name} returned an address no pod can have: {why}")
    return result


def delete(plugin: IpamPlugin, conf: NetConf, invocation: Invocation) -> None:
    _exec(plugin.path, "DEL", _request(plugin, conf), invocation)


def check(plugin: IpamPlugin, conf: NetConf, invocation: Invocation) -> None:
    if version_tuple(plugin.version) >= (0, 4, 0):
        _exec(plugin.path, "CHECK", _request(plugin, conf), invocation)


def speaks_1_1(plugin: IpamPlugin) -> bool:
    """GC and STATUS exist from 1.1.0 on; older IPAM plugins simply have nothing to do."""
    return version_tuple(plugin.version) >= (1, 1, 0)


def gc(plugin: IpamPlugin, conf: NetConf, invocation: Invocation) -> None:
    if speaks_1_1(plugin):
        _exec(plugin.path, "GC", _request(plugin, conf), invocation)


def status(plugin: IpamPlugin, conf: NetConf, invocation: Invocation) -> None:
    if speaks_1_1(plugin):
        _exec(plugin.path, "STATUS", _request(plugin, conf), invocation)
