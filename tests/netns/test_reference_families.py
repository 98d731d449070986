"""Debian's `bridge` + `host-local` at every spec version both list, IPv4-only, IPv6-only and
dual-stack: one table, as containernetworking/plugins' bridge_test.go runs it.

Expected values come from the spec and host-local's documentation: host-local hands out the
first address after the gateway (`.1`, or `::1`), and the gateway is `.1` unless set. The
bridge gets the gateway addresses from the test, not from `isGateway` (which would turn on
forwarding in the node and leave it on): the pod's default routes point at them.
"""

from __future__ import annotations

from ipaddress import ip_interface
from typing import Any

import pytest

from krafty.testing import CniCallError
from krafty.testing.versions import has_check, has_interfaces, has_ip_version, has_multiple_ips

BRIDGE = "cni-fam0"
V4 = {"subnet": "10.250.7.0/24", "gateway": "10.250.7.1", "address": "10.250.7.2/24", "default": "0.0.0.0/0"}
V6 = {"subnet": "2001:db8:7::/64", "gateway": "2001:db8:7::1", "address": "2001:db8:7::2/64", "default": "::/0"}
FAMILIES = {"ipv4": {4: V4}, "ipv6": {6: V6}, "dual-stack": {4: V4, 6: V6}}


def bridge_config(version: str, ranges: list[dict[str, str]], data_dir: str) -> dict[str, Any]:
    return {
        "cniVersion": version,
        "name": "ref-families",
        "type": "bridge",
        "bridge": BRIDGE,
        "ipam": {
            "type": "host-local",
            "dataDir": data_dir,
            "ranges": [[{"subnet": r["subnet"]}] for r in ranges],
            "routes": [{"dst": r["default"]} for r in ranges],
        },
    }


def gateway_bridge(node, families: dict[int, dict[str, str]]) -> None:
    """The bridge, made before ADD (bridge uses an existing one), holding the gateways."""
    node.run("ip", "link", "add", BRIDGE, "type", "bridge")
    for family in families.values():
        node.run("ip", "addr", "add", f"{family['gateway']}/{family['subnet'].split('/')[1]}", "dev", BRIDGE, "nodad")
    node.run("ip", "link", "set", BRIDGE, "up")


def result_addresses(result: dict[str, Any], version: str) -> dict[int, str]:
    """The pod's addresses by family, read in the result shape of `version`."""
    if has_interfaces(version):
        return {ip_interface(ip["address"]).version: ip["address"] for ip in result["ips"]}
    return {family: result[key]["ip"] for family, key in ((4, "ip4"), (6, "ip6")) if key in result}


@pytest.mark.cni_versions("bridge", "host-local")
@pytest.mark.parametrize("stack", FAMILIES)
def test_bridge_host_local_at_every_version(
    stack, cni_version, cni_runtime, cni_node, cni_netns, cni_assert_clean, tmp_path
):
    families = FAMILIES[stack]
    gateway_bridge(cni_node, families)
    pod = cni_netns()
    conf = bridge_config(cni_version, list(families.values()), str(tmp_path / "ipam"))
    attachment = cni_runtime.add(conf, pod)
    result = attachment.result

    # The result's shape is the version's (the runtime already checked it against that version's rules).
    assert result["cniVersion"] == cni_version
    if has_interfaces(cni_version):
        assert "ip4" not in result and "ip6" not in result
        pod_ifaces = [i for i, iface in enumerate(result["interfaces"]) if iface.get("sandbox")]
        assert [result["interfaces"][i]["name"] for i in pod_ifaces] == ["eth0"], result["interfaces"]
        for ip in result["ips"]:
            assert ip.get("interface") in pod_ifaces, f"{ip} is not on the pod's eth0"
            assert ("version" in ip) == has_ip_version(cni_version), ip
            if "version" in ip:
                assert ip["version"] == str(ip_interface(ip["address"]).version), ip
    else:
        assert not {"interfaces", "ips"} & set(result), f"{cni_version} results have ip4/ip6 only: {result}"
        for family, key in ((4, "ip4"), (6, "ip6")):
            if family in families:
                assert result[key]["gateway"] == families[family]["gateway"], result[key]
    assert result_addresses(result, cni_version) == {f: fam["address"] for f, fam in families.items()}

    # The kernel agrees: addresses of the right families on eth0, a default route per family.
    for family in (4, 6):
        on_eth0 = pod.addresses("eth0", family)
        defaults = [
            (r["gateway"], r["dev"]) for r in pod.routes(family=family) if r["dst"] == (V4, V6)[family == 6]["default"]
        ]
        if family in families:
            assert families[family]["address"] in on_eth0
            assert defaults == [(families[family]["gateway"], "eth0")], f"IPv{family} default routes: {defaults}"
        else:
            assert not {a for a in on_eth0 if not a.startswith("fe80:")}, f"IPv{family} only link-local: {on_eth0}"
            assert defaults == [], f"no IPv{family} default route expected: {defaults}"
    if 6 in families:
        pod.wait_for_dad("eth0")
    for family in families.values():
        pod.ping(family["gateway"])

    if has_check(cni_version):
        cni_runtime.check(attachment)
    cni_runtime.delete(attachment)
    assert BRIDGE in cni_node.links(), "bridge keeps its bridge on DEL"
    cni_node.run("ip", "link", "del", BRIDGE)
    cni_assert_clean(cni_node, pod, ipam_dirs=[tmp_path / "ipam"])


@pytest.mark.cni_versions("bridge", "host-local")
def test_two_addresses_of_one_family_need_0_3_0(
    cni_version, cni_runtime, cni_node, cni_netns, cni_assert_clean, tmp_path
):
    """0.1.0/0.2.0 results hold one ip4 and one ip6: bridge refuses a second IPv6 range there,
    on ADD and on DEL alike (as its own bridge_test.go expects). The DEL that fails still
    removes what the refused ADD left (bridge 1.1.1 does not roll back its veth pair)."""
    second = {"subnet": "2001:db8:8::/64", "address": "2001:db8:8::2/64", "default": "::/0"}
    gateway_bridge(cni_node, FAMILIES["dual-stack"])
    pod = cni_netns()
    conf = bridge_config(cni_version, [V4, V6, second], str(tmp_path / "ipam"))
    conf["ipam"]["routes"] = [{"dst": V4["default"]}, {"dst": V6["default"]}]
    if has_multiple_ips(cni_version):
        attachment = cni_runtime.add(conf, pod)
        expected = {V4["address"], V6["address"], second["address"]}
        assert {ip["address"] for ip in attachment.result["ips"]} == expected
        assert expected <= pod.addresses("eth0")
        cni_runtime.delete(attachment)
    else:
        refusal = "does not support more than 1 address per family"
        with pytest.raises(CniCallError, match=refusal) as refused:
            cni_runtime.add(conf, pod)
        with pytest.raises(CniCallError, match=refusal):
            cni_runtime.delete(refused.value.attachment)
        cni_runtime.forget(refused.value.attachment)  # its DEL fails for good: no retry at teardown
    cni_node.run("ip", "link", "del", BRIDGE)
    cni_assert_clean(cni_node, pod, ipam_dirs=[tmp_path / "ipam"])
