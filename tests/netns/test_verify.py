"""Every ADD result is held against the real kernel: a stub plugin makes real devices with `ip`
and then says one thing in its result the kernel does not bear out.

The stub makes a veth pair (`v<container id>` on the node, CNI_IFNAME in the pod) with fixed
MACs, 10.99.0.5/24 and fd00:99::5/64 on the pod side, and routes 10.98.0.0/16 via 10.99.0.1
and fd00:98::/64 via fd00:99::1. Its honest result says exactly that; each case below changes
one thing in it, and the harness must name that rule and that plugin.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from krafty.testing import CniSpecViolation
from krafty.testing.verify import Device, KernelRoute, Observed, check, observe

MAKE = """\
cat > /dev/null
host="v$(printf %s "$CNI_CONTAINERID" | cut -c1-12)"
case "$CNI_COMMAND" in
DEL) ip link del "$host" 2>/dev/null; exit 0 ;;
ADD) ;;
*) exit 0 ;;
esac
set -e
ip link add "$host" address 02:00:00:00:00:01 type veth peer name "$CNI_IFNAME" address 02:00:00:00:00:0a \\
    netns "$CNI_NETNS"
ip link set "$host" up
nsenter --net="$CNI_NETNS" sh -ec "
    ip link set $CNI_IFNAME up
    ip addr add 10.99.0.5/24 dev $CNI_IFNAME
    ip -6 addr add fd00:99::5/64 dev $CNI_IFNAME nodad
    ip route add 10.98.0.0/16 via 10.99.0.1
    ip -6 route add fd00:98::/64 via fd00:99::1
" >&2
sed "s|@NETNS@|$CNI_NETNS|g; s|@IFNAME@|$CNI_IFNAME|g; s|@HOST@|$host|g" <<'JSON'
{result}
JSON
"""
HONEST = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "@HOST@", "mac": "02:00:00:00:00:01"},
        {"name": "@IFNAME@", "mac": "02:00:00:00:00:0a", "sandbox": "@NETNS@"},
    ],
    "ips": [
        {"address": "10.99.0.5/24", "gateway": "10.99.0.1", "interface": 1},
        {"address": "fd00:99::5/64", "gateway": "fd00:99::1", "interface": 1},
    ],
    "routes": [{"dst": "10.98.0.0/16", "gw": "10.99.0.1"}, {"dst": "fd00:98::/64", "gw": "fd00:99::1"}],
}


def stub(result: dict) -> str:
    return MAKE.replace("{result}", json.dumps(result))


def net(type_name: str = "maker") -> dict:
    return {"cniVersion": "1.0.0", "name": "verify", "type": type_name}


def test_an_honest_result_passes_in_both_families(cni_runtime, cni_netns, cni_node):
    cni_runtime.install("maker", stub(HONEST))
    pod = cni_netns()
    attachment = cni_runtime.add(net(), pod)
    assert attachment.result["interfaces"][1]["sandbox"] == pod.path
    cni_runtime.delete(attachment)


def lie(path: tuple, value) -> dict:
    """HONEST with one value changed (`path` into the result; the last key None appends)."""
    result = copy.deepcopy(HONEST)
    *into, last = path
    target = result
    for key in into:
        target = target[key]
    if last is None:
        target.append(value)
    else:
        target[last] = value
    return result


# Each: the one change, the rule, what the message must say (the kernel's side and the result's).
LIES = {
    "sandbox spelled another way": (
        lie(("interfaces", 1, "sandbox"), "/var@NETNS@"),
        "kernel.sandbox-is-netns",
        r"interfaces\[1\] eth0: sandbox is '/var/run/netns/cni-pod-[^']+', CNI_NETNS is '/run/netns/cni-pod-",
    ),
    "CNI_IFNAME not listed": (
        {**lie(("interfaces",), [HONEST["interfaces"][0]]), "ips": []},
        "kernel.ifname-listed",
        r"CNI_IFNAME eth0 is not listed with a sandbox; interfaces: v[0-9a-f]{12} \(node\)$",
    ),
    "an interface the pod lacks": (
        lie(("interfaces", None), {"name": "eth9", "sandbox": "@NETNS@"}),
        "kernel.interface-in-sandbox",
        r"eth9 is not in /run/netns/cni-pod-\S+: it has eth0, lo$",
    ),
    "a node interface that does not exist": (
        lie(("interfaces", 0, "name"), "@HOST@x"),
        "kernel.interface-on-node",
        r"v[0-9a-f]{12}x is not in the node: it has lo, v[0-9a-f]{12}$",
    ),
    "a wrong pod MAC": (
        lie(("interfaces", 1, "mac"), "02:00:00:00:00:06"),
        "kernel.mac",
        r"eth0 in /run/netns/cni-pod-\S+: has MAC 02:00:00:00:00:0a; result says 02:00:00:00:00:06$",
    ),
    "a wrong node MAC": (
        lie(("interfaces", 0, "mac"), "02:00:00:00:00:02"),
        "kernel.mac",
        r"v[0-9a-f]{12} in the node: has MAC 02:00:00:00:00:01; result says 02:00:00:00:00:02$",
    ),
    "an IPv4 address on no device": (
        lie(("ips", 0, "address"), "10.37.0.5/24"),
        "kernel.ip-on-interface",
        r"ips\[0\]: eth0 in \S+: has 10.99.0.5/24, fd00:99::5/64(, fe80::ff:fe00:a/64)?; result says 10.37.0.5/24$",
    ),
    "an IPv4 prefix the device does not have": (
        lie(("ips", 0, "address"), "10.99.0.5/16"),
        "kernel.ip-on-interface",
        r"result says 10.99.0.5/16$",
    ),
    "an IPv6 address on no device": (
        lie(("ips", 1, "address"), "fd00:99::6/64"),
        "kernel.ip-on-interface",
        r"ips\[1\]: eth0 in \S+: has 10.99.0.5/24, fd00:99::5/64(, fe80::ff:fe00:a/64)?; result says fd00:99::6/64$",
    ),
    "an IPv4 route the pod lacks": (
        lie(("routes", None), {"dst": "10.97.0.0/16"}),
        "kernel.route-in-pod",
        r"routes\[2\]: \S+ \(any table\) has .*10.98.0.0/16 via 10.99.0.1 table 254.*; result says 10.97.0.0/16$",
    ),
    "an IPv6 route via another gateway": (
        lie(("routes", 1, "gw"), "fd00:99::2"),
        "kernel.route-in-pod",
        r"routes\[1\]: \S+ \(any table\) has .*fd00:98::/64 via fd00:99::1 table 254.*; "
        r"result says fd00:98::/64 via fd00:99::2$",
    ),
}


@pytest.mark.parametrize("result, rule, says", LIES.values(), ids=LIES.keys())
def test_a_result_the_kernel_does_not_bear_out_fails_naming_the_rule(cni_runtime, cni_netns, result, rule, says):
    cni_runtime.install("maker", stub(result))
    with pytest.raises(CniSpecViolation) as broken:
        cni_runtime.add(net(), cni_netns())
    assert (broken.value.plugin, broken.value.command, broken.value.rule) == ("maker", "ADD", rule)
    message = str(broken.value)
    assert message.count("[kernel.") == 1, f"exactly one rule broken: {message}"
    assert message.startswith(f"maker ADD: the result does not match the kernel: [{rule}] ")
    assert re.search(says, message), message


def test_a_gateway_of_the_other_family_breaks_the_result_rule(cni_runtime, cni_netns):
    cni_runtime.install("maker", stub(lie(("ips", 0, "gateway"), "fd00:99::1")))
    with pytest.raises(CniSpecViolation, match=r"maker ADD .*ips\[0\]\.gateway must be of its address's family"):
        cni_runtime.add(net(), cni_netns())


def test_a_cni_netns_that_is_no_namespace_breaks_the_sandbox_rule(cni_runtime, tmp_path):
    """The runtime's side: a sandbox the harness cannot open is reported, never created."""
    missing = tmp_path / "no-such-netns"
    says = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "@NETNS@"}], "ips": []}
    teller = "cat >/dev/null\n[ $CNI_COMMAND = ADD ] || exit 0\n"
    teller += f"echo '{json.dumps(says)}' | sed \"s|@NETNS@|$CNI_NETNS|\""
    cni_runtime.install("teller", teller)
    with pytest.raises(CniSpecViolation) as broken:
        cni_runtime.add(net("teller"), str(missing))
    assert broken.value.rule == "kernel.sandbox-is-netns"
    assert f"CNI_NETNS '{missing}' cannot be read: no such file" in str(broken.value)
    assert not missing.exists(), "reading must never create the namespace"
    with pytest.raises(CniSpecViolation, match=r"'/proc/self/ns/net' cannot be read: it names the reading process"):
        cni_runtime.add(net("teller"), "/proc/self/ns/net")
    with pytest.raises(CniSpecViolation, match=r"cannot be read: not a network namespace \(Invalid argument\)"):
        cni_runtime.add(net("teller"), str(tmp_path))


MAC_CHANGER = """\
conf=$(cat)
[ "$CNI_COMMAND" = ADD ] || exit 0
nsenter --net="$CNI_NETNS" ip link set "$CNI_IFNAME" address 02:00:00:00:00:77
printf %s "$conf" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["prevResult"]))'
"""


def test_each_plugin_of_a_list_is_checked_right_after_it_answers(cni_runtime, cni_netns):
    """The main plugin's result held at its turn; a meta plugin that changes the MAC and passes
    the old result on breaks `kernel.mac` at its own turn, and is the one named."""
    cni_runtime.install("maker", stub(HONEST))
    cni_runtime.install("macchanger", MAC_CHANGER)
    chain = {"cniVersion": "1.0.0", "name": "verify", "plugins": [{"type": "maker"}, {"type": "macchanger"}]}
    with pytest.raises(CniSpecViolation) as broken:
        cni_runtime.add(chain, cni_netns())
    assert (broken.value.plugin, broken.value.rule) == ("macchanger", "kernel.mac")
    assert "has MAC 02:00:00:00:00:77; result says 02:00:00:00:00:0a" in str(broken.value)


ROUTER = """\
conf=$(cat)
[ "$CNI_COMMAND" = ADD ] || exit 0
nsenter --net="$CNI_NETNS" ip route add 10.97.0.0/16 via 10.99.0.1
printf %s "$conf" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["prevResult"]))'
"""


def test_routes_are_held_against_the_kernel_only_in_the_final_result(cni_runtime, cni_netns):
    """A route the main plugin names but a later plugin installs: the intermediate result is not
    held to its routes, the final one is (and here the route is there by then)."""
    cni_runtime.install("maker", stub(lie(("routes", None), {"dst": "10.97.0.0/16", "gw": "10.99.0.1"})))
    cni_runtime.install("router", ROUTER)
    chain = {"cniVersion": "1.0.0", "name": "verify", "plugins": [{"type": "maker"}, {"type": "router"}]}
    cni_runtime.delete(cni_runtime.add(chain, cni_netns()))


def test_a_mac_in_upper_case_is_the_same_mac(cni_runtime, cni_netns):
    cni_runtime.install("maker", stub(lie(("interfaces", 1, "mac"), "02:00:00:00:00:0a".upper())))
    cni_runtime.delete(cni_runtime.add(net(), cni_netns()))


def test_routes_moved_to_another_table_by_sbr_still_count(cni_runtime, cni_netns):
    """Debian's sbr moves the interface's routes to table 100: the final check looks in any table."""
    cni_runtime.install("maker", stub(HONEST))
    chain = {"cniVersion": "1.0.0", "name": "verify", "plugins": [{"type": "maker"}, {"type": "sbr"}]}
    pod = cni_netns()
    attachment = cni_runtime.add(chain, pod)
    assert any(r["dst"] == "10.98.0.0/16" for r in pod.routes(100)), "sbr moved the route to table 100"
    assert not any(r["dst"] == "10.98.0.0/16" for r in pod.routes(254))
    cni_runtime.delete(attachment)


def test_skip_checks_turns_one_rule_off_and_the_report_says_so(tmp_path):
    script = stub(lie(("interfaces", 1, "mac"), "02:00:00:00:00:06"))
    (tmp_path / "test_it.py").write_text(
        textwrap.dedent(
            f"""
            import pytest
            from krafty.testing import CniSpecViolation
            STUB = {script!r}
            NET = {{"cniVersion": "1.0.0", "name": "verify", "type": "maker"}}

            def test_off(cni_runtime, cni_netns):
                cni_runtime.install("maker", STUB)
                off = {{"kernel.mac": "the stub lies, on purpose"}}
                assert cni_runtime.add(NET, cni_netns(), skip_checks=off).skip_checks == off

            def test_on(cni_runtime, cni_netns):
                cni_runtime.install("maker", STUB)
                with pytest.raises(CniSpecViolation):
                    cni_runtime.add(NET, cni_netns())

            def test_unknown(cni_runtime, cni_netns):
                with pytest.raises(ValueError, match="unknown rule kernel.nope"):
                    cni_runtime.add(NET, cni_netns(), skip_checks={{"kernel.nope": "x"}})
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--basetemp={tmp_path / 'tmp'}",
         f"--junitxml={tmp_path / 'report.xml'}", "test_it.py"],
        cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.split("CNI checks turned off", 1)[-1]
    assert "CNI checks turned off" in done.stdout, done.stdout
    assert "test_it.py::test_off kernel.mac: the stub lies, on purpose" in summary, done.stdout
    assert "test_on" not in summary and "test_unknown" not in summary, done.stdout
    xml = Path(tmp_path / "report.xml").read_text()
    assert '<property name="cni_check_off" value="kernel.mac: the stub lies, on purpose"' in xml, xml


def dual_stack(tmp_path) -> dict:
    ranges = [[{"subnet": "fd00:254::/64"}], [{"subnet": "10.254.0.0/24"}]]
    routes = [{"dst": "::/0"}, {"dst": "0.0.0.0/0"}]
    return {"type": "host-local", "dataDir": str(tmp_path / "ipam"), "ranges": ranges, "routes": routes}


STATIC = {
    "type": "static",
    "addresses": [{"address": "10.251.0.5/24", "gateway": "10.251.0.1"}, {"address": "fd00:251::5/64"}],
    "routes": [{"dst": "10.252.0.0/16", "gw": "10.251.0.1"}, {"dst": "fd00:252::/64", "gw": "fd00:251::1"}],
}


@pytest.mark.parametrize("plugin", ["bridge", "ptp", "macvlan", "host-device"])
def test_reference_plugins_pass_in_both_families(cni_runtime, cni_node, cni_netns, tmp_path, plugin):
    """No false alarm on Debian's plugins with IPv4 and IPv6 at once: their results hold."""
    cni_node.run("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1")  # macvlan's master
    cni_node.run("ip", "link", "set", "up0", "up")
    conf = {
        "bridge": {"type": "bridge", "bridge": "cni-v6", "isGateway": True, "ipam": dual_stack(tmp_path)},
        "ptp": {"type": "ptp", "ipam": dual_stack(tmp_path)},
        "macvlan": {"type": "macvlan", "master": "up0", "ipam": STATIC},
        "host-device": {"type": "host-device", "device": "up1", "ipam": STATIC},
    }[plugin]
    pod = cni_netns()
    attachment = cni_runtime.add({"cniVersion": "1.0.0", "name": "dual", **conf}, pod)
    families = {":" in ip["address"] for ip in attachment.result["ips"]}
    assert families == {True, False}, attachment.result
    cni_runtime.delete(attachment)


def test_a_self_relative_path_is_read_for_the_node_and_refused_for_a_pod(cni_node):
    """The plugin enters the node from this process, so /proc/self/ns/net is the node it saw;
    a pod given as /proc/self/... is the plugin's own namespace, which the harness cannot open."""
    assert "lo" in observe("/proc/self/ns/net", addresses=False, routes=False, own=True).devices
    refused = observe("/proc/self/ns/net", addresses=False, routes=False)
    assert (refused.devices, refused.error) == (
        {},
        "it names the reading process's own namespace, not the one the plugin saw",
    )
    assert observe(cni_node.path, addresses=False, routes=False).devices.keys() == {"lo"}


def test_a_result_naming_the_node_as_proc_self_is_checked_in_this_process_namespace(cni_netns):
    """The node given as /proc/self/ns/net (the plugin ran from here) is read, with its addresses."""
    pod = cni_netns()
    result = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "lo", "mac": "00:00:00:00:00:00"}, {"name": "lo", "sandbox": pod.path}],
        "ips": [{"address": "127.0.0.1/8", "interface": 0}, {"address": "::1/128", "interface": 1}],
    }
    assert check(result, pod.path, "lo", "/proc/self/ns/net", final=True) == []


SETUP = """\
ip link add v0 address 02:00:00:00:00:0b type veth peer name v1
ip link set v0 addrgenmode none
ip link set v0 up
ip link set v1 up
ip addr add 10.99.0.5/24 dev v0
ip addr add fd00:99::5/64 dev v0 nodad
ip addr add 10.99.1.1 peer 10.99.1.2/32 dev v0
ip route add default via 10.99.0.1
ip -6 route add default via fd00:99::1
ip route add 10.97.0.0/16 nexthop via 10.99.0.1 nexthop via 10.99.0.2
ip route add 10.96.0.0/16 dev v0 table 1000
"""


def test_observe_reads_devices_addresses_and_routes_of_every_family_and_table(cni_netns):
    """What `ip addr` and `ip route show table all` say, as the rules compare it."""
    pod = cni_netns()
    pod.run("sh", "-ec", SETUP)
    seen = observe(pod.path, addresses=True, routes=True)
    assert (seen.path, seen.error) == (pod.path, "")
    assert seen.devices["lo"] == Device("00:00:00:00:00:00", frozenset({"127.0.0.1/8", "::1/128"}))
    assert seen.devices["v0"] == Device(
        "02:00:00:00:00:0b", frozenset({"10.99.0.5/24", "fd00:99::5/64", "10.99.1.1/32"})
    ), "a point-to-point address is held as its local side"
    assert seen.devices.keys() == {"lo", "v0", "v1"}
    expected = {
        KernelRoute("0.0.0.0/0", frozenset({"10.99.0.1"}), 254),
        KernelRoute("::/0", frozenset({"fd00:99::1"}), 254),
        KernelRoute("10.97.0.0/16", frozenset({"10.99.0.1", "10.99.0.2"}), 254),
        KernelRoute("10.99.0.0/24", frozenset(), 254),
        KernelRoute("fd00:99::/64", frozenset(), 254),
        KernelRoute("10.96.0.0/16", frozenset(), 1000),
        KernelRoute("10.99.0.5/32", frozenset(), 255),
    }
    assert expected - set(seen.routes) == set(), seen.routes
    bare = observe(pod.path, addresses=False, routes=False)
    assert bare == Observed(pod.path, {name: Device(device.mac) for name, device in seen.devices.items()})


def test_a_device_without_a_link_layer_address_has_no_mac(cni_netns):
    pod = cni_netns()
    made = pod.run("ip", "tuntap", "add", "dev", "t0", "mode", "tun", check=False)
    if made.returncode:
        pytest.skip(f"no tun device in this kernel: {made.stderr.strip()}")
    assert observe(pod.path, addresses=True, routes=False).devices["t0"] == Device("")


def test_a_cni_netns_that_is_no_namespace_is_observed_as_such(tmp_path):
    assert observe(str(tmp_path), addresses=True, routes=True) == Observed(
        str(tmp_path), error="not a network namespace (Invalid argument)"
    )
