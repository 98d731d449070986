"""Put a CNI plugin on a kind node and prove it runs there.

A plugin is either one executable (copied to `/opt/cni/bin/<type>` and renamed into place)
or a bundle directory: an executable launcher `<type>` with a `bundle=<path>` line and its
runtime `<type>.d/` beside it (krafty's `make bundle` builds one: a relocatable Python).

Bundle layout on the node: the runtime in `/opt/cni/bin/<type>.d/<digest>/`, and
`/opt/cni/bin/<type>` the launcher, installed as a regular file that names that directory
by absolute path: it works however it is reached (through a link, chrooted into the node's
root as Multus runs it), where a launcher finding the runtime beside itself would look
beside the link. Pods may be attached while the lab is brought up again: a call sees the
old bundle or the new one, never half of each, because the new runtime is copied under its
own name first and the launcher is then replaced with rename(2). The previous runtime is
kept until the next install, so a call that started on it finishes on it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from krafty.testing.kind.tools import LabError, run

CNI_BIN = "/opt/cni/bin"


def _swap(type_name: str) -> str:
    """$1: the new runtime's digest; stdin: the launcher naming it."""
    runtime = f"{type_name}.d"
    return rf"""
set -e
cd {CNI_BIN}
previous=$(sed -nE 's|^bundle={CNI_BIN}/{runtime}/([0-9a-f]+)$|\1|p' {type_name} 2>/dev/null || true)
cat >.{type_name}.new
chmod 755 .{type_name}.new
mv -Tf .{type_name}.new {type_name}
find {runtime} -mindepth 1 -maxdepth 1 ! -name "$1" ! -name "${{previous:-$1}}" -exec rm -rf {{}} +
"""


def digest(runtime: Path) -> str:
    """Content hash of the runtime directory: names, modes and bytes of every file."""
    sha = hashlib.sha256()
    for path in sorted(p for p in runtime.rglob("*") if p.is_file()):
        sha.update(f"{path.relative_to(runtime)}\0{path.stat().st_mode:o}\0".encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def check(plugin: Path, type_name: str) -> None:
    """An executable, or a bundle: the launcher and the runtime beside it."""
    if plugin.is_file():
        return
    if not (plugin / type_name).is_file() or not (plugin / f"{type_name}.d").is_dir():
        raise LabError(
            f"no plugin at {plugin}: give an executable or a bundle directory ({type_name} and {type_name}.d/)"
            + (" (krafty: run `make bundle` first)" if type_name == "krafty" else "")
        )


def launcher(bundle: Path, type_name: str, runtime_dir: str) -> str:
    """The bundle's launcher with its runtime named by absolute path instead of found beside it."""
    path = bundle / type_name
    text, count = re.subn(r"^bundle=.*$", f"bundle={runtime_dir}", path.read_text(), flags=re.M)
    if count != 1:
        raise LabError(f"{path} has no `bundle=` line naming its runtime")
    return text


def install(node: str, plugin: Path, type_name: str) -> str:
    """Put the plugin on the node as /opt/cni/bin/<type>; returns what was installed."""
    check(plugin, type_name)
    if plugin.is_file():
        staging = f"{CNI_BIN}/.{type_name}.new"
        run("docker", "cp", str(plugin), f"{node}:{staging}")
        run("docker", "exec", node, "sh", "-c", 'chmod 755 "$1" && mv -Tf "$1" "$2"', "sh", staging,
            f"{CNI_BIN}/{type_name}")  # fmt: skip
        return type_name
    runtime = f"{type_name}.d"
    name = digest(plugin / runtime)
    target = f"{CNI_BIN}/{runtime}/{name}"
    present = run("docker", "exec", node, "sh", "-c", f"test -d {target} && echo yes || true", capture=True)
    if present.strip() != "yes":
        staging = f"{CNI_BIN}/{runtime}/.{name}.tmp"
        run("docker", "exec", node, "sh", "-c", f"mkdir -p {CNI_BIN}/{runtime} && rm -rf {staging}")
        run("docker", "cp", str(plugin / runtime), f"{node}:{staging}")
        run("docker", "exec", node, "sh", "-c", 'rm -rf "$2" && mv -T "$1" "$2"', "sh", staging, target)
    swap = _swap(shlex.quote(type_name))
    run("docker", "exec", "-i", node, "sh", "-c", swap, "sh", name, stdin=launcher(plugin, type_name, target))
    return name


@dataclass(frozen=True)
class Reply:
    status: int
    answer: dict  # the result or error object; {} when the plugin printed nothing (a successful DEL, say)
    stderr: str


def call(node: str, command: str, config: dict, type_name: str = "krafty", **env: str) -> Reply:
    """Run the installed plugin on the node as a runtime does: only the CNI variables, no PATH, no PYTHON*."""
    variables = [f"{key}={value}" for key, value in {"CNI_COMMAND": command, "CNI_PATH": CNI_BIN, **env}.items()]
    proc = subprocess.run(
        ["docker", "exec", "-i", node, "env", "-i", *variables, f"{CNI_BIN}/{type_name}"],
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


def verify(node: str, type_name: str, network_config: dict) -> None:
    """VERSION answers, and STATUS is ready where the plugin speaks 1.1.0: it runs on the node image."""
    version = call(node, "VERSION", {}, type_name)
    if version.status != 0 or "supportedVersions" not in version.answer:
        raise LabError(f"{node}: {CNI_BIN}/{type_name} does not answer VERSION: {version}")
    if "1.1.0" in version.answer["supportedVersions"]:
        status = call(node, "STATUS", {**network_config, "cniVersion": "1.1.0"}, type_name)
        if status.status != 0:
            hint = " (does the Docker host's kernel have what it needs? VRF: sudo modprobe vrf)"
            hint = hint if status.answer.get("code") == 50 else ""
            raise LabError(f"{node}: {type_name} STATUS is not ready: {status.answer} {status.stderr}{hint}")
    print(f"{node}: {type_name} ready, speaks {', '.join(version.answer['supportedVersions'])}")
