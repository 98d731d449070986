"""What a kind lab is made of: names, pinned versions and paths, overridable from the environment.

The same variables configure `python -m krafty.testing.kind` and the `cni_kind_lab` fixture,
so both describe one cluster the same way. The plugin and its NAD have no default: they are
the suite's to give (CNI_KIND_PLUGIN, CNI_KIND_NAD, the fixture's options, or an override of
`cni_kind_settings`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESOURCES = Path(__file__).resolve().parent / "resources"

# kind v0.29.0's node image for Kubernetes 1.33: Debian bookworm.
KIND_NODE_IMAGE = "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
KUBERNETES_VERSION = "1.33"
CILIUM_CHART_REPO = "https://helm.cilium.io/"
CILIUM_VERSION = "1.18.2"
DEFAULT_NAME = "cni-lab"


def default_kubeconfig(environ: Mapping[str, str]) -> Path:
    """Where kubectl looks first: the first KUBECONFIG entry, else ~/.kube/config."""
    first = environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


@dataclass(frozen=True)
class Settings:
    """One lab. `plugin`: an executable or a bundle directory; `nad`: the
    NetworkAttachmentDefinition (YAML) naming it; `images`: local images loaded into the nodes.
    None for `plugin` or `nad`: not given (`unset()` says so)."""

    name: str
    node_image: str
    cilium_version: str
    plugin: Path | None
    nad: Path | None
    kubeconfig: Path
    images: tuple[str, ...] = field(default=())

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] = os.environ,
        name: str | None = None,
        plugin: Path | None = None,
        nad: Path | None = None,
        images: tuple[str, ...] | None = None,
    ) -> Settings:
        given_plugin = plugin or environ.get("CNI_KIND_PLUGIN")
        given_nad = nad or environ.get("CNI_KIND_NAD")
        return cls(
            name=name or environ.get("CLUSTER_NAME") or DEFAULT_NAME,
            node_image=environ.get("KIND_NODE_IMAGE") or KIND_NODE_IMAGE,
            cilium_version=environ.get("CILIUM_VERSION") or CILIUM_VERSION,
            plugin=Path(given_plugin) if given_plugin else None,
            nad=Path(given_nad) if given_nad else None,
            kubeconfig=default_kubeconfig(environ),
            images=images if images is not None else tuple(environ.get("CNI_KIND_IMAGES", "").split()),
        )

    def unset(self) -> str:
        """What the suite has not said (the plugin, the NAD), as one line, or "" when both are given."""
        missing = [
            f"no {what} given (--cni-kind-{option}, {env}, or override the cni_kind_settings fixture)"
            for what, option, env, value in [
                ("plugin", "plugin", "CNI_KIND_PLUGIN", self.plugin),
                ("NetworkAttachmentDefinition", "nad", "CNI_KIND_NAD", self.nad),
            ]
            if value is None
        ]
        return "; ".join(missing)

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def docker_network(self) -> str:
        """The cluster's own Docker network, so that `down` can remove what `up` made."""
        return f"kind-{self.name}"


def nad_config(nad: Path) -> dict[str, Any]:
    """The CNI config inside a NetworkAttachmentDefinition (a single config or a conflist)."""
    import yaml

    doc = yaml.safe_load(nad.read_text())
    return json.loads(doc["spec"]["config"])


def plugin_type(config: Mapping[str, Any]) -> str:
    """The plugin the lab installs: the config's `type`, or a conflist's first plugin's."""
    return config["plugins"][0]["type"] if "plugins" in config else config["type"]


def plugin_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """That plugin's own config, with the list's name and version, as a runtime gives it."""
    if "plugins" not in config:
        return dict(config)
    return {**config["plugins"][0], "name": config["name"], "cniVersion": config["cniVersion"]}
