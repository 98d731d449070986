"""Hold an ADD result against the kernel: what a plugin says it made must be there.

`result_violations` checks an answer's form; a result naming a device that does not exist,
an address on no device, a wrong MAC or a wrong sandbox has the right form and is still a
lie a runtime would pass on. Two halves: `violations()` is pure (the result, CNI_NETNS,
CNI_IFNAME and the namespaces as observed -> the rules broken), so each rule is tested
without root; `observe()` reads one namespace through one netlink socket, a dump per kind
of object, and never creates a namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_interface, ip_network
from socket import AF_INET6
from typing import Any

from krafty.testing.netns import Netns

# Rule id -> what holds. Stable: tests and `skip_checks` name them.
RULES: dict[str, str] = {
    "kernel.sandbox-is-netns": "every interfaces[].sandbox is CNI_NETNS byte for byte, and CNI_NETNS can be read",
    "kernel.ifname-listed": "a result that lists interfaces lists CNI_IFNAME with a sandbox",
    "kernel.interface-in-sandbox": "every interface with a sandbox exists in CNI_NETNS",
    "kernel.interface-on-node": "every interface without a sandbox exists in the node namespace",
    "kernel.mac": "every interfaces[].mac is the device's MAC",
    "kernel.ip-on-interface": "every ips[] entry with an interface is on that device, address and prefix",
    "kernel.route-in-pod": "every route of the final result is in the pod (dst, and gw when given; any table)",
}
LOCAL_TABLE = 255
_SELF_RELATIVE = ("/proc/self/", "/proc/thread-self/")


@dataclass(frozen=True)
class Device:
    mac: str = ""
    addresses: frozenset[str] = frozenset()  # "address/prefix" as the kernel holds them


@dataclass(frozen=True)
class KernelRoute:
    dst: str  # network in CIDR notation
    gateways: frozenset[str] = frozenset()  # RTA_GATEWAY, or every multipath nexthop's
    table: int = 254


@dataclass(frozen=True)
class Observed:
    """One namespace as the kernel reported it; `error` says why it could not be read."""

    path: str
    devices: Mapping[str, Device] = field(default_factory=dict)
    routes: tuple[KernelRoute, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Broken:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


# --- what to read --------------------------------------------------------------------------


def _objects(result: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of a result's list (`interfaces`, `ips`, `routes`); the form rules judge the rest."""
    items = result.get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _target(result: Mapping[str, Any], ip: Mapping[str, Any]) -> dict[str, Any] | None:
    """The interfaces[] entry an ips[] entry names, when it names one in range."""
    index, interfaces = ip.get("interface"), result.get("interfaces")
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(interfaces, list):
        return None
    entry = interfaces[index] if 0 <= index < len(interfaces) else None
    return entry if isinstance(entry, dict) else None


@dataclass(frozen=True)
class Reads:
    """Which namespaces and dumps a result needs: nothing is read that no rule looks at."""

    pod: bool
    pod_addresses: bool
    pod_routes: bool
    node: bool
    node_addresses: bool


def reads(result: Mapping[str, Any], *, final: bool) -> Reads:
    interfaces = _objects(result, "interfaces")
    targets = [t for t in (_target(result, ip) for ip in _objects(result, "ips")) if t is not None]
    pod_routes = final and bool(_objects(result, "routes"))
    return Reads(
        pod=any(i.get("sandbox") for i in interfaces) or pod_routes,
        pod_addresses=any(t.get("sandbox") for t in targets),
        pod_routes=pod_routes,
        node=any(not i.get("sandbox") for i in interfaces),
        node_addresses=any(not t.get("sandbox") for t in targets),
    )


# --- the rules -----------------------------------------------------------------------------


def normal_mac(mac: str) -> str:
    """`C2-B0-57-49-47-F1` and `c2:b0:57:49:47:f1` are one MAC; what does not parse stays as it is."""
    parts = mac.strip().replace("-", ":").split(":")
    try:
        return ":".join(f"{int(p, 16):02x}" for p in parts)
    except ValueError:
        return mac.strip()


def violations(
    result: Mapping[str, Any],
    netns: str,
    ifname: str,
    pod: Observed | None,
    node: Observed | None,
    *,
    final: bool,
) -> list[Broken]:
    """The rules `result` breaks against the observed pod (CNI_NETNS) and node.

    A namespace not read (None) is one no rule needed. Interfaces with a sandbox are looked up
    in CNI_NETNS, the only sandbox the runtime gave. When CNI_NETNS cannot be read, only
    `kernel.sandbox-is-netns` is reported for the pod (one clear failure, not a cascade).
    """
    broken: list[Broken] = []
    interfaces = _objects(result, "interfaces")
    for i, iface in enumerate(interfaces):
        sandbox = iface.get("sandbox")
        if sandbox and sandbox != netns:
            broken.append(
                Broken(
                    "kernel.sandbox-is-netns",
                    f"interfaces[{i}] {iface.get('name')}: sandbox is {sandbox!r}, CNI_NETNS is {netns!r}",
                )
            )
    pod_ok = pod is not None and not pod.error
    if pod is not None and pod.error:
        broken.append(Broken("kernel.sandbox-is-netns", f"CNI_NETNS {netns!r} cannot be read: {pod.error}"))
    if node is not None and node.error:
        broken.append(
            Broken("kernel.interface-on-node", f"the node namespace {node.path!r} cannot be read: {node.error}")
        )

    if interfaces and not any(i.get("name") == ifname and i.get("sandbox") for i in interfaces):
        listed = ", ".join(f"{i.get('name')} ({'sandbox' if i.get('sandbox') else 'node'})" for i in interfaces)
        broken.append(
            Broken("kernel.ifname-listed", f"CNI_IFNAME {ifname} is not listed with a sandbox; interfaces: {listed}")
        )

    where: dict[int, tuple[Observed, Device] | None] = {}
    for iface in interfaces:
        name, in_pod = iface.get("name"), bool(iface.get("sandbox"))
        seen = pod if in_pod else node
        if seen is None or seen.error:
            continue
        device = seen.devices.get(name) if isinstance(name, str) else None
        if device is None:
            rule, place = ("kernel.interface-in-sandbox", netns) if in_pod else ("kernel.interface-on-node", "the node")
            broken.append(Broken(rule, f"{name} is not in {place}: it has {', '.join(sorted(seen.devices))}"))
            continue
        where[id(iface)] = (seen, device)
        mac = iface.get("mac")
        if isinstance(mac, str) and mac and normal_mac(mac) != normal_mac(device.mac):
            place = netns if in_pod else "the node"
            broken.append(Broken("kernel.mac", f"{name} in {place}: has MAC {device.mac}; result says {mac}"))

    for i, ip in enumerate(_objects(result, "ips")):
        target = _target(result, ip)
        found = where.get(id(target))
        if found is None:
            continue
        seen, device = found
        try:
            wanted = ip_interface(ip.get("address"))
        except ValueError:
            continue
        if wanted not in {ip_interface(text) for text in device.addresses}:
            place = netns if seen is pod else "the node"
            has = ", ".join(sorted(device.addresses)) or "no address"
            broken.append(
                Broken(
                    "kernel.ip-on-interface",
                    f"ips[{i}]: {target.get('name')} in {place}: has {has}; result says {ip.get('address')}",
                )
            )

    if final and pod_ok:
        assert pod is not None
        broken += _missing_routes(result, netns, pod)
    return broken


def _missing_routes(result: Mapping[str, Any], netns: str, pod: Observed) -> list[Broken]:
    kernel = [(ip_network(r.dst), {ip_address(g) for g in r.gateways}, r) for r in pod.routes]
    broken = []
    for i, route in enumerate(_objects(result, "routes")):
        try:
            dst = ip_network(route.get("dst"))
            gw = ip_address(route["gw"]) if route.get("gw") else None
        except ValueError:
            continue
        if any(dst == net and (gw is None or gw in gws) for net, gws, _ in kernel):
            continue
        has = [
            f"{r.dst}" + (f" via {','.join(sorted(r.gateways))}" if r.gateways else "") + f" table {r.table}"
            for net, _, r in kernel
            if net.version == dst.version and r.table != LOCAL_TABLE
        ]
        says = f"{dst}" + (f" via {gw}" if gw else "")
        broken.append(
            Broken(
                "kernel.route-in-pod",
                f"routes[{i}]: {netns} (any table) has {', '.join(has) or 'no such route'}; result says {says}",
            )
        )
    return broken


# --- reading the kernel --------------------------------------------------------------------


def observe(path: str, *, addresses: bool, routes: bool, own: bool = False) -> Observed:
    """One namespace's devices (with their addresses, and the routes of every table, when asked),
    through one socket.

    A `/proc/self/...` path means the reader's own namespace: right for the node (`own`, the
    plugin entered it from this process), wrong for a pod, which the plugin opened from there.
    """
    if not path:
        return Observed(path, error="the path is empty")
    if path.startswith(_SELF_RELATIVE) and not own:
        return Observed(path, error="it names the reading process's own namespace, not the one the plugin saw")
    try:
        ipr = Netns.from_path(path).ipr()
    except FileNotFoundError:
        return Observed(path, error="no such file")
    except OSError as err:
        return Observed(path, error=f"not a network namespace ({err.strerror})")
    with ipr:
        links = {msg["index"]: (msg.get("IFLA_IFNAME"), msg.get("IFLA_ADDRESS") or "") for msg in ipr.link("dump")}
        held: dict[int, set[str]] = {}
        for msg in ipr.addr("dump") if addresses else ():
            local = msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS")  # IFA_ADDRESS is the peer's, when there is one
            held.setdefault(msg["index"], set()).add(f"{local}/{msg['prefixlen']}")
        found = tuple(map(_kernel_route, ipr.route("dump"))) if routes else ()  # every family, every table
    devices = {name: Device(mac, frozenset(held.get(index, ()))) for index, (name, mac) in links.items()}
    return Observed(path, devices, found)


def _kernel_route(msg: Any) -> KernelRoute:
    default = "::" if msg["family"] == AF_INET6 else "0.0.0.0"
    hops = (msg, *(msg.get("RTA_MULTIPATH") or ()))
    gateways = frozenset(hop.get("RTA_GATEWAY") for hop in hops if hop.get("RTA_GATEWAY"))
    return KernelRoute(f"{msg.get('RTA_DST') or default}/{msg['dst_len']}", gateways, msg.get("RTA_TABLE"))


def skips(skip_checks: Mapping[str, str] | None) -> dict[str, str]:
    """`skip_checks` validated: known rule ids, each with a reason a report can show."""
    skip = dict(skip_checks or {})
    unknown = sorted(set(skip) - set(RULES))
    if unknown:
        raise ValueError(f"skip_checks: unknown rule {', '.join(unknown)}; the rules are {', '.join(RULES)}")
    unexplained = sorted(rule for rule, why in skip.items() if not isinstance(why, str) or not why.strip())
    if unexplained:
        raise ValueError(f"skip_checks: give the reason {', '.join(unexplained)} is off")
    return skip


def check(result: Mapping[str, Any], netns: str, ifname: str, node: str, *, final: bool) -> list[Broken]:
    """Read what `result` needs (each namespace once) and return the rules it breaks."""
    need = reads(result, final=final)
    pod = observe(netns, addresses=need.pod_addresses, routes=need.pod_routes) if need.pod else None
    seen_node = observe(node, addresses=need.node_addresses, routes=False, own=True) if need.node else None
    return violations(result, netns, ifname, pod, seen_node, final=final)
