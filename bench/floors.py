"""The floors: what a call cannot go below, to read krafty's figures against.

Measured in the same loop as the A/B, through the same nsenter wrapper, on krafty's own
interpreter: `python -I -S -c pass`, `python -c pass`, `python -c 'import pyroute2'`, and
the kernel's veth teardown (`ip link del` of a veth pair whose peer is in a pod netns) plus,
for reference, the teardown of krafty's whole device set (veth, bridge, VRF).
"""

from __future__ import annotations

from collections.abc import Callable

from children import BenchError, Sample, measure, sh
from node import PYTHON, explain, in_netns

Floor = Callable[[str, str, bool], Sample]  # (node netns, pod netns, rss) -> one measured call


def _python(*args: str) -> Floor:
    return lambda node, _pod, rss: _checked(measure(in_netns(node, str(PYTHON), *args), rss=rss))


def _veth_teardown(node: str, pod: str, rss: bool) -> Sample:
    """`ip link del` of a veth pair whose peer is in a pod netns: the kernel's irreducible DEL work."""
    sh(*in_netns(node, "ip", "link", "add", "kbv0", "type", "veth", "peer", "name", "eth9", "netns", pod))
    return _checked(measure(in_netns(node, "ip", "link", "del", "kbv0"), rss=rss))


def _device_set_teardown(node: str, pod: str, rss: bool) -> Sample:
    """krafty's three devices (veth on a bridge in a VRF) deleted by one `ip -batch`: DEL's kernel floor."""
    setup = (
        "link add kbr0 type vrf table 4242\nlink set kbr0 up\nlink add kbb0 type bridge\n"
        "link set kbb0 master kbr0 up\n"
        f"link add kbv0 type veth peer name eth9 netns {pod}\nlink set kbv0 master kbb0 up\n"
    )
    sh(*in_netns(node, "ip", "-batch", "-"), stdin=setup)
    stdin = b"link del kbv0\nlink del kbb0\nlink del kbr0\n"
    return _checked(measure(in_netns(node, "ip", "-batch", "-"), stdin, rss=rss))


def _checked(sample: Sample) -> Sample:
    if sample.status != 0:
        raise BenchError(f"floor measurement failed: {explain(sample)}")
    return sample


FLOORS: dict[str, Floor] = {
    "python -I -S -c pass": _python("-I", "-S", "-c", "pass"),
    "python -c pass": _python("-c", "pass"),
    "python -c 'import pyroute2'": _python("-c", "import pyroute2"),
    "veth teardown": _veth_teardown,
    "veth+bridge+VRF teardown": _device_set_teardown,
}
F_BARE, F_SITE, F_PYROUTE2, F_VETH, F_SET = FLOORS
