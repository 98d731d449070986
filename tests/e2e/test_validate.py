"""What `make validate` checks on the running lab.

The nettools pod is ready with two networks: eth0 from Cilium, net1 from krafty. On the
node that hosts it sit the pod's VRF with the network's table, a bridge enslaved to it
holding the gateway, and a veth on the bridge whose peer is the pod's net1. The pod
reaches the gateway.
"""

from __future__ import annotations

from ipaddress import IPv4Interface

import pytest

from krafty import naming
from lab.settings import NAMESPACE, NETTOOLS, NETWORK
from tests.e2e.kube import Kube
from tests.e2e.node import Attachment, Node


@pytest.fixture(scope="module")
def pod(kube, nettools):
    (pod,) = kube.wait_rollout(1)
    return pod


@pytest.fixture(scope="module")
def view(kube, pod):
    return kube.view(pod)


@pytest.fixture(scope="module")
def node(pod) -> Node:
    return Node(pod.spec.node_name)


@pytest.fixture(scope="module")
def attachment(node, view) -> Attachment:
    return node.attachment_of(view.link("net1"))


@pytest.fixture(scope="module")
def net1_address(view) -> IPv4Interface:
    addresses = view.addresses("net1")
    assert len(addresses) == 1, f"net1 should hold exactly one IPv4 address, holds {addresses}"
    return addresses[0]


def test_deployment_is_ready(kube, nettools, report):
    deployment = kube.deployment()
    assert deployment.status.ready_replicas == deployment.spec.replicas == 1, (
        f"deployment {NETTOOLS}: {deployment.status.ready_replicas} of {deployment.spec.replicas} replicas ready"
    )
    report(f"deployment {NAMESPACE}/{NETTOOLS}: 1/1 ready")


def test_pod_is_running(pod, report):
    assert pod.status.phase == "Running", f"pod {pod.metadata.name} is {pod.status.phase}"
    report(f"pod {pod.metadata.name}: {pod.status.phase} on node {pod.spec.node_name}")


def test_eth0_is_the_primary_network(pod, view, report):
    eth0 = [str(a.ip) for a in view.addresses("eth0")]
    assert pod.status.pod_ip in eth0, f"eth0 holds {eth0}, the pod IP Cilium gave is {pod.status.pod_ip}"
    defaults = view.default_routes()
    assert defaults and defaults[0]["dev"] == "eth0", f"the preferred default route should use eth0: {defaults}"
    report(f"eth0 (Cilium): {', '.join(eth0)}, preferred default route")


def test_net1_has_a_krafty_address_in_the_range(pod, net1_address, network, report):
    assert network.holds(net1_address), (
        f"net1 holds {net1_address}, outside {network.subnet} range {network.first}-{network.last}"
    )
    status = {entry.get("interface"): entry for entry in Kube.network_status(pod)}
    assert status.get("net1", {}).get("name") == f"{NAMESPACE}/{NETWORK}", f"Multus network-status: {status}"
    assert str(net1_address.ip) in status["net1"].get("ips", []), f"Multus network-status: {status['net1']}"
    report(f"net1 (krafty): {net1_address}, in {network.first}-{network.last}")


def test_node_has_the_pods_vrf_with_the_networks_table(attachment, node, pod, net1_address, network, report):
    vrf = attachment.vrf
    assert vrf.get("linkinfo", {}).get("info_kind") == "vrf", f"{vrf['ifname']} is not a VRF: {vrf.get('linkinfo')}"
    assert attachment.table == network.table, f"VRF {vrf['ifname']} uses table {attachment.table}, want {network.table}"
    assert vrf["ifname"] == naming.vrf_name(attachment.container_id)
    assert attachment.container_id == node.sandbox(pod.metadata.name, NAMESPACE), (
        f"the devices belong to container {attachment.container_id}, not to the pod's sandbox"
    )
    host_routes = {r["dst"]: r.get("dev") for r in node.routes(network.table)}
    assert host_routes.get(str(net1_address.ip)) == attachment.bridge["ifname"], (
        f"table {network.table} should route {net1_address.ip} via {attachment.bridge['ifname']}: {host_routes}"
    )
    report(f"node {node.name}: VRF {vrf['ifname']}, table {attachment.table}, {net1_address.ip} via the bridge")


def test_bridge_is_enslaved_to_the_vrf(attachment, report):
    bridge = attachment.bridge
    assert bridge.get("linkinfo", {}).get("info_kind") == "bridge", f"{bridge['ifname']} is not a bridge"
    assert bridge.get("master") == attachment.vrf["ifname"], (
        f"bridge {bridge['ifname']} has master {bridge.get('master')}, want {attachment.vrf['ifname']}"
    )
    report(f"bridge {bridge['ifname']}: enslaved to {attachment.vrf['ifname']}")


def test_gateway_is_on_the_bridge(attachment, node, network, report):
    held = node.addresses(attachment.bridge["ifname"])
    assert network.gateway_interface in held, f"bridge {attachment.bridge['ifname']} holds {held}"
    report(f"gateway {network.gateway_interface} on {attachment.bridge['ifname']}")


def test_host_veth_is_on_the_bridge_and_peers_with_net1(attachment, view, report):
    veth, net1 = attachment.veth, view.link("net1")
    assert veth.get("master") == attachment.bridge["ifname"], f"{veth['ifname']} is on {veth.get('master')}"
    assert (veth["ifindex"], veth.get("link_index")) == (net1.get("link_index"), net1["ifindex"])
    assert veth["ifname"] == naming.host_veth_name(attachment.container_id)
    report(
        f"veth {veth['ifname']} (ifindex {veth['ifindex']}) on {attachment.bridge['ifname']} "
        f"<-> pod net1 (ifindex {net1['ifindex']})"
    )


def test_pod_pings_the_gateway(kube, pod, network, report):
    answer = kube.ping(pod, str(network.gateway))
    assert answer["received"] > 0, f"no reply from the gateway {network.gateway}:\n{answer['output']}"
    report(f"ping {network.gateway} from the pod: {answer['received']}/{answer['transmitted']} replies")
