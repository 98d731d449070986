"""Bring a kind lab up, attach to it, tear it down.

`up()` is what `make up` runs and what the `cni_kind_lab` fixture runs: the kind cluster
(through pytest-kind's KindCluster), Cilium as the primary CNI, Multus (thick), the plugin
under test on every node, local images, the NetworkAttachmentDefinition. Every step
converges, so `up()` on a lab that is already up repairs what drifted and changes nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pytest_kind import KindCluster

from krafty.testing.kind import nodes
from krafty.testing.kind.settings import CILIUM_CHART_REPO, RESOURCES, Settings, nad_config, plugin_config, plugin_type
from krafty.testing.kind.tools import LabError, run

NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"


def kind_cluster(settings: Settings) -> KindCluster:
    """pytest-kind's handle on the cluster, with the kind and kubectl on PATH (it would download old ones)."""
    settings.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    return KindCluster(
        settings.name,
        kubeconfig=settings.kubeconfig,
        image=settings.node_image,
        kind_path=Path(shutil.which("kind") or "kind"),
        kubectl_path=Path(shutil.which("kubectl") or "kubectl"),
    )


def exists(settings: Settings) -> bool:
    return settings.name in run("kind", "get", "clusters", capture=True).split()


def kubectl(cluster: KindCluster, settings: Settings, *args: str, stdin: str | None = None) -> str:
    print("+ kubectl", *args, file=sys.stderr, flush=True)
    out = cluster.kubectl("--context", settings.context, *args, input=stdin)
    print(out, end="", flush=True)
    return out


def node_names(settings: Settings) -> list[str]:
    return run("kind", "get", "nodes", "--name", settings.name, capture=True).split()


@contextmanager
def _own_docker_network(settings: Settings) -> Iterator[None]:
    """kind puts every cluster on one shared `kind` network; this lab gets its own, which `down()` removes."""
    previous = os.environ.get("KIND_EXPERIMENTAL_DOCKER_NETWORK")
    os.environ["KIND_EXPERIMENTAL_DOCKER_NETWORK"] = settings.docker_network
    try:
        yield
    finally:
        if previous is None:
            del os.environ["KIND_EXPERIMENTAL_DOCKER_NETWORK"]
        else:
            os.environ["KIND_EXPERIMENTAL_DOCKER_NETWORK"] = previous


def attach(settings: Settings) -> KindCluster:
    """The running lab as it is: nothing is created or changed."""
    if not exists(settings):
        raise LabError(f"no kind cluster {settings.name!r}: bring the lab up first")
    return kind_cluster(settings)


def up(settings: Settings) -> KindCluster:
    """Create the lab, or converge the one that is there."""
    if settings.plugin is None or settings.nad is None:
        raise LabError(settings.unset())
    if not settings.nad.is_file():
        raise LabError(f"no NetworkAttachmentDefinition to apply: {settings.nad} is not a file")
    plugin = settings.plugin
    config = nad_config(settings.nad)
    type_name = plugin_type(config)
    nodes.check(plugin, type_name)
    cluster = kind_cluster(settings)
    if exists(settings):  # repair the kubeconfig entries before pytest-kind reads them
        run("kind", "export", "kubeconfig", "--name", settings.name, "--kubeconfig", str(settings.kubeconfig))
    with _own_docker_network(settings):
        cluster.create(config_file=RESOURCES / "kind.yaml")
    install_cilium(settings)
    install_multus(cluster, settings)
    for node in node_names(settings):
        nodes.install(node, plugin, type_name)
        nodes.verify(node, type_name, plugin_config(config))
    for image in settings.images:
        cluster.load_docker_image(image)
    kubectl(cluster, settings, "wait", "--for=condition=established", f"crd/{NAD_CRD}", "--timeout=60s")
    kubectl(cluster, settings, "apply", "-f", str(settings.nad))
    kubectl(cluster, settings, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s")
    kubectl(cluster, settings, "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=300s")
    print(f"lab {settings.name} is up: kubectl --context {settings.context} get pods -A")
    return cluster


def install_cilium(settings: Settings) -> None:
    """Cilium as the primary CNI, from its pinned chart (`cni.exclusive=false`: Multus sits beside it)."""
    run(
        "helm",
        "upgrade",
        "--install",
        "cilium",
        "cilium",
        "--repo",
        CILIUM_CHART_REPO,
        "--version",
        settings.cilium_version,
        "--namespace",
        "kube-system",
        "--kube-context",
        settings.context,
        "--kubeconfig",
        str(settings.kubeconfig),
        "--values",
        str(RESOURCES / "cilium-values.yaml"),
        "--wait",
        "--timeout",
        "10m",
    )


def install_multus(cluster: KindCluster, settings: Settings) -> None:
    kubectl(cluster, settings, "apply", "-f", str(RESOURCES / "multus-daemonset-thick.yml"))
    kubectl(cluster, settings, "-n", "kube-system", "rollout", "status", "daemonset/kube-multus-ds", "--timeout=300s")


def down(settings: Settings) -> None:
    """Delete the cluster, its kubeconfig entries, its Docker network and pytest-kind's scratch directory."""
    cluster = kind_cluster(settings)
    cluster.delete()
    network = subprocess.run(["docker", "network", "inspect", settings.docker_network], capture_output=True)
    if network.returncode == 0:
        run("docker", "network", "rm", settings.docker_network)
    shutil.rmtree(cluster.path, ignore_errors=True)
    with suppress(OSError):
        cluster.path.parent.rmdir()  # pytest-kind's .pytest-kind/, once no other cluster uses it
    print(f"lab {settings.name} is down (the plugin and the images are kept)")
