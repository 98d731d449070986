"""The cluster's side, through the kubernetes client: rollouts, pods, and each pod's own view.

A pod's view of its network comes from the nettools service in the pod, reached through
the API server's pod proxy: no exec, and it works for every replica separately.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Interface
from typing import TYPE_CHECKING, Any, TypeVar

from lab.settings import NAMESPACE, NETTOOLS, Settings

if TYPE_CHECKING:
    from kubernetes.client import V1Pod

T = TypeVar("T")
ROLLOUT_TIMEOUT = 300


def wait_until(what: str, probe: Callable[[], T], timeout: float = ROLLOUT_TIMEOUT, interval: float = 2) -> T:
    """Poll until `probe` returns something truthy, and return it."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return value


@dataclass(frozen=True)
class PodView:
    """What `ip -j` says inside the pod, as nettools reports it."""

    data: dict[str, Any]

    def link(self, name: str) -> dict[str, Any]:
        for link in self.data["links"]:
            if link["ifname"] == name:
                return link
        raise AssertionError(f"pod {self.data['hostname']} has no interface {name}")

    def addresses(self, name: str) -> list[IPv4Interface]:
        return [
            IPv4Interface(f"{info['local']}/{info['prefixlen']}")
            for entry in self.data["addresses"]
            if entry["ifname"] == name
            for info in entry.get("addr_info", ())
            if info["family"] == "inet"
        ]

    def default_routes(self) -> list[dict[str, Any]]:
        """The main table's default routes, preferred (lowest metric) first."""
        routes = [r for r in self.data["routes"] if r["dst"] == "default" and r.get("table", "main") == "main"]
        return sorted(routes, key=lambda r: r.get("metric", 0))


class Kube:
    def __init__(self, settings: Settings) -> None:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(settings.kubeconfig), context=settings.context)
        self.client = client
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)

    def worker_nodes(self) -> list[str]:
        nodes = self.core.list_node().items
        return sorted(
            n.metadata.name for n in nodes if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {})
        )

    def deployment(self, name: str = NETTOOLS) -> Any:
        return self.apps.read_namespaced_deployment(name, NAMESPACE)

    def pods(self, app: str = NETTOOLS) -> list[V1Pod]:
        return self.core.list_namespaced_pod(NAMESPACE, label_selector=f"app={app}").items

    def pod(self, name: str) -> V1Pod | None:
        matches = self.core.list_namespaced_pod(NAMESPACE, field_selector=f"metadata.name={name}").items
        return matches[0] if matches else None

    @staticmethod
    def ready(pod: V1Pod) -> bool:
        statuses = pod.status.container_statuses or []
        return (
            pod.metadata.deletion_timestamp is None
            and pod.status.phase == "Running"
            and bool(statuses)
            and all(s.ready for s in statuses)
        )

    def wait_rollout(self, replicas: int, name: str = NETTOOLS) -> list[V1Pod]:
        """Wait until the Deployment has exactly `replicas` pods, all ready, and no terminating ones."""

        def settled() -> list[V1Pod]:
            deployment = self.deployment(name)
            pods = self.pods(name)
            status = deployment.status
            done = (
                (status.observed_generation or 0) >= deployment.metadata.generation
                and (status.ready_replicas or 0) == replicas
                and len(pods) == replicas
                and all(self.ready(p) for p in pods)
            )
            return sorted(pods, key=lambda p: p.metadata.name) if done else []

        return wait_until(f"deployment {name} to settle at {replicas} ready pods", settled)

    def scale(self, replicas: int, name: str = NETTOOLS) -> None:
        self.apps.patch_namespaced_deployment_scale(name, NAMESPACE, {"spec": {"replicas": replicas}})

    def create_pod_like(self, name: str, deployment: str = NETTOOLS) -> V1Pod:
        """A bare pod from the Deployment's template, outside its selector and its Service."""
        template = self.deployment(deployment).spec.template
        template.spec.topology_spread_constraints = None
        metadata = self.client.V1ObjectMeta(
            name=name, labels={"app": f"{deployment}-e2e"}, annotations=template.metadata.annotations
        )
        self.core.create_namespaced_pod(NAMESPACE, self.client.V1Pod(metadata=metadata, spec=template.spec))

        def ready() -> V1Pod | None:
            pod = self.pod(name)
            return pod if pod is not None and self.ready(pod) else None

        return wait_until(f"pod {name} to be ready", ready)

    def delete_pod(self, name: str) -> None:
        """Delete and wait until the API forgets it: by then the kubelet has torn its sandbox down (CNI DEL)."""
        self.core.delete_namespaced_pod(name, NAMESPACE)
        wait_until(f"pod {name} to be gone", lambda: self.pod(name) is None)

    def _get(self, pod: V1Pod, path: str) -> dict[str, Any]:
        response = self.core.connect_get_namespaced_pod_proxy_with_path(
            f"{pod.metadata.name}:8080", NAMESPACE, path, _preload_content=False
        )
        return json.loads(response.data)

    def view(self, pod: V1Pod) -> PodView:
        return PodView(self._get(pod, "net"))

    def ping(self, pod: V1Pod, target: str) -> dict[str, Any]:
        return self._get(pod, f"ping/{target}")

    @staticmethod
    def network_status(pod: V1Pod) -> list[dict[str, Any]]:
        """Multus' record of the pod's attachments (the network-status annotation)."""
        return json.loads((pod.metadata.annotations or {}).get("k8s.v1.cni.cncf.io/network-status", "[]"))
