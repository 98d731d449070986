"""The harness is general: Debian's reference plugins (containernetworking-plugins 1.1.1),
tested through the public API only. They need no VRF, so these run on any kernel.

Expected behaviour comes from the plugins' documentation (www.cni.dev/plugins): bridge
keeps its bridge on DEL, tuning's `mac` rewrites the pod interface's MAC in the result it
passes on, portmap installs DNAT rules for the `portMappings` capability.
"""

from __future__ import annotations

import pytest

from krafty.testing import CniCallError, CniSpecViolation

SUBNET_PREFIX = "10.250.3."


def host_local(tmp_path, subnet="10.250.3.0/24") -> dict:
    return {"type": "host-local", "subnet": subnet, "dataDir": str(tmp_path / "ipam"), "routes": [{"dst": "0.0.0.0/0"}]}


@pytest.fixture
def bridge(tmp_path) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": "ref-bridge",
        "type": "bridge",
        "bridge": "cni-ref0",
        "isGateway": True,
        "ipam": host_local(tmp_path),
    }


def test_bridge_with_host_local_add_check_del(cni_runtime, cni_node, cni_netns, cni_assert_clean, bridge, tmp_path):
    pod = cni_netns()
    attachment = cni_runtime.add(bridge, pod)
    result = attachment.result
    address = result["ips"][0]["address"]
    assert address.startswith(SUBNET_PREFIX) and address.endswith("/24")
    assert address in pod.addresses("eth0")
    assert "10.250.3.1/24" in cni_node.addresses("cni-ref0"), "isGateway puts the gateway on the bridge"
    assert pod.default_route()["gateway"] == "10.250.3.1"
    veth = pod.link("eth0").link
    assert any(link.index == veth and link.master for link in cni_node.links().values()), "host end not bridged"
    assert pod.run("ping", "-c", "1", "-W", "5", "10.250.3.1").returncode == 0

    cni_runtime.check(attachment)
    cni_runtime.delete(attachment)
    assert "cni-ref0" in cni_node.links(), "bridge keeps its bridge on DEL"
    cni_node.run("ip", "link", "del", "cni-ref0")
    allow_forwarding(cni_assert_clean, cni_node)
    cni_assert_clean(cni_node, pod, ipam_dirs=[tmp_path / "ipam"])


def allow_forwarding(cni_assert_clean, node) -> None:
    """bridge (isGateway) and ptp turn forwarding on in the node and never turn it back off, by
    design; the kernel then turns all.accept_redirects off. Accepted in the node only."""
    for change in ("forwarding: 0 -> 1", "ip_forward: 0 -> 1", "accept_redirects: 1 -> 0"):
        cni_assert_clean.allow(change, node)


def without_list_keys(plugin: dict) -> dict:
    return {k: v for k, v in plugin.items() if k not in ("cniVersion", "name")}


def test_conflist_bridge_tuning_bandwidth_chains_prev_result(
    cni_runtime, cni_node, cni_netns, cni_assert_clean, bridge
):
    conflist = {
        "cniVersion": "1.0.0",
        "name": "ref-chain",
        "plugins": [
            without_list_keys(bridge),
            {"type": "tuning", "mac": "c2:b0:57:49:47:f1", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}},
            {"type": "bandwidth", "capabilities": {"bandwidth": True}},
        ],
    }
    pod = cni_netns()
    limits = {"ingressRate": 8_000_000, "ingressBurst": 80_000, "egressRate": 8_000_000, "egressBurst": 80_000}
    attachment = cni_runtime.add(conflist, pod, capability_args={"bandwidth": limits})

    pod_iface = next(i for i in attachment.result["interfaces"] if i.get("sandbox"))
    assert pod_iface["mac"] == "c2:b0:57:49:47:f1", "tuning's MAC must reach the final result"
    assert pod.link("eth0").mac == "c2:b0:57:49:47:f1"
    assert pod.run("cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify").stdout.strip() == "1"
    host_veth = next(link for link in cni_node.links().values() if link.index == pod.link("eth0").link)
    qdiscs = cni_node.run("tc", "qdisc", "show", "dev", host_veth.name).stdout
    assert "tbf" in qdiscs, f"bandwidth got no limits through runtimeConfig: {qdiscs}"

    cni_runtime.check(attachment)  # every plugin, with the list's cached result
    cni_runtime.delete(attachment)  # reverse order: bandwidth (its ifb goes), tuning, bridge
    cni_node.run("ip", "link", "del", "cni-ref0")
    allow_forwarding(cni_assert_clean, cni_node)
    cni_assert_clean(cni_node, pod, ipam_dirs=[bridge["ipam"]["dataDir"]])


def test_portmap_gets_its_capability_and_disable_check_is_honoured(
    cni_runtime, cni_node, cni_netns, cni_assert_clean, bridge
):
    """portmap 1.1.1's CHECK fails without IPv6 DNAT chains: the list opts out with disableCheck."""
    conflist = {
        "cniVersion": "1.0.0",
        "name": "ref-ports",
        "disableCheck": True,
        "plugins": [
            without_list_keys(bridge),
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": False},
        ],
    }
    ports = [{"hostPort": 18080, "containerPort": 8080, "protocol": "tcp"}]
    pod = cni_netns()
    attachment = cni_runtime.add(conflist, pod, capability_args={"portMappings": ports, "bandwidth": {}})
    assert "--dport 18080" in cni_node.run("iptables", "-t", "nat", "-S").stdout
    cni_runtime.check(attachment)  # skipped: would fail otherwise
    cni_runtime.delete(attachment)
    cni_node.run("ip", "link", "del", "cni-ref0")
    allow_forwarding(cni_assert_clean, cni_node)
    # Finding: portmap keeps its shared CNI-HOSTPORT-* chains, and the jumps to them from the
    # built-in nat chains, after the last mapping is deleted (the per-pod CNI-DN-* chain goes).
    cni_assert_clean.allow("CNI-HOSTPORT-", cni_node)
    cni_assert_clean(cni_node, pod, ipam_dirs=[bridge["ipam"]["dataDir"]])


def test_ptp_with_host_local(cni_runtime, cni_node, cni_netns, cni_assert_clean, tmp_path):
    conf = {"cniVersion": "1.0.0", "name": "ref-ptp", "type": "ptp", "ipam": host_local(tmp_path, "10.250.4.0/24")}
    pod = cni_netns()
    attachment = cni_runtime.add(conf, pod)
    address = attachment.result["ips"][0]["address"]
    assert address in pod.addresses("eth0")
    host_veth = next(i["name"] for i in attachment.result["interfaces"] if not i.get("sandbox"))
    assert host_veth in cni_node.links()
    cni_runtime.check(attachment)
    cni_runtime.delete(attachment)
    allow_forwarding(cni_assert_clean, cni_node)
    cni_assert_clean(cni_node, pod, ipam_dirs=[tmp_path / "ipam"])


def test_an_error_object_from_a_reference_plugin(cni_runtime, cni_node, cni_netns, cni_assert_clean, bridge):
    pod = cni_netns()
    with pytest.raises(CniCallError) as refused:
        cni_runtime.add(bridge | {"bridge": "a-bridge-name-too-long"}, pod)
    assert refused.value.plugin == "bridge"
    assert refused.value.command == "ADD"
    assert refused.value.msg
    cni_runtime.delete(refused.value.attachment)
    cni_assert_clean(cni_node, pod, ipam_dirs=[bridge["ipam"]["dataDir"]])


def test_version_is_checked_against_the_spec(cni_runtime):
    answer = cni_runtime.version("bridge")
    assert "1.0.0" in answer["supportedVersions"]


def test_a_plugin_that_breaks_the_spec_fails_the_test_naming_plugin_and_rule(cni_runtime, cni_netns):
    cni_runtime.install("liar", 'echo \'{"cniVersion": "1.0.0", "ips": [{"version": "4", "address": "10.0.0.2/24"}]}\'')
    with pytest.raises(CniSpecViolation, match=r"liar ADD .*ips\[0\]\.version was removed in cniVersion 1\.0\.0"):
        cni_runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "liar"}, cni_netns())
