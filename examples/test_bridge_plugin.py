"""Testing a CNI plugin with krafty's fixtures: Debian's `bridge` with `host-local`.

Runs anywhere krafty is installed (`pip install krafty`), as root, with
containernetworking-plugins in /usr/lib/cni or /opt/cni/bin: `pytest test_bridge_plugin.py`.
"""

import pytest

from krafty.testing import CniCallError

CONFIG = {
    "cniVersion": "1.0.0",
    "name": "example",
    "type": "bridge",
    "bridge": "cni-example0",
    "isGateway": True,
    "ipam": {"type": "host-local", "subnet": "10.244.7.0/24", "routes": [{"dst": "0.0.0.0/0"}]},
}


@pytest.fixture
def config(tmp_path):
    """host-local keeps its store in the test's own directory."""
    return CONFIG | {"ipam": CONFIG["ipam"] | {"dataDir": str(tmp_path / "ipam")}}


def test_bridge_attaches_a_pod_and_leaves_nothing(cni_runtime, cni_node, cni_netns, cni_assert_clean, config):
    pod = cni_netns()
    attachment = cni_runtime.add(config, pod)  # eth0, a fresh container ID, checked against the spec

    address = attachment.result["ips"][0]["address"]
    assert address.startswith("10.244.7.")
    assert address in pod.addresses("eth0")
    assert pod.default_route()["gateway"] == "10.244.7.1"
    assert pod.run("ping", "-c", "1", "-W", "5", "10.244.7.1").returncode == 0

    cni_runtime.check(attachment)  # CHECK with the cached result, as libcni does
    cni_runtime.delete(attachment)

    cni_node.run("ip", "link", "del", "cni-example0")  # bridge keeps its bridge on DEL, by design
    # isGateway turns forwarding on in the node and never restores it, by design (the kernel
    # then turns all.accept_redirects off): the one change this test accepts.
    for change in ("forwarding: 0 -> 1", "ip_forward: 0 -> 1", "accept_redirects: 1 -> 0"):
        cni_assert_clean.allow(change, cni_node)
    cni_assert_clean(cni_node, pod, ipam_dirs=[config["ipam"]["dataDir"]])


def test_a_bridge_name_over_15_bytes_is_refused(cni_runtime, cni_netns, config):
    with pytest.raises(CniCallError) as refused:
        cni_runtime.add(config | {"bridge": "a-bridge-name-too-long"}, cni_netns())
    assert refused.value.plugin == "bridge"
    cni_runtime.delete(refused.value.attachment)  # a runtime follows a failed ADD with DEL (else teardown does)
