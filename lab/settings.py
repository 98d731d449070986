"""What the lab is made of: names, pinned versions and paths, overridable from the environment.

`make up CLUSTER_NAME=my-lab` hands its variables to the recipe's environment, and the e2e
fixtures read the same variables, so both describe one cluster the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"

# kind v0.29.0's node image for Kubernetes 1.33: Debian bookworm, the release the bundle is built on.
KIND_NODE_IMAGE = "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
KUBERNETES_VERSION = "1.33"
CILIUM_CHART_REPO = "https://helm.cilium.io/"
CILIUM_VERSION = "1.18.2"

NAMESPACE = "default"
NETWORK = "krafty"  # the NetworkAttachmentDefinition, and the network name inside its config
NETTOOLS = "nettools"  # the Deployment and the Service


def default_kubeconfig(environ: Mapping[str, str]) -> Path:
    """Where kubectl looks first: the first KUBECONFIG entry, else ~/.kube/config."""
    first = environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


@dataclass(frozen=True)
class Settings:
    name: str
    nettools_image: str
    node_image: str
    cilium_version: str
    bundle: Path
    kubeconfig: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, name: str | None = None) -> Settings:
        return cls(
            name=name or environ.get("CLUSTER_NAME") or "krafty",
            nettools_image=environ.get("NETTOOLS_IMAGE") or "krafty-nettools:dev",
            node_image=environ.get("KIND_NODE_IMAGE") or KIND_NODE_IMAGE,
            cilium_version=environ.get("CILIUM_VERSION") or CILIUM_VERSION,
            bundle=Path(environ.get("BUNDLE_DIR") or ROOT / "bundle-output"),
            kubeconfig=default_kubeconfig(environ),
        )

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def docker_network(self) -> str:
        """The cluster's own Docker network, so that `make down` can remove what `make up` made."""
        return f"kind-{self.name}"
