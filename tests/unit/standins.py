"""Recording stand-ins for docker, kind, kubectl and helm, to run the lab's orchestration offline.

`install(bin_dir, state_dir)` writes one small executable per tool into bin_dir; put it first
on PATH. Each call appends `{"argv": [tool, *args], "stdin": ..., "env": {...}}` as a JSON
line to `state_dir/calls.jsonl` and answers only what the lab reads back: `docker info`,
`kind get clusters` and `kind get nodes` (from the clusters `kind create cluster` made and the
nodes its `--config` lists), the kubeconfig kind writes, whether a node has the runtime (never),
and the installed plugin's VERSION and STATUS. Nothing is built, created or run: these
stand-ins show which commands the lab issues and in what order, not that the commands work.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import yaml

TOOLS = ("docker", "kind", "kubectl", "helm")
LOG = "calls.jsonl"
# The environment the lab hands kind and kubectl that decides what they act on.
RECORDED_ENV = ("KIND_EXPERIMENTAL_DOCKER_NETWORK", "KUBECONFIG")
SUPPORTED_VERSIONS = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def install(bin_dir: Path, state_dir: Path) -> None:
    """One shell wrapper per tool, each running this file with the tool's name first."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {Path(__file__).resolve()} {state_dir} {tool} "$@"\n')
        wrapper.chmod(0o755)


def calls(state_dir: Path) -> list[dict]:
    """Every recorded call, in order."""
    path = state_dir / LOG
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _option(args: list[str], name: str) -> str | None:
    """The value of `--name=value` or `--name value`."""
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return None


def _clusters(state: Path) -> dict[str, list[str]]:
    path = state / "clusters.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _write_kubeconfig(path: str, name: str) -> None:
    """What `kind create cluster` and `kind export kubeconfig` leave behind, enough for pykube to load."""
    context = f"kind-{name}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": context, "user": {"token": "stand-in"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }
    Path(path).write_text(yaml.safe_dump(doc))


def _kind(state: Path, args: list[str]) -> int:
    clusters = _clusters(state)
    name = _option(args, "--name") or "kind"
    if args[:2] == ["get", "clusters"]:
        print("\n".join(clusters))
    elif args[:2] == ["get", "nodes"]:
        print("\n".join(clusters.get(name, [])))
    elif args[:2] == ["create", "cluster"]:
        config = yaml.safe_load(Path(_option(args, "--config") or "/dev/null").read_text()) or {}
        roles = [node["role"] for node in config.get("nodes", [{"role": "control-plane"}])]
        seen: Counter[str] = Counter()
        clusters[name] = []
        for role in roles:  # kind's names: <cluster>-control-plane, <cluster>-worker, <cluster>-worker2, ...
            seen[role] += 1
            clusters[name].append(f"{name}-{role}{seen[role] if seen[role] > 1 else ''}")
        _write_kubeconfig(_option(args, "--kubeconfig") or "", name)
    elif args[:2] == ["export", "kubeconfig"]:
        _write_kubeconfig(_option(args, "--kubeconfig") or "", name)
    elif args[:2] == ["delete", "cluster"]:
        clusters.pop(name, None)
    (state / "clusters.json").write_text(json.dumps(clusters))
    return 0


def _docker(args: list[str]) -> int:
    if args[:1] == ["info"]:
        print("29.0.0")
    elif args[:1] == ["exec"] and "CNI_COMMAND=VERSION" in args:
        print(json.dumps({"cniVersion": "1.1.0", "supportedVersions": SUPPORTED_VERSIONS}))
    # `test -x <runtime> && echo yes`: silence, so the runtime is copied; STATUS: ready, nothing printed.
    return 0


def main(argv: list[str]) -> int:
    state, tool, args = Path(argv[0]), argv[1], argv[2:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    env = {key: os.environ[key] for key in RECORDED_ENV if key in os.environ}
    with (state / LOG).open("a") as log:
        log.write(json.dumps({"argv": [tool, *args], "stdin": stdin, "env": env}) + "\n")
    if tool == "kind":
        return _kind(state, args)
    if tool == "docker":
        return _docker(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
