"""krafty against the real kernel and the real host-local, driven as a runtime drives it.

The "node" is a throwaway namespace too, so anything but `lo` left in it is a leak.
"""

from __future__ import annotations

import pytest

from krafty import naming
from tests.netns.conftest import GATEWAY, NETWORK, Netns, Runtime, assert_clean, container_id

VRF_KIND = "vrf"


def links(ns: Netns) -> dict[str, dict]:
    with ns.kernel() as ipr:
        return {msg.get("IFLA_IFNAME"): msg for msg in ipr.link("dump")}


def kind(msg) -> str | None:
    info = msg.get("IFLA_LINKINFO")
    return info.get("IFLA_INFO_KIND") if info else None


def addresses(ns: Netns, ifname: str) -> set[str]:
    with ns.kernel() as ipr:
        index = ipr.link_lookup(ifname=ifname)[0]
        return {f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}" for m in ipr.addr("dump", index=index, family=2)}


def default_gateway(ns: Netns) -> str | None:
    with ns.kernel() as ipr:
        for route in ipr.route("dump", family=2, table=254):
            if route["dst_len"] == 0:
                return route.get("RTA_GATEWAY")
    return None


def assert_attached(runtime: Runtime, node: Netns, pod: Netns, cid: str, result: dict, table: int) -> str:
    """Everything ADD promises, as the kernel reports it; returns the pod's address."""
    node_links = links(node)
    vrf, bridge, veth = naming.vrf_name(cid), naming.bridge_name(cid), naming.host_veth_name(cid)
    assert kind(node_links[vrf]) == VRF_KIND, f"{vrf} is not a VRF"
    vrf_data = node_links[vrf].get("IFLA_LINKINFO").get("IFLA_INFO_DATA")
    assert vrf_data.get("IFLA_VRF_TABLE") == table, "VRF routing table differs from the config"
    assert kind(node_links[bridge]) == "bridge"
    assert node_links[bridge].get("IFLA_MASTER") == node_links[vrf]["index"], "bridge is not enslaved to the VRF"
    assert f"{GATEWAY}/24" in addresses(node, bridge), "gateway missing from the bridge"
    assert node_links[veth].get("IFLA_MASTER") == node_links[bridge]["index"], "host veth is not on the bridge"
    for name in (vrf, bridge, veth):
        assert node_links[name]["flags"] & 1, f"{name} is down"

    pod_links = links(pod)
    assert "net1" in pod_links, "pod interface missing"
    net1 = pod_links["net1"]
    assert net1["flags"] & 1, "pod interface is down"
    assert net1.get("IFLA_LINK") == node_links[veth]["index"], "pod interface is not the host veth's peer"
    address = result["ips"][0]["address"]
    assert address in addresses(pod, "net1"), "pod interface lacks the result's address"
    assert default_gateway(pod) == GATEWAY, "pod has no default route via the gateway"

    interfaces = {i["name"]: i for i in result["interfaces"]}
    assert interfaces["net1"]["sandbox"] == pod.path
    assert interfaces["net1"]["mac"] == net1.get("IFLA_ADDRESS")
    assert interfaces[veth]["mac"] == node_links[veth].get("IFLA_ADDRESS")
    assert interfaces[bridge]["mac"] == node_links[bridge].get("IFLA_ADDRESS") == naming.bridge_mac(cid)
    assert result["interfaces"][result["ips"][0]["interface"]]["name"] == "net1"
    return address.split("/")[0]


def test_add_builds_vrf_bridge_and_veth_and_del_removes_everything(runtime, node, pod):
    cid = container_id()
    added = runtime.add(cid, pod)
    assert added.ok, added.out
    ip = assert_attached(runtime, node, pod, cid, added.out, naming.default_vrf_table(NETWORK))
    assert runtime.allocations() == [ip]

    ping = pod.run("ping", "-c", "1", "-W", "20", GATEWAY, check=False)
    assert ping.returncode == 0, f"pod cannot ping its gateway:\n{ping.stdout}{ping.stderr}"
    vrf = naming.vrf_name(cid)
    ping = node.run("ping", "-c", "1", "-W", "20", "-I", vrf, ip, check=False)
    assert ping.returncode == 0, f"node cannot reach the pod through {vrf}:\n{ping.stdout}{ping.stderr}"

    deleted = runtime.delete(cid, pod.path)
    assert deleted.ok, deleted.out
    assert deleted.out is None
    assert_clean(node, runtime)
    assert set(links(pod)) == {"lo"}, "pod interface survived DEL"
    assert runtime.delete(cid, pod.path).ok, "a second DEL must succeed"


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_add_answers_in_every_accepted_version(runtime, node, pod, version):
    cid = container_id()
    added = runtime.add(cid, pod, runtime.config(version))
    assert added.ok, added.out
    assert added.out["cniVersion"] == version
    assert ("version" in added.out["ips"][0]) == (version < "1.0.0")
    assert_attached(runtime, node, pod, cid, added.out, naming.default_vrf_table(NETWORK))
    assert runtime.delete(cid, pod.path, runtime.config(version)).ok
    assert_clean(node, runtime)


def test_static_pod_ip_and_explicit_table(runtime, node, pod):
    cid = container_id()
    conf = runtime.config(ipam=None, podIP="172.16.10.77", vrfTable=4242, mtu=1400)
    added = runtime.add(cid, pod, conf)
    assert added.ok, added.out
    assert added.out["ips"][0]["address"] == "172.16.10.77/24"
    assert_attached(runtime, node, pod, cid, added.out, 4242)
    assert links(pod)["net1"].get("IFLA_MTU") == 1400
    assert runtime.delete(cid, pod.path, conf).ok
    assert_clean(node, runtime)


def test_del_succeeds_when_the_netns_is_gone_and_releases_the_ip(runtime, node, namespaces):
    pod = namespaces()
    cid = container_id()
    assert runtime.add(cid, pod).ok
    pod.remove()
    assert runtime.delete(cid, pod.path).ok
    assert runtime.delete(cid, "").ok, "DEL with an empty CNI_NETNS must succeed"
    assert_clean(node, runtime)


def test_del_for_a_container_that_never_had_an_add(runtime, node, pod):
    assert runtime.delete(container_id(), pod.path).ok
    assert_clean(node, runtime)


def test_check_passes_after_add_and_names_a_device_removed_by_hand(runtime, node, pod):
    cid = container_id()
    added = runtime.add(cid, pod)
    assert added.ok
    conf = runtime.config(prevResult=added.out)
    checked = runtime.call("CHECK", cid, pod.path, conf)
    assert checked.ok, checked.out
    bridge = naming.bridge_name(cid)
    node.run("ip", "link", "del", bridge)
    checked = runtime.call("CHECK", cid, pod.path, conf)
    assert not checked.ok
    assert checked.out["code"] == 102
    assert bridge in checked.out["msg"]
    assert runtime.delete(cid, pod.path).ok
    assert_clean(node, runtime)


def test_check_notices_a_lost_pod_address(runtime, node, pod):
    cid = container_id()
    added = runtime.add(cid, pod)
    pod.run("ip", "addr", "flush", "dev", "net1")
    checked = runtime.call("CHECK", cid, pod.path, runtime.config(prevResult=added.out))
    assert checked.out["code"] == 102
    assert added.out["ips"][0]["address"] in checked.out["msg"]
    assert runtime.delete(cid, pod.path).ok


def test_ipam_failure_leaves_nothing(runtime, node, pod, namespaces):
    conf = runtime.config()
    conf["ipam"]["ranges"] = [[{"subnet": "172.16.10.0/24", "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.10"}]]
    first, second = container_id(), container_id()
    assert runtime.add(first, pod, conf).ok
    other_pod = namespaces()
    failed = runtime.add(second, other_pod, conf)
    assert not failed.ok
    assert "host-local" in failed.out["msg"]
    assert set(links(other_pod)) == {"lo"}
    assert naming.vrf_name(second) not in links(node), "failed ADD left its VRF"
    assert naming.bridge_name(second) not in links(node), "failed ADD left its bridge"
    assert runtime.allocations() == ["172.16.10.10"], "failed ADD changed host-local's store"
    assert runtime.delete(first, pod.path, conf).ok
    assert_clean(node, runtime)


def test_add_whose_ifname_exists_in_the_pod_fails_without_touching_it(runtime, node, pod):
    pod.run("ip", "link", "add", "net1", "type", "bridge")
    cid = container_id()
    failed = runtime.add(cid, pod)
    assert not failed.ok
    assert failed.out["code"] == 101
    assert kind(links(pod)["net1"]) == "bridge", "the existing interface was changed"
    assert_clean(node, runtime)


def test_two_pods_on_the_same_network_at_once(runtime, node, namespaces):
    pods = {container_id(): namespaces() for _ in range(2)}
    results = {cid: runtime.add(cid, pod) for cid, pod in pods.items()}
    assert all(r.ok for r in results.values()), [r.out for r in results.values()]
    ips = {cid: r.out["ips"][0]["address"].split("/")[0] for cid, r in results.items()}
    assert len(set(ips.values())) == 2, "two pods got the same address"
    for cid, pod in pods.items():
        assert_attached(runtime, node, pod, cid, results[cid].out, naming.default_vrf_table(NETWORK))
        ping = pod.run("ping", "-c", "1", "-W", "20", GATEWAY, check=False)
        assert ping.returncode == 0, f"pod {cid[:12]} cannot ping its gateway"
        ping = node.run("ping", "-c", "1", "-W", "20", "-I", naming.vrf_name(cid), ips[cid], check=False)
        assert ping.returncode == 0, f"node cannot reach pod {cid[:12]} through its VRF"
    for cid, pod in pods.items():
        assert runtime.delete(cid, pod.path).ok
    assert_clean(node, runtime)


def test_container_ids_sharing_a_prefix_never_share_devices(runtime, node, namespaces):
    first, pod_a, pod_b = container_id(), namespaces(), namespaces()
    second = first[:12] + "f" * 52
    assert runtime.add(first, pod_a).ok
    clash = runtime.add(second, pod_b)
    assert not clash.ok
    assert clash.out["code"] == 101
    assert first in clash.out["msg"], "the error should name the owner"
    assert runtime.delete(second, pod_b.path).ok
    assert naming.vrf_name(first) in links(node), "DEL of another container removed the owner's VRF"
    assert runtime.delete(first, pod_a.path).ok
    assert_clean(node, runtime)


def test_gc_removes_only_attachments_the_runtime_no_longer_knows(runtime, node, namespaces):
    keep, drop = container_id(), container_id()
    pods = {keep: namespaces(), drop: namespaces()}
    for cid, pod in pods.items():
        assert runtime.add(cid, pod).ok
    conf = runtime.config("1.1.0", **{"cni.dev/valid-attachments": [{"containerID": keep, "ifname": "net1"}]})
    collected = runtime.call("GC", "", "", conf)
    assert collected.ok, collected.out
    present = links(node)
    assert naming.vrf_name(keep) in present and naming.bridge_name(keep) in present
    assert not {naming.vrf_name(drop), naming.bridge_name(drop), naming.host_veth_name(drop)} & set(present)
    for cid, pod in pods.items():
        assert runtime.delete(cid, pod.path).ok


def test_status_reports_ready_with_vrf_and_host_local(runtime):
    assert runtime.call("STATUS", "", "", runtime.config("1.1.0")).ok


def test_status_is_code_50_when_the_ipam_plugin_is_missing(runtime):
    conf = runtime.config("1.1.0")
    conf["ipam"]["type"] = "no-such-ipam"
    status = runtime.call("STATUS", "", "", conf)
    assert status.out["code"] == 50
    assert "no-such-ipam" in status.out["msg"]
