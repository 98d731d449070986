"""The CNI protocol's objects (SPEC 1.1.0): versions, error codes, errors, results.

No I/O and no imports beyond the standard library, like CNI's `pkg/types`: the plugin
builds its answers with these, and the test harness (`krafty.testing`) checks every
plugin's answers with the same rules.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_address, ip_interface, ip_network

from krafty.record import Record
from krafty.versions import SPEC_VERSION, SUPPORTED_VERSIONS

TYPE_CHECKING = False  # typing's import costs every call; the checker sees these
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["SPEC_VERSION", "SUPPORTED_VERSIONS"]

VERBS = ("ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS")

# Error codes: 1-99 are the spec's, 100+ are krafty's own (see docs/plugin.md, "Behaviour").
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
PLUGIN_NOT_AVAILABLE = 50
KERNEL_REFUSED = 100
DEVICE_CONFLICT = 101
CHECK_FAILED = 102
IPAM_FAILED = 103
ADDRESS_IN_USE = 104
INTERNAL_ERROR = 999


class CniError(Exception):
    """A failure the runtime should see as a CNI error object."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str) -> dict[str, Any]:
        return {"cniVersion": cni_version, "code": self.code, "msg": self.msg, "details": self.details}


def version_tuple(version: str) -> tuple[int, ...]:
    """Versions compare as numbers (1.10.0 > 1.9.0), never as strings."""
    return tuple(int(part) for part in version.split("."))


class Invocation(Record):
    """The runtime's environment for one call, validated."""

    __slots__ = ("command", "container_id", "environ", "ifname", "netns", "path")

    def __init__(
        self,
        command: str,
        container_id: str = "",
        netns: str = "",
        ifname: str = "",
        path: tuple[str, ...] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.command = command
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.path = path
        self.environ: Mapping[str, str] = {} if environ is None else environ


class Interface(Record):
    __slots__ = ("mac", "name", "sandbox")

    def __init__(self, name: str, mac: str = "", sandbox: str = "") -> None:
        self.name = name
        self.mac = mac
        self.sandbox = sandbox


class IPConfig(Record):
    __slots__ = ("address", "gateway", "interface")

    def __init__(
        self, address: IPv4Interface, gateway: IPv4Address | None = None, interface: int | None = None
    ) -> None:
        self.address = address
        self.gateway = gateway
        self.interface = interface


class Route(Record):
    __slots__ = ("dst", "gw")

    def __init__(self, dst: IPv4Network, gw: IPv4Address | None = None) -> None:
        self.dst = dst
        self.gw = gw


class Result(Record):
    __slots__ = ("dns", "interfaces", "ips", "routes")

    def __init__(
        self,
        interfaces: tuple[Interface, ...] = (),
        ips: tuple[IPConfig, ...] = (),
        routes: tuple[Route, ...] = (),
        dns: Mapping[str, Any] | None = None,
    ) -> None:
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.dns: Mapping[str, Any] = {} if dns is None else dns

    def to_json(self, cni_version: str) -> dict[str, Any]:
        """The result in the version the config asked for (0.3.x/0.4.0 carry ips[].version)."""
        legacy = version_tuple(cni_version) < (1, 0, 0)
        ips = []
        for ip in self.ips:
            entry: dict[str, Any] = {"address": str(ip.address)}
            if legacy:
                entry = {"version": "4", **entry}
            if ip.gateway is not None:
                entry["gateway"] = str(ip.gateway)
            if ip.interface is not None:
                entry["interface"] = ip.interface
            ips.append(entry)
        out: dict[str, Any] = {"cniVersion": cni_version}
        if self.interfaces:
            out["interfaces"] = [
                {k: v for k, v in (("name", i.name), ("mac", i.mac), ("sandbox", i.sandbox)) if v}
                for i in self.interfaces
            ]
        out["ips"] = ips
        if self.routes:
            out["routes"] = [
                {"dst": str(r.dst), **({"gw": str(r.gw)} if r.gw is not None else {})} for r in self.routes
            ]
        out["dns"] = dict(self.dns)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Result:
        """Parse a result of any supported version; IPv6 entries are dropped (krafty is IPv4)."""
        try:
            interfaces = tuple(
                Interface(str(i["name"]), str(i.get("mac", "")), str(i.get("sandbox", "")))
                for i in data.get("interfaces") or ()
            )
            ips = []
            for ip in data.get("ips") or ():
                address = ip["address"]
                if ":" in address:
                    continue
                gateway = ip.get("gateway")
                index = ip.get("interface")
                ips.append(
                    IPConfig(
                        IPv4Interface(address),
                        IPv4Address(gateway) if gateway else None,
                        index if isinstance(index, int) and not isinstance(index, bool) else None,
                    )
                )
            routes = tuple(
                Route(IPv4Network(r["dst"]), IPv4Address(r["gw"]) if r.get("gw") else None)
                for r in data.get("routes") or ()
                if ":" not in r["dst"]
            )
            dns = data.get("dns") or {}
            if not isinstance(dns, dict):
                raise TypeError("dns is not an object")
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a CNI result: {err}") from err
        return cls(interfaces, tuple(ips), routes, dns)


# --- What SPEC 1.1.0 allows in a plugin's answer ("Result Types" and "Error") -------------
# Each check returns the rules an answer breaks, as readable sentences; [] means valid.

ERROR_KEYS = {"cniVersion", "code", "msg", "details"}
_ROUTE_INT_KEYS_1_1 = ("mtu", "advmss", "priority", "table", "scope")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parses(kind: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        kind(value)
    except ValueError:
        return False
    return True


def error_violations(data: Any) -> list[str]:
    """An error object: an integer code, a msg, optional details and cniVersion, nothing else.

    The spec says a plugin *should* include cniVersion; Go's skel before 1.2 leaves it out,
    so only a cniVersion of the wrong type breaks the rules.
    """
    if not isinstance(data, dict):
        return ["an error must be a JSON object"]
    broken = []
    if "cniVersion" in data and not isinstance(data["cniVersion"], str):
        broken.append("error: cniVersion must be a string")
    if not _is_int(data.get("code")) or data["code"] < 1:
        broken.append("error: code must be a positive integer")
    if not isinstance(data.get("msg"), str) or not data["msg"]:
        broken.append("error: msg must be a non-empty string")
    if "details" in data and not isinstance(data["details"], str):
        broken.append("error: details must be a string")
    broken += [f"error: unknown key {key!r}" for key in sorted(set(data) - ERROR_KEYS)]
    return broken


def version_violations(data: Any) -> list[str]:
    """VERSION's answer: cniVersion and the list of versions the plugin supports."""
    if not isinstance(data, dict):
        return ["VERSION: the answer must be a JSON object"]
    broken = []
    if not isinstance(data.get("cniVersion"), str):
        broken.append("VERSION: cniVersion must be a string")
    supported = data.get("supportedVersions")
    if not isinstance(supported, list) or not supported or not all(isinstance(v, str) for v in supported):
        broken.append("VERSION: supportedVersions must be a non-empty list of strings")
    return broken


def _entries(data: dict[str, Any], key: str, broken: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The objects of a result's list `key`, each with where it stands; what is not one is broken."""
    items = data.get(key, [])
    if not isinstance(items, list):
        broken.append(f"result: {key} must be a list")
        return []
    entries = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            entries.append((f"result: {key}[{i}]", item))
        else:
            broken.append(f"result: {key}[{i}] must be an object")
    return entries


def result_violations(data: Any, cni_version: str) -> list[str]:
    """A success result of `cni_version`: field types, interface indices in range, and
    `ips[].version` present before 1.0.0 and absent from 1.0.0 on. 0.1.0/0.2.0 results have
    a shape of their own (`result_violations_0_2`)."""
    if not isinstance(data, dict):
        return ["result: must be a JSON object"]
    if version_tuple(cni_version) < (0, 3, 0):
        return result_violations_0_2(data, cni_version)
    broken = [f"result: {key} was replaced by ips in cniVersion 0.3.0" for key in ("ip4", "ip6") if key in data]
    if data.get("cniVersion") != cni_version:
        broken.append(f"result: cniVersion is {data.get('cniVersion')!r}, the config asked for {cni_version!r}")
    legacy = version_tuple(cni_version) < (1, 0, 0)
    newest = version_tuple(cni_version) >= (1, 1, 0)
    interfaces = _entries(data, "interfaces", broken)
    for where, iface in interfaces:
        if not isinstance(iface.get("name"), str) or not iface["name"]:
            broken.append(f"{where}.name must be a non-empty string")
        for key in ("mac", "sandbox", "socketPath", "pciID"):
            if key in iface and not isinstance(iface[key], str):
                broken.append(f"{where}.{key} must be a string")
        if "mtu" in iface and (not newest or not _is_int(iface["mtu"])):
            broken.append(f"{where}.mtu must be an integer and needs cniVersion 1.1.0")
    count = len(data["interfaces"]) if isinstance(data.get("interfaces"), list) else 0
    for where, ip in _entries(data, "ips", broken):
        if not _parses(ip_interface, ip.get("address")) or "/" not in ip["address"]:
            broken.append(f"{where}.address must be an address in CIDR notation")
        if "gateway" in ip and not _parses(ip_address, ip["gateway"]):
            broken.append(f"{where}.gateway must be an IP address")
        elif "gateway" in ip and _parses(ip_interface, ip.get("address")):
            gateway, address = ip_address(ip["gateway"]), ip_interface(ip["address"])
            if gateway.version != address.version:  # rule result.gateway-family
                broken.append(
                    f"{where}.gateway must be of its address's family: gateway {gateway} is IPv{gateway.version}, "
                    f"address {address} is IPv{address.version}"
                )
        if "interface" in ip and (not _is_int(ip["interface"]) or not 0 <= ip["interface"] < count):
            broken.append(f"{where}.interface must index interfaces (0..{count - 1})")
        if legacy and ip.get("version") not in ("4", "6"):
            broken.append(f'{where}.version must be "4" or "6" before cniVersion 1.0.0')
        if not legacy and "version" in ip:
            broken.append(f"{where}.version was removed in cniVersion 1.0.0")
    for where, route in _entries(data, "routes", broken):
        if not _parses(ip_network, route.get("dst")):
            broken.append(f"{where}.dst must be a network in CIDR notation")
        if "gw" in route and not _parses(ip_address, route["gw"]):
            broken.append(f"{where}.gw must be an IP address")
        for key in _ROUTE_INT_KEYS_1_1:
            if key in route and (not newest or not _is_int(route[key])):
                broken.append(f"{where}.{key} must be an integer and needs cniVersion 1.1.0")
    return broken + _dns_violations(data.get("dns", {}))


def _of_family(kind: Any, value: Any, family: int) -> bool:
    return _parses(kind, value) and kind(value).version == family


def result_violations_0_2(data: dict[str, Any], cni_version: str) -> list[str]:
    """A 0.1.0/0.2.0 result (their SPEC.md "Result"): at most one `ip4` and one `ip6` object, each
    an `ip` in CIDR notation of its family, an optional `gateway` and `routes` of that family;
    `dns`. The lists `interfaces`, `ips` and `routes` came in 0.3.0 and must not appear."""
    broken = [
        f"result: {key} needs cniVersion 0.3.0 ({cni_version} has ip4/ip6)"
        for key in ("interfaces", "ips", "routes")
        if key in data
    ]
    if data.get("cniVersion") != cni_version:
        broken.append(f"result: cniVersion is {data.get('cniVersion')!r}, the config asked for {cni_version!r}")
    for key, family in (("ip4", 4), ("ip6", 6)):
        if key not in data:
            continue
        config = data[key]
        if not isinstance(config, dict):
            broken.append(f"result: {key} must be an object")
            continue
        if not _of_family(ip_interface, config.get("ip"), family) or "/" not in config["ip"]:
            broken.append(f"result: {key}.ip must be an IPv{family} address in CIDR notation")
        if "gateway" in config and not _of_family(ip_address, config["gateway"], family):
            broken.append(f"result: {key}.gateway must be an IPv{family} address")
        routes = config.get("routes", [])
        if not isinstance(routes, list):
            broken.append(f"result: {key}.routes must be a list")
            continue
        for i, route in enumerate(routes):
            where = f"result: {key}.routes[{i}]"
            if not isinstance(route, dict):
                broken.append(f"{where} must be an object")
                continue
            if not _of_family(ip_network, route.get("dst"), family):
                broken.append(f"{where}.dst must be an IPv{family} network in CIDR notation")
            if "gw" in route and not _of_family(ip_address, route["gw"], family):
                broken.append(f"{where}.gw must be an IPv{family} address")
    return broken + _dns_violations(data.get("dns", {}))


def _dns_violations(dns: Any) -> list[str]:
    """`dns`: lists of strings and a `domain` string, the same in every version."""
    if not isinstance(dns, dict):
        return ["result: dns must be an object"]
    broken = [
        f"result: dns.{key} must be a list of strings"
        for key in ("nameservers", "search", "options")
        if key in dns and (not isinstance(dns[key], list) or not all(isinstance(v, str) for v in dns[key]))
    ]
    if "domain" in dns and not isinstance(dns["domain"], str):
        broken.append("result: dns.domain must be a string")
    return broken
