"""Put the plugin bundle on a kind node and prove it runs there.

Layout on the node: the bundle in `/opt/cni/bin/krafty.d/<digest>/`, and
`/opt/cni/bin/krafty` a relative symlink to its executable (PyInstaller finds `_internal`
next to the symlink's target, so containerd and Multus, chrooted into the node's root,
both run it through the link). Pods may be attached while `make up` runs again: a call
sees the old bundle or the new one, never half of each, because the new one is copied
under its own name first and the link is then replaced with rename(2).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.tools import LabError, run

CNI_BIN = "/opt/cni/bin"

_SWAP = """
set -e
cd /opt/cni/bin
ln -sfn "krafty.d/$1/krafty" .krafty.new
mv -Tf .krafty.new krafty
find krafty.d -mindepth 1 -maxdepth 1 ! -name "$1" -exec rm -rf {} +
"""


def digest(bundle: Path) -> str:
    """Content hash of the bundle directory: names, modes and bytes of every file."""
    sha = hashlib.sha256()
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        sha.update(f"{path.relative_to(bundle)}\0{path.stat().st_mode:o}\0".encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def install(node: str, bundle: Path) -> str:
    """Copy the bundle unless this node has it already, then point /opt/cni/bin/krafty at it."""
    name = digest(bundle)
    target = f"{CNI_BIN}/krafty.d/{name}"
    present = run("docker", "exec", node, "sh", "-c", f"test -x {target}/krafty && echo yes || true", capture=True)
    if present.strip() != "yes":
        staging = f"{CNI_BIN}/krafty.d/.{name}.tmp"
        run("docker", "exec", node, "sh", "-c", f"mkdir -p {CNI_BIN}/krafty.d && rm -rf {staging}")
        run("docker", "cp", str(bundle), f"{node}:{staging}")
        run("docker", "exec", node, "sh", "-c", 'rm -rf "$2" && mv -T "$1" "$2"', "sh", staging, target)
    run("docker", "exec", node, "sh", "-c", _SWAP, "sh", name)
    return name


@dataclass(frozen=True)
class Reply:
    status: int
    answer: dict  # the result or error object; {} when the plugin printed nothing (a successful DEL, say)
    stderr: str


def call(node: str, command: str, config: dict, **env: str) -> Reply:
    """Run the installed plugin on the node as a runtime does: only the CNI variables, no PATH, no PYTHON*."""
    variables = [f"{key}={value}" for key, value in {"CNI_COMMAND": command, "CNI_PATH": CNI_BIN, **env}.items()]
    proc = subprocess.run(
        ["docker", "exec", "-i", node, "env", "-i", *variables, f"{CNI_BIN}/krafty"],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        answer = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        answer = {"stdout": proc.stdout}
    return Reply(proc.returncode, answer, proc.stderr)


def verify(node: str, network_config: dict) -> None:
    """VERSION answers and STATUS is ready: the bundle runs on the node image and the kernel has VRF."""
    version = call(node, "VERSION", {})
    if version.status != 0 or "supportedVersions" not in version.answer:
        raise LabError(f"{node}: {CNI_BIN}/krafty does not answer VERSION: {version}")
    status = call(node, "STATUS", {**network_config, "cniVersion": "1.1.0"})
    if status.status != 0:
        hint = " (load the vrf module on the Docker host: sudo modprobe vrf)" if status.answer.get("code") == 50 else ""
        raise LabError(f"{node}: krafty STATUS is not ready: {status.answer} {status.stderr}{hint}")
    print(f"{node}: krafty ready, speaks {', '.join(version.answer['supportedVersions'])}")
