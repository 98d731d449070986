"""The host tools the lab drives, and the one reason it cannot run when one is missing."""

from __future__ import annotations

import importlib.util
import shlex
import shutil
import subprocess
import sys

TOOLS = ("docker", "kind", "kubectl", "helm")


class LabError(Exception):
    """The lab cannot be brought to the state asked for; the message says what to do."""


PACKAGES = {"pytest_kind": "pytest-kind-ng", "kubernetes": "kubernetes", "yaml": "PyYAML"}


def missing() -> str | None:
    """Why the lab cannot run on this machine, or None when it can."""
    if shutil.which("docker") is None:
        return "the kind lab needs Docker: no `docker` on PATH"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return "the kind lab needs a Docker engine: `docker info` did not answer within 60 s"
    if info.returncode != 0:
        said = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"the kind lab needs a Docker engine: `docker info` says: {said}"
    for tool in TOOLS[1:]:
        if shutil.which(tool) is None:
            return f"the kind lab needs {', '.join(TOOLS)}: no `{tool}` on PATH"
    absent = [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]
    if absent:
        return f"the kind lab needs the e2e extra ({', '.join(absent)} missing): pip install -e '.[e2e]'"
    return None


def run(*argv: str, stdin: str | None = None, capture: bool = False) -> str:
    """Run a command, echoing it first as make does, and fail loudly; returns stdout when captured."""
    print("+", shlex.join(argv), file=sys.stderr, flush=True)
    proc = subprocess.run(argv, input=stdin, text=True, stdout=subprocess.PIPE if capture else None, check=True)
    return proc.stdout if capture else ""
