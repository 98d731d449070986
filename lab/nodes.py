"""Put the plugin bundle on a kind node and prove it runs there.

Layout on the node: the runtime (bundle/build.py) in `/opt/cni/bin/krafty.d/<digest>/`, and
`/opt/cni/bin/krafty` the bundle's launcher, installed as a regular file that names that
directory by absolute path: it works however it is reached (through a link, chrooted into the
node's root as Multus runs it), where a launcher finding the runtime beside itself would look
beside the link. Pods may be attached while `make up` runs again: a call sees the old bundle
or the new one, never half of each, because the new runtime is copied under its own name
first and the launcher is then replaced with rename(2). The previous runtime is kept until
the next install, so a call that started on it finishes on it.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.tools import LabError, run

CNI_BIN = "/opt/cni/bin"
RUNTIME = "krafty.d"  # in the bundle directory and in CNI_BIN, beside the launcher `krafty`
INTERPRETER = "bin/python3.11"

# $1: the new runtime's digest; stdin: the launcher naming it.
_SWAP = rf"""
set -e
cd {CNI_BIN}
previous=$(sed -nE 's|^bundle={CNI_BIN}/{RUNTIME}/([0-9a-f]+)$|\1|p' krafty 2>/dev/null || true)
cat >.krafty.new
chmod 755 .krafty.new
mv -Tf .krafty.new krafty
find {RUNTIME} -mindepth 1 -maxdepth 1 ! -name "$1" ! -name "${{previous:-$1}}" -exec rm -rf {{}} +
"""


def digest(runtime: Path) -> str:
    """Content hash of the runtime directory: names, modes and bytes of every file."""
    sha = hashlib.sha256()
    for path in sorted(p for p in runtime.rglob("*") if p.is_file()):
        sha.update(f"{path.relative_to(runtime)}\0{path.stat().st_mode:o}\0".encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def check(bundle: Path) -> None:
    """`make bundle` output: the launcher and the runtime beside it."""
    if not (bundle / "krafty").is_file() or not (bundle / RUNTIME / INTERPRETER).is_file():
        raise LabError(f"no plugin bundle in {bundle} (krafty and {RUNTIME}/): run `make bundle` first")


def launcher(bundle: Path, runtime_dir: str) -> str:
    """The bundle's launcher with its runtime named by absolute path instead of found beside it."""
    text, count = re.subn(r"^bundle=.*$", f"bundle={runtime_dir}", (bundle / "krafty").read_text(), flags=re.M)
    if count != 1:
        raise LabError(f"{bundle / 'krafty'} has no `bundle=` line: rebuild it with `make bundle`")
    return text


def install(node: str, bundle: Path) -> str:
    """Copy the runtime unless this node has it already, then replace /opt/cni/bin/krafty with its launcher."""
    check(bundle)
    name = digest(bundle / RUNTIME)
    target = f"{CNI_BIN}/{RUNTIME}/{name}"
    present = run(
        "docker", "exec", node, "sh", "-c", f"test -x {target}/{INTERPRETER} && echo yes || true", capture=True
    )
    if present.strip() != "yes":
        staging = f"{CNI_BIN}/{RUNTIME}/.{name}.tmp"
        run("docker", "exec", node, "sh", "-c", f"mkdir -p {CNI_BIN}/{RUNTIME} && rm -rf {staging}")
        run("docker", "cp", str(bundle / RUNTIME), f"{node}:{staging}")
        run("docker", "exec", node, "sh", "-c", 'rm -rf "$2" && mv -T "$1" "$2"', "sh", staging, target)
    run("docker", "exec", "-i", node, "sh", "-c", _SWAP, "sh", name, stdin=launcher(bundle, target))
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
