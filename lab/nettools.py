"""The nettools workload: its image, built locally, and its Deployment and Service."""

from __future__ import annotations

from typing import Any

import yaml

from krafty.testing.kind.cluster import kubectl
from krafty.testing.kind.settings import Settings
from krafty.testing.kind.tools import run
from lab.settings import NETTOOLS, NETTOOLS_CONTEXT, RESOURCES, nettools_image


def build(image: str) -> None:
    # No provenance attestation: with Docker's containerd image store `docker save` leaves it out, and
    # `kind load docker-image` (ctr import --all-platforms) then fails on the missing digest (kind 3795, 4236).
    run("docker", "build", "--provenance=false", "--tag", image, str(NETTOOLS_CONTEXT))


def deploy(cluster: Any, settings: Settings) -> None:
    """resources/nettools.yaml with the lab's image, applied and rolled out."""
    documents = list(yaml.safe_load_all((RESOURCES / "nettools.yaml").read_text()))
    for doc in documents:
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["spec"]["containers"][0]["image"] = nettools_image()
    kubectl(cluster, settings, "apply", "-f", "-", stdin=yaml.safe_dump_all(documents))
    kubectl(cluster, settings, "rollout", "status", f"deployment/{NETTOOLS}", "--timeout=300s")
