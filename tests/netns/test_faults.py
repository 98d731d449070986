"""No failure leaves a device or an IP allocation behind, and hand-made devices are never touched.

Faults are injected the way they happen on a node: a failing or lying IPAM plugin, a
device or route the kernel refuses, the plugin killed mid-ADD, the pod's netns gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from krafty import naming
from tests.netns.conftest import KRAFTY, PROCESS_TIMEOUT, assert_clean, container_id, node_links


def test_ipam_returning_garbage_is_rolled_back_and_its_allocation_released(runtime, node, pod, ipam_plugins):
    ipam_plugins(
        "garbage-ipam",
        'out=$(HOST_LOCAL); rc=$?\n[ "$CNI_COMMAND" = ADD ] && [ $rc = 0 ] && { echo "{garbage"; exit 0; }\n'
        'printf "%s" "$out"; exit $rc\n',
    )
    conf = runtime.config()
    conf["ipam"]["type"] = "garbage-ipam"
    failed = runtime.add(container_id(), pod, conf)
    assert failed.out["code"] == 103, failed.out
    assert_clean(node, runtime)
    assert node_links(pod) == {"lo"}


@pytest.mark.parametrize("plugin", ["missing-ipam", "noexec-ipam"])
def test_ipam_binary_missing_or_not_executable(runtime, node, pod, ipam_plugins, plugin):
    ipam_plugins("noexec-ipam", "exec HOST_LOCAL\n", mode=0o644)
    conf = runtime.config()
    conf["ipam"]["type"] = plugin
    failed = runtime.add(container_id(), pod, conf)
    assert failed.out["code"] == 103
    assert plugin in failed.out["msg"]
    assert_clean(node, runtime)


@pytest.mark.parametrize(
    ("device", "make"),
    [
        ("vrf", ["type", "vrf", "table", "99"]),
        ("bridge", ["type", "bridge"]),
        ("veth", ["type", "bridge"]),
    ],
)
def test_a_hand_made_device_in_the_way_fails_add_and_is_left_alone(runtime, node, pod, device, make):
    """The veth case fails after IPAM allocated: the allocation must be released."""
    cid = container_id()
    name = {"vrf": naming.vrf_name, "bridge": naming.bridge_name, "veth": naming.host_veth_name}[device](cid)
    node.run("ip", "link", "add", "name", name, *make)
    failed = runtime.add(cid, pod)
    assert failed.out["code"] == 101, failed.out
    assert name in failed.out["msg"]
    assert_clean(node, runtime, keep={name})
    assert name in node_links(node), "the hand-made device was deleted"
    assert node_links(pod) == {"lo"}
    assert runtime.delete(cid, pod.path).ok
    assert name in node_links(node), "DEL deleted a device krafty does not own"


def test_a_route_the_kernel_refuses_in_the_pod_rolls_everything_back(runtime, node, pod):
    conf = runtime.config()
    conf["ipam"]["routes"] = [{"dst": "0.0.0.0/0"}, {"dst": "10.99.0.0/16", "gw": "192.168.99.1"}]
    failed = runtime.add(container_id(), pod, conf)
    assert failed.out["code"] == 100, failed.out
    assert "10.99.0.0/16" in failed.out["msg"]
    assert_clean(node, runtime)
    assert node_links(pod) == {"lo"}


def test_hand_made_devices_with_krafty_names_survive_del_and_gc(runtime, node, pod):
    cid = container_id()
    names = [naming.vrf_name(cid), naming.bridge_name(cid), naming.host_veth_name(cid)]
    node.run("ip", "link", "add", "name", names[0], "type", "vrf", "table", "77")
    node.run("ip", "link", "add", "name", names[1], "type", "bridge")
    node.run("ip", "link", "add", "name", names[2], "type", "veth", "peer", "name", "peer0")
    assert runtime.delete(cid, pod.path).ok
    conf = runtime.config("1.1.0", **{"cni.dev/valid-attachments": []})
    assert runtime.call("GC", "", "", conf).ok
    node.run(str(KRAFTY), "gc", "--ipam-dir", str(runtime.data_dir))
    assert set(names) <= node_links(node), "a device not made by krafty was deleted"


def test_del_without_prev_result_and_with_it(runtime, node, pod):
    cid = container_id()
    added = runtime.add(cid, pod, runtime.config("1.1.0"))
    assert runtime.delete(cid, pod.path, runtime.config("1.1.0", prevResult=added.out)).ok
    assert runtime.delete(cid, pod.path, runtime.config("1.1.0")).ok
    assert_clean(node, runtime)


def _killed_at(runtime, pod, cid: str, milestone) -> None:
    """Start ADD as a runtime would and SIGKILL it the moment `milestone()` holds."""
    # nsenter execs the plugin in place; the whole process group dies, IPAM child included,
    # so nothing of this ADD can still be running when DEL comes.
    proc = subprocess.Popen(
        runtime.argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=runtime.environment("ADD", cid, pod.path),
        start_new_session=True,
    )
    proc.stdin.write(json.dumps(runtime.config()).encode())
    proc.stdin.close()
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline and not milestone():
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _milestones(runtime, node, pod, cid):
    def has(ns, name):
        return lambda: name in node_links(ns)

    return {
        "vrf created": has(node, naming.vrf_name(cid)),
        "bridge created": has(node, naming.bridge_name(cid)),
        "address allocated": lambda: bool(runtime.allocations()),
        "veth created": has(node, naming.host_veth_name(cid)),
        "pod interface present": has(pod, "net1"),
    }


@pytest.mark.parametrize(
    "milestone", ["vrf created", "bridge created", "address allocated", "veth created", "pod interface present"]
)
def test_del_cleans_up_after_add_was_killed(runtime, node, pod, milestone):
    cid = container_id()
    _killed_at(runtime, pod, cid, _milestones(runtime, node, pod, cid)[milestone])
    deleted = runtime.delete(cid, pod.path)
    assert deleted.ok, deleted.out
    assert_clean(node, runtime)
    assert node_links(pod) == {"lo"}, "the pod interface survived DEL"
