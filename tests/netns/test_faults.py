"""No failure leaves a device or an IP allocation behind, and hand-made devices are never touched.

Faults are injected the way they happen on a node: a failing or lying IPAM plugin, a
device or route the kernel refuses, the plugin killed mid-ADD, the pod's netns gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from krafty import naming
from krafty.testing import CniCallError, new_container_id

pytestmark = pytest.mark.cni_kernel("vrf")


def host_local(cni_runtime) -> str:
    return str(cni_runtime.find("host-local"))


def test_ipam_returning_garbage_is_rolled_back_and_its_allocation_released(cni_runtime, pod, net, clean):
    cni_runtime.install(
        "garbage-ipam",
        f'out=$({host_local(cni_runtime)}); rc=$?\n[ "$CNI_COMMAND" = ADD ] && [ $rc = 0 ] && '
        '{ echo "{garbage"; exit 0; }\nprintf "%s" "$out"; exit $rc\n',
    )
    conf = net.config()
    conf["ipam"]["type"] = "garbage-ipam"
    with pytest.raises(CniCallError) as failed:
        cni_runtime.add(conf, pod, ifname="net1")
    assert failed.value.code == 103
    clean(pod)


@pytest.mark.parametrize("plugin", ["missing-ipam", "noexec-ipam"])
def test_ipam_binary_missing_or_not_executable(cni_runtime, pod, net, clean, plugin):
    cni_runtime.install("noexec-ipam", f"exec {host_local(cni_runtime)}\n").chmod(0o644)
    conf = net.config()
    conf["ipam"]["type"] = plugin
    with pytest.raises(CniCallError) as failed:
        cni_runtime.add(conf, pod, ifname="net1")
    assert failed.value.code == 103
    assert plugin in failed.value.msg
    clean(pod)
    cni_runtime.install(plugin, Path(host_local(cni_runtime)))  # the node repaired: the runtime's DEL succeeds
    cni_runtime.delete(failed.value.attachment)


@pytest.mark.parametrize(
    ("device", "make"),
    [
        ("vrf", ["type", "vrf", "table", "99"]),
        ("bridge", ["type", "bridge"]),
        ("veth", ["type", "bridge"]),
    ],
)
def test_a_hand_made_device_in_the_way_fails_add_and_is_left_alone(
    cni_runtime, cni_node, cni_assert_clean, clean, pod, net, device, make
):
    """The veth case fails after IPAM allocated: the allocation must be released."""
    cid = new_container_id()
    name = {"vrf": naming.vrf_name, "bridge": naming.bridge_name, "veth": naming.host_veth_name}[device](cid)
    cni_node.run("ip", "link", "add", "name", name, *make)
    with pytest.raises(CniCallError) as failed:
        cni_runtime.add(net.config(), pod, container_id=cid, ifname="net1")
    assert failed.value.code == 101
    assert name in failed.value.msg
    assert name in cni_node.links(), "the hand-made device was deleted"
    cni_assert_clean(pod, ipam_dirs=[net.data_dir])
    cni_runtime.delete(failed.value.attachment)
    assert name in cni_node.links(), "DEL deleted a device krafty does not own"
    cni_node.run("ip", "link", "del", name)
    clean()


def test_a_route_the_kernel_refuses_in_the_pod_rolls_everything_back(cni_runtime, pod, net, clean):
    conf = net.config()
    conf["ipam"]["routes"] = [{"dst": "0.0.0.0/0"}, {"dst": "10.99.0.0/16", "gw": "192.168.99.1"}]
    with pytest.raises(CniCallError) as failed:
        cni_runtime.add(conf, pod, ifname="net1")
    assert failed.value.code == 100
    assert "10.99.0.0/16" in failed.value.msg
    clean(pod)


def test_hand_made_devices_with_krafty_names_survive_del_and_gc(cni_runtime, cni_node, pod, net, clean):
    cid = new_container_id()
    names = [naming.vrf_name(cid), naming.bridge_name(cid), naming.host_veth_name(cid)]
    cni_node.run("ip", "link", "add", "name", names[0], "type", "vrf", "table", "77")
    cni_node.run("ip", "link", "add", "name", names[1], "type", "bridge")
    cni_node.run("ip", "link", "add", "name", names[2], "type", "veth", "peer", "name", "peer0")
    cni_runtime.delete(net.config(), pod, container_id=cid, ifname="net1")
    cni_runtime.gc(net.config("1.1.0"), valid=[])
    cni_node.run(str(cni_runtime.find("krafty")), "gc", "--ipam-dir", str(net.data_dir))
    assert set(names) <= set(cni_node.links()), "a device not made by krafty was deleted"
    for name in names:
        cni_node.run("ip", "link", "del", name)
    clean(pod)


def test_del_without_prev_result_and_with_it(cni_runtime, pod, net, clean):
    added = cni_runtime.add(net.config("1.1.0"), pod, ifname="net1")
    cni_runtime.delete(added)  # with the cached result as prevResult
    cni_runtime.delete(net.config("1.1.0"), pod, container_id=added.container_id, ifname="net1")  # without
    clean(pod)


def _milestones(cni_node, pod, net, cid):
    def has(ns, name):
        return lambda: name in ns.links()

    return {
        "vrf created": has(cni_node, naming.vrf_name(cid)),
        "bridge created": has(cni_node, naming.bridge_name(cid)),
        # host-local creates the reservation file, then writes the owner into it: a kill in between
        # leaves a file no DEL can match (test_node_tools covers that); the milestone is the write.
        "address allocated": lambda: any(
            (net.data_dir / net.name / ip).read_text().startswith(cid) for ip in net.allocations()
        ),
        "veth created": has(cni_node, naming.host_veth_name(cid)),
        "pod interface present": has(pod, "net1"),
    }


@pytest.mark.parametrize(
    "milestone", ["vrf created", "bridge created", "address allocated", "veth created", "pod interface present"]
)
def test_del_cleans_up_after_add_was_killed(cni_runtime, cni_kill_at, cni_node, pod, net, clean, milestone):
    cid = new_container_id()
    killed = cni_kill_at(
        net.config(), pod, _milestones(cni_node, pod, net, cid)[milestone], container_id=cid, ifname="net1"
    )
    cni_runtime.delete(killed)
    clean(pod)


def test_an_ipam_child_dies_with_its_plugin(cni_runtime, cni_kill_at, pod, net, clean, tmp_path):
    """A runtime whose call times out kills the plugin alone, not its process group: the IPAM
    plugin krafty started must not go on to allocate an address after the runtime's DEL."""
    started, request = tmp_path / "ipam-started", tmp_path / "ipam-request"
    # Started = krafty has handed over the whole request (cat saw its end), so the kill cannot
    # be what keeps host-local from allocating: only dying with krafty can.
    host_local = cni_runtime.find("host-local")
    cni_runtime.install(
        "slow-ipam",
        f'[ "$CNI_COMMAND" = ADD ] || exec {host_local}\n'
        f"cat > {request}\ntouch {started}\nsleep 3\nexec {host_local} < {request}\n",
    )
    conf = net.config()
    conf["ipam"]["type"] = "slow-ipam"
    killed = cni_kill_at(conf, pod, started.exists, ifname="net1", group=False)  # waits for the children
    assert net.allocations() == [], "the IPAM plugin outlived krafty and allocated"
    cni_runtime.delete(killed)
    clean(pod)
