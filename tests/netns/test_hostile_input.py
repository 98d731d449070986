"""The real binary against generated configs and environments, valid, near-valid and garbage.

Every run ends in a result or a CNI error object with the code the input deserves, a
non-zero exit status on errors, nothing but JSON on stdout, and nothing left on the node.
Every listed fault runs once, deterministically, with its expected code; hypothesis then
draws combinations on top. Each example is one or two plugin processes, which cost seconds
in the VM: the example count is small, and in CI the examples are fixed (derandomized).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krafty.testing import new_container_id

OK, ENV, DECODE, CONFIG, VERSION = 0, 4, 6, 7, 1

# (what, field, value, the code it must produce)
CONFIG_FAULTS = [
    ("huge vrfTable", "vrfTable", 2**64, CONFIG),
    ("negative vrfTable", "vrfTable", -5, CONFIG),
    ("main table", "vrfTable", 254, CONFIG),
    ("vrfTable as text", "vrfTable", "100", CONFIG),
    ("mtu too small", "mtu", 10, CONFIG),
    ("mtu as float", "mtu", 1500.0, CONFIG),
    ("huge mtu", "mtu", 10**30, CONFIG),
    ("IPv6 subnet", "subnet", "fd00::/64", CONFIG),
    ("subnet /32", "subnet", "172.16.10.1/32", CONFIG),
    ("subnet host bits", "subnet", "172.16.10.1/24", CONFIG),
    ("gateway outside", "gateway", "10.9.9.1", CONFIG),
    ("gateway is network", "gateway", "172.16.10.0", CONFIG),
    ("gateway unicode", "gateway", "\uff11\uff17\uff12.16.10.1", CONFIG),
    ("ipam path", "ipam", {"type": "../../../bin/true"}, CONFIG),
    ("ipam absolute", "ipam", {"type": "/bin/sh"}, CONFIG),
    ("ipam not object", "ipam", ["host-local"], CONFIG),
    ("name with NUL", "name", "kr\x00afty", CONFIG),
    ("name unicode", "name", "kräfty", CONFIG),
    ("old version", "cniVersion", "0.2.0", VERSION),
    ("version number", "cniVersion", 1.0, CONFIG),
]
POD_IP_FAULTS = [
    ("podIP is gateway", "172.16.10.1"),
    ("podIP is network", "172.16.10.0"),
    ("podIP is broadcast", "172.16.10.255"),
    ("podIP outside", "10.0.0.5"),
    ("podIP IPv6", "fd00::5"),
]
ENV_FAULTS = [
    ("ifname 16 chars", "CNI_IFNAME", "a" * 16),
    ("ifname with slash", "CNI_IFNAME", "net/1"),
    ("ifname with space", "CNI_IFNAME", "net 1"),
    ("container id with $()", "CNI_CONTAINERID", "abc$(touch /tmp/pwned)"),
    ("container id with ;", "CNI_CONTAINERID", "abc;reboot"),
    ("container id with backtick", "CNI_CONTAINERID", "a`id`"),
    ("netns is a regular file", "CNI_NETNS", "/etc/hostname"),
    ("netns does not exist", "CNI_NETNS", "/run/netns/does-not-exist"),
    ("netns empty on ADD", "CNI_NETNS", ""),
    ("unknown command", "CNI_COMMAND", "DESTROY"),
]


ROWS = (
    [pytest.param({field: value}, {}, code, id=what) for what, field, value, code in CONFIG_FAULTS]
    + [pytest.param({"ipam": None, "podIP": value}, {}, CONFIG, id=what) for what, value in POD_IP_FAULTS]
    + [pytest.param({}, {name: value}, ENV, id=what) for what, name, value in ENV_FAULTS]
)


# No VRF needed: krafty refuses each of these before it touches the kernel, and were it to try,
# a kernel without VRF would answer with another code. So they run natively, not in the VM.
@pytest.mark.parametrize(("changes", "env", "code"), ROWS)
def test_each_listed_fault_gets_its_code_and_leaves_nothing(cni_runtime, pod, net, clean, changes, env, code):
    """Every row of the tables above, once each: the deterministic part of this module."""
    raw = json.dumps(net.config(**changes)).encode()
    call = cni_runtime.call("ADD", raw, plugin="krafty", container_id=new_container_id(), netns=pod, ifname="net1",
                            env=env)  # fmt: skip
    assert call.status != 0, "an error must exit non-zero"
    assert set(call.json) == {"cniVersion", "code", "msg", "details"}, call.json
    assert call.json["code"] == code, call.json
    clean(pod)
    assert not Path("/tmp/pwned").exists(), "a container ID reached a shell"


@st.composite
def invocations(draw):
    """(config bytes, env changes, expected code or None for success)."""
    kind = draw(st.sampled_from(["valid", "config", "podIP", "env", "garbage"]))
    changes, env, expected = {}, {}, OK
    if kind == "config":
        _, field, value, expected = draw(st.sampled_from(CONFIG_FAULTS))
        changes[field] = value
    elif kind == "podIP":
        _, value = draw(st.sampled_from(POD_IP_FAULTS))
        changes.update(ipam=None, podIP=value)
        expected = CONFIG
    elif kind == "env":
        _, name, value = draw(st.sampled_from(ENV_FAULTS))
        env[name] = value
        expected = ENV
    elif kind == "garbage":
        raw = draw(st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
        return raw, env, {DECODE, CONFIG, VERSION}
    return changes, env, {expected}


@settings(
    max_examples=int(os.environ.get("KRAFTY_HOSTILE_EXAMPLES", "24")),
    derandomize=os.environ.get("CI") == "true",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=invocations())
@pytest.mark.cni_kernel("vrf")
def test_hostile_input_gets_the_right_code_and_leaves_nothing(cni_runtime, cni_netns, net, clean, case):
    changes, env_changes, expected = case
    pod = cni_netns()
    try:
        raw = changes if isinstance(changes, bytes) else json.dumps(net.config(**changes)).encode()
        cid = new_container_id()
        call = cni_runtime.call(
            "ADD", raw, plugin="krafty", container_id=cid, netns=pod, ifname="net1", env=env_changes
        )
        out = call.json  # stdout must parse as JSON
        if OK in expected and call.status == 0:
            cni_runtime.delete(json.loads(raw), pod, container_id=cid, ifname="net1")
        else:
            assert call.status != 0, "an error must exit non-zero"
            assert set(out) == {"cniVersion", "code", "msg", "details"}, out
            assert out["code"] in expected, f"{out} for {changes!r} {env_changes}"
        clean(pod)
        assert not Path("/tmp/pwned").exists(), "a container ID reached a shell"
    finally:
        pod.remove()
