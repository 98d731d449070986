"""krafty inspect / gc / lab on a real node namespace."""

from __future__ import annotations

import json

from krafty import naming
from tests.netns.conftest import KRAFTY, assert_clean, container_id


def inspect(node, runtime) -> list[dict]:
    out = node.run(str(KRAFTY), "inspect", "--json", "--ipam-dir", str(runtime.data_dir)).stdout
    return json.loads(out)


def test_inspect_lists_an_attachment_with_its_devices_pod_and_allocation(runtime, node, pod):
    cid = container_id()
    added = runtime.add(cid, pod)
    [entry] = inspect(node, runtime)
    assert entry["containerID"] == cid
    assert (entry["vrf"], entry["bridge"], entry["hostVeth"]) == (
        naming.vrf_name(cid),
        naming.bridge_name(cid),
        naming.host_veth_name(cid),
    )
    assert entry["table"] == naming.default_vrf_table(runtime.config()["name"])
    assert entry["podNetns"] == pod.path
    assert entry["podAddresses"] == [added.out["ips"][0]["address"]]
    assert entry["allocations"] == [added.out["ips"][0]["address"].split("/")[0]]
    assert entry["orphan"] is False
    human = node.run(str(KRAFTY), "inspect", "--ipam-dir", str(runtime.data_dir)).stdout
    assert naming.vrf_name(cid) in human and pod.path in human
    assert runtime.delete(cid, pod.path).ok


def test_gc_removes_what_a_vanished_pod_left_behind(runtime, node, namespaces):
    pod = namespaces()
    cid = container_id()
    assert runtime.add(cid, pod).ok
    pod.remove()  # the runtime lost the pod and never called DEL: the veth went with the netns
    [entry] = inspect(node, runtime)
    assert entry["orphan"] is True
    assert any("veth" in problem for problem in entry["problems"])

    dry = node.run(str(KRAFTY), "gc", "--dry-run", "--ipam-dir", str(runtime.data_dir)).stdout
    assert f"would remove vrf {naming.vrf_name(cid)}" in dry
    assert inspect(node, runtime)[0]["vrf"] == naming.vrf_name(cid), "--dry-run removed something"

    done = node.run(str(KRAFTY), "gc", "--ipam-dir", str(runtime.data_dir)).stdout
    assert f"removed bridge {naming.bridge_name(cid)}" in done
    assert inspect(node, runtime) == [], "gc left devices or the allocation behind"
    assert_clean(node, runtime)


def test_gc_releases_an_allocation_without_devices(runtime, node, pod):
    cid = container_id()
    address = runtime.add(cid, pod).out["ips"][0]["address"].split("/")[0]
    for name in (naming.host_veth_name(cid), naming.bridge_name(cid), naming.vrf_name(cid)):
        node.run("ip", "link", "del", name)
    listed = node.run(str(KRAFTY), "inspect", "--json", "--network", "krafty-test", "--ipam-dir", str(runtime.data_dir))
    [entry] = json.loads(listed.stdout)
    assert entry["problems"] == ["host-local allocation without devices"]
    done = node.run(str(KRAFTY), "gc", "--network", "krafty-test", "--ipam-dir", str(runtime.data_dir)).stdout
    assert f"removed host-local krafty-test {address}" in done
    assert_clean(node, runtime)


def test_lab_attaches_pods_proves_connectivity_and_tears_down(node):
    lab = node.run(str(KRAFTY), "lab", "--pods", "2", check=False)
    assert lab.returncode == 0, lab.stdout + lab.stderr
    assert lab.stdout.count("  ok   ") == 4, lab.stdout
    assert "torn down" in lab.stdout
    assert "krafty-lab" not in node.run("ip", "netns", "list").stdout
