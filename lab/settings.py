"""krafty's own kind lab: the generic lab (krafty.testing.kind) with krafty's bundle, its
NetworkAttachmentDefinition and the nettools workload.

`make up CLUSTER_NAME=my-lab` hands its variables to the recipe's environment, and the e2e
fixtures read the same variables, so both describe one cluster the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from krafty.testing.kind.settings import KUBERNETES_VERSION, Settings

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
NAD = RESOURCES / "krafty-nad.yaml"
NETTOOLS_CONTEXT = ROOT / "images" / "nettools"

NAMESPACE = "default"
NETWORK = "krafty"  # the NetworkAttachmentDefinition, and the network name inside its config
NETTOOLS = "nettools"  # the Deployment and the Service

__all__ = ["KUBERNETES_VERSION", "NAD", "NAMESPACE", "NETTOOLS", "NETWORK", "ROOT", "Settings", "lab_settings"]


def nettools_image(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("NETTOOLS_IMAGE") or "krafty-nettools:dev"


def lab_settings(environ: Mapping[str, str] = os.environ, name: str | None = None) -> Settings:
    """The lab `make up` builds: krafty's bundle on every node, its NAD, the nettools image loaded."""
    return Settings.from_env(
        environ,
        name=name or environ.get("CLUSTER_NAME") or "krafty",
        plugin=Path(environ.get("BUNDLE_DIR") or ROOT / "bundle-output"),
        nad=NAD,
        images=(nettools_image(environ),),
    )
