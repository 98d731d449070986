"""krafty against the real kernel and the real host-local, driven as a runtime drives it.

The "node" is a throwaway namespace too, so anything left in it is a leak.
"""

from __future__ import annotations

import pytest

from krafty import naming
from krafty.testing import CniCallError, Netns, new_container_id

pytestmark = pytest.mark.cni_kernel("vrf")

GATEWAY = "172.16.10.1"


def assert_attached(node: Netns, pod: Netns, cid: str, result: dict, table: int) -> str:
    """Everything ADD promises, as the kernel reports it; returns the pod's address."""
    links = node.links()
    vrf, bridge, veth = links[naming.vrf_name(cid)], links[naming.bridge_name(cid)], links[naming.host_veth_name(cid)]
    assert vrf.kind == "vrf", f"{vrf.name} is not a VRF"
    assert vrf.info_data.get("IFLA_VRF_TABLE") == table, "VRF routing table differs from the config"
    assert bridge.kind == "bridge"
    assert bridge.master == vrf.index, "bridge is not enslaved to the VRF"
    assert f"{GATEWAY}/24" in node.addresses(bridge.name), "gateway missing from the bridge"
    assert veth.master == bridge.index, "host veth is not on the bridge"
    for link in (vrf, bridge, veth):
        assert link.up, f"{link.name} is down"

    net1 = pod.link("net1")
    assert net1.up, "pod interface is down"
    assert net1.link == veth.index, "pod interface is not the host veth's peer"
    address = result["ips"][0]["address"]
    assert address in pod.addresses("net1"), "pod interface lacks the result's address"
    assert pod.default_route()["gateway"] == GATEWAY, "pod has no default route via the gateway"

    interfaces = {i["name"]: i for i in result["interfaces"]}
    assert interfaces["net1"]["sandbox"] == pod.path
    assert interfaces["net1"]["mac"] == net1.mac
    assert interfaces[veth.name]["mac"] == veth.mac
    assert interfaces[bridge.name]["mac"] == bridge.mac == naming.bridge_mac(cid)
    assert result["interfaces"][result["ips"][0]["interface"]]["name"] == "net1"
    return address.split("/")[0]


def test_add_builds_vrf_bridge_and_veth_and_del_removes_everything(cni_runtime, cni_node, pod, net, clean):
    cid = new_container_id()
    added = cni_runtime.add(net.config(), pod, container_id=cid, ifname="net1")
    ip = assert_attached(cni_node, pod, cid, added.result, naming.default_vrf_table(net.name))
    assert net.allocations() == [ip]

    ping = pod.run("ping", "-c", "1", "-W", "20", GATEWAY, check=False)
    assert ping.returncode == 0, f"pod cannot ping its gateway:\n{ping.stdout}{ping.stderr}"
    vrf = naming.vrf_name(cid)
    ping = cni_node.run("ping", "-c", "1", "-W", "20", "-I", vrf, ip, check=False)
    assert ping.returncode == 0, f"node cannot reach the pod through {vrf}:\n{ping.stdout}{ping.stderr}"

    cni_runtime.delete(added)
    clean(pod)
    assert set(pod.links()) == {"lo"}, "pod interface survived DEL"
    cni_runtime.delete(net.config(), pod, container_id=cid, ifname="net1")  # a second DEL must succeed


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_add_answers_in_every_accepted_version(cni_runtime, cni_node, pod, net, clean, version):
    cid = new_container_id()
    added = cni_runtime.add(net.config(version), pod, container_id=cid, ifname="net1")
    assert added.result["cniVersion"] == version
    assert ("version" in added.result["ips"][0]) == (version in ("0.3.1", "0.4.0"))
    assert_attached(cni_node, pod, cid, added.result, naming.default_vrf_table(net.name))
    cni_runtime.delete(added)
    clean(pod)


def test_static_pod_ip_and_explicit_table(cni_runtime, cni_node, pod, net, clean):
    cid = new_container_id()
    conf = net.config(ipam=None, podIP="172.16.10.77", vrfTable=4242, mtu=1400)
    added = cni_runtime.add(conf, pod, container_id=cid, ifname="net1")
    assert added.result["ips"][0]["address"] == "172.16.10.77/24"
    assert_attached(cni_node, pod, cid, added.result, 4242)
    assert pod.link("net1").mtu == 1400
    cni_runtime.delete(added)
    clean(pod)


def test_del_succeeds_when_the_netns_is_gone_and_releases_the_ip(cni_runtime, cni_netns, net, clean):
    pod = cni_netns()
    added = cni_runtime.add(net.config(), pod, container_id=new_container_id(), ifname="net1")
    pod.remove()
    cni_runtime.delete(added)
    cni_runtime.delete(net.config(), "", container_id=added.container_id, ifname="net1")  # empty CNI_NETNS
    clean()


def test_del_for_a_container_that_never_had_an_add(cni_runtime, pod, net, clean):
    cni_runtime.delete(net.config(), pod, container_id=new_container_id(), ifname="net1")
    clean(pod)


def test_check_passes_after_add_and_names_a_device_removed_by_hand(cni_runtime, cni_node, pod, net, clean):
    added = cni_runtime.add(net.config(), pod, ifname="net1")
    cni_runtime.check(added)
    bridge = naming.bridge_name(added.container_id)
    cni_node.run("ip", "link", "del", bridge)
    with pytest.raises(CniCallError) as drift:
        cni_runtime.check(added)
    assert drift.value.code == 102
    assert bridge in drift.value.msg
    cni_runtime.delete(added)
    clean(pod)


def test_check_notices_a_lost_pod_address(cni_runtime, pod, net, clean):
    added = cni_runtime.add(net.config(), pod, ifname="net1")
    pod.run("ip", "addr", "flush", "dev", "net1")
    with pytest.raises(CniCallError) as drift:
        cni_runtime.check(added)
    assert drift.value.code == 102
    assert added.result["ips"][0]["address"] in drift.value.msg
    cni_runtime.delete(added)
    clean(pod)


def test_ipam_failure_leaves_nothing(cni_runtime, cni_node, cni_netns, pod, net, clean):
    conf = net.config()
    conf["ipam"]["ranges"] = [[{"subnet": "172.16.10.0/24", "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.10"}]]
    first = cni_runtime.add(conf, pod, ifname="net1")
    other_pod = cni_netns()
    with pytest.raises(CniCallError) as failed:
        cni_runtime.add(conf, other_pod, ifname="net1")
    # host-local's own error, passed on with its own code (999: its generic failure) and named
    assert failed.value.code == 999 and "IPAM plugin host-local ADD:" in failed.value.msg, failed.value
    second = failed.value.attachment.container_id
    assert set(other_pod.links()) == {"lo"}
    assert naming.vrf_name(second) not in cni_node.links(), "failed ADD left its VRF"
    assert naming.bridge_name(second) not in cni_node.links(), "failed ADD left its bridge"
    assert net.allocations() == ["172.16.10.10"], "failed ADD changed host-local's store"
    cni_runtime.delete(failed.value.attachment)  # the runtime's DEL after a failed ADD
    cni_runtime.delete(first)
    clean(pod, other_pod)


def test_add_whose_ifname_exists_in_the_pod_fails_without_touching_it(cni_runtime, pod, net, clean):
    pod.run("ip", "link", "add", "net1", "type", "bridge")
    with pytest.raises(CniCallError) as failed:
        cni_runtime.add(net.config(), pod, ifname="net1")
    assert failed.value.code == 101
    assert pod.link("net1").kind == "bridge", "the existing interface was changed"
    clean()


def test_two_pods_on_the_same_network_at_once(cni_runtime, cni_node, cni_netns, net, clean):
    pods = [cni_netns() for _ in range(2)]
    added = [cni_runtime.add(net.config(), pod, ifname="net1") for pod in pods]
    ips = [a.result["ips"][0]["address"].split("/")[0] for a in added]
    assert len(set(ips)) == 2, "two pods got the same address"
    for attachment, pod, ip in zip(added, pods, ips, strict=True):
        cid = attachment.container_id
        assert_attached(cni_node, pod, cid, attachment.result, naming.default_vrf_table(net.name))
        ping = pod.run("ping", "-c", "1", "-W", "20", GATEWAY, check=False)
        assert ping.returncode == 0, f"pod {cid[:12]} cannot ping its gateway"
        ping = cni_node.run("ping", "-c", "1", "-W", "20", "-I", naming.vrf_name(cid), ip, check=False)
        assert ping.returncode == 0, f"node cannot reach pod {cid[:12]} through its VRF"
    for attachment in added:
        cni_runtime.delete(attachment)
    clean(*pods)


def test_gc_removes_only_attachments_the_runtime_no_longer_knows(cni_runtime, cni_node, cni_netns, net, clean):
    conf = net.config("1.1.0")
    keep = cni_runtime.add(conf, cni_netns(), ifname="net1")
    drop = cni_runtime.add(conf, cni_netns(), ifname="net1")
    # A runtime DELs what it still caches before GC (libcni): drop's cache gone, only krafty's GC can find it.
    (cni_runtime.cache_dir / "results" / f"{conf['name']}-{drop.container_id}-net1").unlink()
    cni_runtime.gc(conf, valid=[keep])
    present = cni_node.links()
    assert naming.vrf_name(keep.container_id) in present and naming.bridge_name(keep.container_id) in present
    cid = drop.container_id
    assert not {naming.vrf_name(cid), naming.bridge_name(cid), naming.host_veth_name(cid)} & set(present)
    for attachment in (keep, drop):
        cni_runtime.delete(attachment)
    clean()


def test_status_reports_ready_with_vrf_and_host_local(cni_runtime, net):
    cni_runtime.status(net.config("1.1.0"))


def test_status_is_code_50_when_the_ipam_plugin_is_missing(cni_runtime, net):
    conf = net.config("1.1.0")
    conf["ipam"]["type"] = "no-such-ipam"
    with pytest.raises(CniCallError) as status:
        cni_runtime.status(conf)
    assert status.value.code == 50
    assert "no-such-ipam" in status.value.msg
