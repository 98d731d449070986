"""`python -m lab up|deploy|down` (krafty's lab) and `python -m krafty.testing.kind up` (any
plugin) against recording stand-ins for docker, kind, kubectl and helm.

The stand-ins (tests/unit/standins.py) log every call and answer only what the lab reads
back; nothing is built or started. These tests check the orchestration alone: that each step
of the lab is issued, with the pinned versions and the lab's files, in order, so no
refactor can drop one silently. They say nothing about whether the cluster would work: that
is the e2e layer's job, on a machine with a Docker engine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from unittest.mock import ANY

import pytest
import yaml

from tests.unit import standins

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"  # krafty's own: its NAD, nettools
KIND_RESOURCES = ROOT / "krafty" / "testing" / "kind" / "resources"  # any lab's: kind, Cilium, Multus
NAME = "lab-under-test"  # CLUSTER_NAME, so that the name is seen to come from the environment
CONTEXT = f"kind-{NAME}"
KUBECTL = ["kubectl", "--context", CONTEXT]
NAD_CRD = "crd/network-attachment-definitions.k8s.cni.cncf.io"
# kind v0.29.0's default node image (pkg/apis/config/defaults/image.go at that tag).
NODE_IMAGE = "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
NETTOOLS_IMAGE = "nettools:under-test"  # not resources/nettools.yaml's, so that it is seen to be replaced
# resources/kind.yaml: one control plane and two workers, named as kind names them.
NODES = [f"{NAME}-control-plane", f"{NAME}-worker", f"{NAME}-worker2"]


class Lab:
    """A scratch directory with the stand-ins, a fake plugin bundle and a kubeconfig path."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.kubeconfig = tmp / "kube" / "config"
        self.bundle = tmp / "bundle-output"
        standins.install(tmp / "bin", self.state)
        # What `nodes.check()` wants of `make bundle`'s output: the launcher and the interpreter.
        (self.bundle / "krafty.d" / "bin").mkdir(parents=True)
        (self.bundle / "krafty.d" / "bin" / "python3.11").write_text("#!/bin/sh\n")
        (self.bundle / "krafty").write_text(
            '#!/bin/sh\nbundle="$(dirname "$0")/krafty.d"\nexec "$bundle/bin/python3.11"\n'
        )

    def run(self, verb: str, module: str = "lab", **extra_env: str) -> list[dict]:
        """`python -m <module> <verb>` with the stand-ins first on PATH; returns the calls it made."""
        before = len(standins.calls(self.state))
        env = {
            "PATH": f"{self.tmp / 'bin'}:/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "HOME": str(self.tmp),
            "CLUSTER_NAME": NAME,
            "NETTOOLS_IMAGE": NETTOOLS_IMAGE,
            "BUNDLE_DIR": str(self.bundle),
            "KUBECONFIG": str(self.kubeconfig),
            **extra_env,
        }
        proc = subprocess.run(
            [sys.executable, "-m", module, verb],
            cwd=self.tmp,  # pytest-kind keeps its scratch directory, .pytest-kind/<name>, in the working directory
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"python -m {module} {verb} failed:\n{proc.stdout}\n{proc.stderr}"
        return standins.calls(self.state)[before:]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def runs(lab: Lab) -> dict[str, list[dict]]:
    """One lab's life, as a user lives it: up, up again on the running lab, deploy, down."""
    return {verb: lab.run(verb.split()[0]) for verb in ("up", "up again", "deploy", "down")}


def argvs(calls: list[dict]) -> list[list[str]]:
    return [call["argv"] for call in calls]


def split_at(calls: list[dict], argv: list[str]) -> tuple[list[dict], list[dict]]:
    """The calls before the first one with this argv, and from it on."""
    index = argvs(calls).index(argv)
    return calls[:index], calls[index:]


def cni_on(node: str) -> list[str]:
    return ["docker", "exec", "-i", node, "env", "-i"]


def node_steps(node: str, digest: str, bundle: Path) -> list[list[str]]:
    """What installing and checking the plugin on one node issues, in the digest layout."""
    runtime = f"/opt/cni/bin/krafty.d/{digest}"
    staging = f"/opt/cni/bin/krafty.d/.{digest}.tmp"
    return [
        ["docker", "exec", node, "sh", "-c", f"test -d {runtime} && echo yes || true"],
        ["docker", "exec", node, "sh", "-c", f"mkdir -p /opt/cni/bin/krafty.d && rm -rf {staging}"],
        ["docker", "cp", str(bundle / "krafty.d"), f"{node}:{staging}"],
        ["docker", "exec", node, "sh", "-c", ANY, "sh", staging, runtime],
        ["docker", "exec", "-i", node, "sh", "-c", ANY, "sh", digest],
        [*cni_on(node), "CNI_COMMAND=VERSION", "CNI_PATH=/opt/cni/bin", "/opt/cni/bin/krafty"],
        [*cni_on(node), "CNI_COMMAND=STATUS", "CNI_PATH=/opt/cni/bin", "/opt/cni/bin/krafty"],
    ]


def test_up_creates_the_cluster_then_installs_cilium_multus_krafty_and_the_nad(lab: Lab, runs: dict):
    calls = runs["up"]
    kind_create = [
        "kind",
        "create",
        "cluster",
        f"--name={NAME}",
        f"--kubeconfig={lab.kubeconfig}",
        f"--image={NODE_IMAGE}",
        "--config",
        str(KIND_RESOURCES / "kind.yaml"),
    ]
    before_nodes, rest = split_at(calls, ["kind", "get", "nodes", "--name", NAME])
    assert argvs(before_nodes) == [
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        # --provenance=false: kind's `ctr import --all-platforms` fails on an attestation `docker save` omits
        ["docker", "build", "--provenance=false", "--tag", NETTOOLS_IMAGE, str(ROOT / "images" / "nettools")],
        ["kind", "get", "clusters"],
        ["kind", "get", "clusters"],
        kind_create,
        # Cilium from its chart, pinned, with the lab's values
        [
            *["helm", "upgrade", "--install", "cilium", "cilium", "--repo", "https://helm.cilium.io/"],
            *["--version", "1.18.2", "--namespace", "kube-system", "--kube-context", CONTEXT],
            *["--kubeconfig", str(lab.kubeconfig), "--values", str(KIND_RESOURCES / "cilium-values.yaml")],
            *["--wait", "--timeout", "10m"],
        ],
        [*KUBECTL, "apply", "-f", str(KIND_RESOURCES / "multus-daemonset-thick.yml")],
        [*KUBECTL, "-n", "kube-system", "rollout", "status", "daemonset/kube-multus-ds", "--timeout=300s"],
    ]
    create = before_nodes[argvs(before_nodes).index(kind_create)]
    assert create["env"]["KIND_EXPERIMENTAL_DOCKER_NETWORK"] == CONTEXT, (
        "the lab's own Docker network, which down removes"
    )

    first_check = rest[1]["argv"][-1]
    digest = re.search(r"krafty\.d/([0-9a-f]{16}) ", first_check)
    assert digest, f"the runtime is not under /opt/cni/bin/krafty.d/<16 hex digits>: {first_check}"
    per_node = [step for node in NODES for step in node_steps(node, digest[1], lab.bundle)]
    assert argvs(rest) == [
        ["kind", "get", "nodes", "--name", NAME],
        *per_node,
        ["kind", "load", "docker-image", "--name", NAME, NETTOOLS_IMAGE],
        [*KUBECTL, "wait", "--for=condition=established", NAD_CRD, "--timeout=60s"],
        [*KUBECTL, "apply", "-f", str(RESOURCES / "krafty-nad.yaml")],
        [*KUBECTL, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s"],
        [*KUBECTL, "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=300s"],
    ]

    swaps = [
        call for call in rest if call["argv"][:3] == ["docker", "exec", "-i"] and call["argv"][-2:] == ["sh", digest[1]]
    ]
    assert len(swaps) == len(NODES)
    for swap in swaps:
        assert f"\nbundle=/opt/cni/bin/krafty.d/{digest[1]}\n" in swap["stdin"], "the launcher must name its runtime"
    statuses = [call for call in rest if "CNI_COMMAND=STATUS" in call["argv"]]
    assert [json.loads(call["stdin"])["name"] for call in statuses] == ["krafty"] * 3, "STATUS with the NAD's config"
    assert all(call["env"]["KUBECONFIG"] == str(lab.kubeconfig) for call in calls if call["argv"][0] == "kubectl")


def test_up_again_converges_the_running_lab_without_creating_it(lab: Lab, runs: dict):
    calls = argvs(runs["up again"])
    assert calls[:5] == [
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        ["docker", "build", "--provenance=false", "--tag", NETTOOLS_IMAGE, str(ROOT / "images" / "nettools")],
        ["kind", "get", "clusters"],
        ["kind", "export", "kubeconfig", "--name", NAME, "--kubeconfig", str(lab.kubeconfig)],
        ["kind", "get", "clusters"],
    ]
    assert not [argv for argv in calls if argv[:3] == ["kind", "create", "cluster"]], "the running lab is kept"
    copies = [argv for argv in calls if argv[:2] == ["docker", "cp"]]
    assert len(copies) == 3, "the stand-in reports no runtime on the nodes, so each gets it again"
    assert ["kind", "load", "docker-image", "--name", NAME, NETTOOLS_IMAGE] in calls


def test_deploy_applies_nettools_with_the_lab_image_and_waits_for_it(runs: dict):
    calls = runs["deploy"]
    assert argvs(calls) == [
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        ["kind", "get", "clusters"],
        [*KUBECTL, "apply", "-f", "-"],
        [*KUBECTL, "rollout", "status", "deployment/nettools", "--timeout=300s"],
    ]
    applied = {doc["kind"]: doc for doc in yaml.safe_load_all(calls[2]["stdin"])}
    assert set(applied) == {"Deployment", "Service"}
    (container,) = applied["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == NETTOOLS_IMAGE


def test_down_deletes_the_cluster_and_its_docker_network(lab: Lab, runs: dict):
    assert argvs(runs["down"]) == [
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        ["kind", "delete", "cluster", f"--name={NAME}", f"--kubeconfig={lab.kubeconfig}"],
        ["docker", "network", "inspect", CONTEXT],
        ["docker", "network", "rm", CONTEXT],
    ]
    assert not (lab.tmp / ".pytest-kind").exists(), "pytest-kind's scratch directory is removed with the lab"


def test_any_plugin_as_one_executable_with_its_own_nad(tmp_path_factory: pytest.TempPathFactory):
    """The generic lab (`cni_kind_lab`'s code): Debian's bridge, say, copied and renamed into place."""
    lab = Lab(tmp_path_factory.mktemp("generic"))
    plugin = lab.tmp / "bridge"
    plugin.write_text("#!/bin/sh\n")
    nad = lab.tmp / "nad.yaml"
    config = {"cniVersion": "1.0.0", "name": "br", "type": "bridge", "ipam": {"type": "host-local"}}
    nad.write_text(yaml.safe_dump({"spec": {"config": json.dumps(config)}}))
    calls = lab.run("up", "krafty.testing.kind", CNI_KIND_PLUGIN=str(plugin), CNI_KIND_NAD=str(nad))
    node = NODES[0]
    steps = argvs(calls)
    start = steps.index(["kind", "get", "nodes", "--name", NAME]) + 1
    assert steps[start : start + 4] == [
        ["docker", "cp", str(plugin), f"{node}:/opt/cni/bin/.bridge.new"],
        ["docker", "exec", node, "sh", "-c", ANY, "sh", "/opt/cni/bin/.bridge.new", "/opt/cni/bin/bridge"],
        [*cni_on(node), "CNI_COMMAND=VERSION", "CNI_PATH=/opt/cni/bin", "/opt/cni/bin/bridge"],
        [*cni_on(node), "CNI_COMMAND=STATUS", "CNI_PATH=/opt/cni/bin", "/opt/cni/bin/bridge"],
    ]
    assert [*KUBECTL, "apply", "-f", str(nad)] in steps
    assert not [argv for argv in steps if argv[:2] == ["docker", "build"]], "no workload of krafty's lab"
    assert not [argv for argv in steps if argv[:3] == ["kind", "load", "docker-image"]]
