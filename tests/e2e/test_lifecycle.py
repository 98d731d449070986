"""An attachment's life through Multus, seen on the node: ADD, CHECK, DEL.

Deleting a pod makes the kubelet tear its sandbox down, Multus calls krafty's DEL, and the
node is left without the pod's devices or its address in host-local's store. CHECK is run
on the node with exactly what Multus cached on ADD (the config it passed and the result it
got), so it judges the node state the attachment really left.
"""

from __future__ import annotations

import uuid

import pytest

from krafty.testing.kind import nodes
from lab.settings import NETWORK
from tests.e2e.kube import wait_until
from tests.e2e.node import Node

CHECK_FAILED = 102


def test_deleting_the_pod_removes_its_devices_and_releases_its_address(kube, nettools, network):
    (old,) = kube.wait_rollout(1)
    node = Node(old.spec.node_name)
    attachment = node.attachment_of(kube.view(old).link("net1"))
    assert attachment.container_id in node.allocations(NETWORK).values()

    kube.delete_pod(old.metadata.name)

    wait_until(
        f"{node.name} to drop the devices of {old.metadata.name} ({', '.join(attachment.names)})",
        lambda: not node.devices_of(attachment.container_id),
    )
    held = {address for address, owner in node.allocations(NETWORK).items() if owner == attachment.container_id}
    assert not held, f"host-local on {node.name} still holds {held} for the deleted pod"

    (new,) = kube.wait_rollout(1)
    new_node = Node(new.spec.node_name)
    (address,) = kube.view(new).addresses("net1")
    assert network.holds(address), f"the new pod got {address}"
    new_attachment = new_node.attachment_of(kube.view(new).link("net1"))
    assert new_node.allocations(NETWORK).get(str(address.ip)) == new_attachment.container_id, (
        f"host-local on {new_node.name} should hold {address.ip} for the new pod's sandbox"
    )


@pytest.fixture
def lone_pod(kube, nettools):
    """A pod of its own (outside the Deployment), deleted afterwards whatever the test did to it."""
    name = f"nettools-check-{uuid.uuid4().hex[:6]}"
    pod = kube.create_pod_like(name)
    yield pod
    if kube.pod(name) is not None:
        kube.delete_pod(name)


def test_check_confirms_the_attachment_then_names_the_drift_and_del_still_cleans_up(kube, lone_pod, network):
    node = Node(lone_pod.spec.node_name)
    attachment = node.attachment_of(kube.view(lone_pod).link("net1"))
    cid = attachment.container_id
    config, result = node.multus_cache(NETWORK, cid, "net1")
    env = {"CNI_CONTAINERID": cid, "CNI_NETNS": node.netns(cid), "CNI_IFNAME": "net1"}

    healthy = nodes.call(node.name, "CHECK", {**config, "prevResult": result}, **env)
    assert healthy.status == 0, f"CHECK on an untouched attachment failed: {healthy.answer} {healthy.stderr}"

    bridge = attachment.bridge["ifname"]
    node.sh("ip", "address", "del", network.gateway_interface, "dev", bridge)
    drifted = nodes.call(node.name, "CHECK", {**config, "prevResult": result}, **env)
    assert drifted.status != 0 and drifted.answer.get("code") == CHECK_FAILED, drifted
    assert bridge in drifted.answer["msg"] and str(network.gateway) in drifted.answer["msg"], drifted.answer

    kube.delete_pod(lone_pod.metadata.name)
    wait_until(f"{node.name} to drop the devices of the deleted pod", lambda: not node.devices_of(cid))
    assert cid not in node.allocations(NETWORK).values(), f"host-local on {node.name} still holds an address"

    again = nodes.call(node.name, "DEL", config, **{**env, "CNI_NETNS": ""})
    assert again.status == 0, f"a repeated DEL must succeed: {again.answer} {again.stderr}"
    assert not node.devices_of(cid)
