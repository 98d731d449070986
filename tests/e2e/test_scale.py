"""Several replicas across the workers: each pod gets its own devices and its own address,
and scaling back down removes the surplus attachments from their nodes."""

from __future__ import annotations

from lab.settings import NETWORK
from tests.e2e.kube import wait_until
from tests.e2e.node import Node


def test_replicas_across_nodes_get_their_own_devices_and_addresses(kube, nettools, network):
    workers = kube.worker_nodes()
    replicas = 2 * len(workers)
    kube.scale(replicas)
    try:
        pods = kube.wait_rollout(replicas)
        attachments, addresses = {}, {}
        for pod in pods:
            view = kube.view(pod)
            (addresses[pod.metadata.name],) = view.addresses("net1")
            attachments[pod.metadata.name] = Node(pod.spec.node_name).attachment_of(view.link("net1"))

        assert {pod.spec.node_name for pod in pods} == set(workers), "the replicas should cover every worker"
        assert len({a.ip for a in addresses.values()}) == replicas, f"addresses are not distinct: {addresses}"
        assert all(network.holds(a) for a in addresses.values()), f"addresses outside the range: {addresses}"
        assert len({a.container_id for a in attachments.values()}) == replicas
        for names in zip(*(a.names for a in attachments.values()), strict=True):
            assert len(set(names)) == replicas, f"devices shared between pods: {names}"
        assert {a.table for a in attachments.values()} == {network.table}, "all pods of a network share its table"
        for pod in pods:
            answer = kube.ping(pod, str(network.gateway))
            assert answer["received"] > 0, f"{pod.metadata.name} cannot reach the gateway:\n{answer['output']}"
    finally:
        kube.scale(1)
    (kept,) = kube.wait_rollout(1)

    for name, attachment in attachments.items():
        if name == kept.metadata.name:
            continue
        node, cid = Node(attachment.node), attachment.container_id
        wait_until(f"{node.name} to drop the devices of {name}", lambda node=node, cid=cid: not node.devices_of(cid))
        held = [ip for ip, owner in node.allocations(NETWORK).items() if owner == cid]
        assert not held, f"host-local on {node.name} still holds {held} for {name}"
