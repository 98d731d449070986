"""krafty in a conflist with Debian's `tuning` and `bandwidth`, as a NAD may chain them.

krafty's result must serve as `prevResult` for real chained plugins (tuning rewrites the
pod interface's MAC in it; bandwidth finds the host veth through it), CHECK must pass for
the whole list, and DEL must unwind the list in reverse.
"""

from __future__ import annotations

import pytest

from krafty import naming

pytestmark = pytest.mark.cni_kernel("vrf")

MAC = "c2:b0:57:49:47:f2"


def test_krafty_then_tuning_then_bandwidth(cni_runtime, cni_node, pod, net, clean):
    krafty = {k: v for k, v in net.config().items() if k not in ("cniVersion", "name")}
    conflist = {
        "cniVersion": "1.0.0",
        "name": net.name,
        "plugins": [
            krafty,
            {"type": "tuning", "mac": MAC},
            {"type": "bandwidth", "capabilities": {"bandwidth": True}},
        ],
    }
    limits = {"ingressRate": 8_000_000, "ingressBurst": 80_000, "egressRate": 8_000_000, "egressBurst": 80_000}
    attachment = cni_runtime.add(conflist, pod, ifname="net1", capability_args={"bandwidth": limits})

    [pod_iface] = [i for i in attachment.result["interfaces"] if i.get("sandbox")]
    assert pod_iface["name"] == "net1" and pod_iface["mac"] == MAC, "tuning did not get krafty's result"
    assert pod.link("net1").mac == MAC
    veth = naming.host_veth_name(attachment.container_id)
    assert "tbf" in cni_node.run("tc", "qdisc", "show", "dev", veth).stdout, "bandwidth found no host veth"
    assert pod.run("ping", "-c", "1", "-W", "20", "172.16.10.1", check=False).returncode == 0

    cni_runtime.check(attachment)  # krafty checks the MAC tuning set, as the cached result says
    cni_runtime.delete(attachment)
    clean(pod)
