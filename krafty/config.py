"""The network configuration, parsed and validated once, immutable after.

Every rejection names the field and the value, with the spec's error code, so the person
who wrote the NetworkAttachmentDefinition can fix it from the runtime's event alone.
"""

from __future__ import annotations

import json
import re
from ipaddress import AddressValueError, IPv4Address, IPv4Network, NetmaskValueError

from krafty.naming import default_vrf_table
from krafty.record import Record
from krafty.types import (
    DECODE_FAILURE,
    INCOMPATIBLE_VERSION,
    INVALID_CONFIG,
    SUPPORTED_VERSIONS,
    CniError,
    Result,
    version_tuple,
)

TYPE_CHECKING = False  # typing's import costs every call; the checker sees this
if TYPE_CHECKING:
    from typing import Any

_NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
MAX_NETWORK_NAME = 64  # keeps the owner record within the kernel's 255-byte ifalias
_PLUGIN_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+\-]*")
_RESERVED_TABLES = {253: "default", 254: "main", 255: "local"}
_MIN_VERSION = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}


class NetConf(Record):
    __slots__ = (
        "cni_version",
        "gateway",
        "ipam_type",
        "log_file",
        "mtu",
        "name",
        "pod_ip",
        "prev_result",
        "raw",
        "subnet",
        "valid_attachments",
        "vrf_table",
    )

    def __init__(
        self,
        cni_version: str,
        name: str,
        subnet: IPv4Network,
        gateway: IPv4Address,
        vrf_table: int,
        raw: dict[str, Any],  # the whole document, handed unchanged to the IPAM plugin
        ipam_type: str | None = None,
        pod_ip: IPv4Address | None = None,
        mtu: int | None = None,
        log_file: str | None = None,
        prev_result: Result | None = None,
        valid_attachments: frozenset[tuple[str, str]] | None = None,
    ) -> None:
        self.cni_version = cni_version
        self.name = name
        self.subnet = subnet
        self.gateway = gateway
        self.vrf_table = vrf_table
        self.raw = raw
        self.ipam_type = ipam_type
        self.pod_ip = pod_ip
        self.mtu = mtu
        self.log_file = log_file
        self.prev_result = prev_result
        self.valid_attachments = valid_attachments

    @property
    def gateway_interface(self) -> str:
        return f"{self.gateway}/{self.subnet.prefixlen}"


def _invalid(field: str, msg: str, value: Any = None) -> CniError:
    details = "" if value is None else json.dumps(value, default=str)[:200]
    return CniError(INVALID_CONFIG, f"{field}: {msg}", details)


def _string(doc: dict[str, Any], field: str, required: bool = True) -> str | None:
    value = doc.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(field, "required, a non-empty string" if required else "must be a non-empty string", value)
    return value


def _integer(doc: dict[str, Any], field: str, low: int, high: int) -> int | None:
    value = doc.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid(field, f"must be an integer from {low} to {high}", value)
    return value


def not_a_host(address: IPv4Address, subnet: IPv4Network) -> str | None:
    """Why address cannot be a host of subnet, or None: one rule for the config's gateway and
    podIP and for the address an IPAM plugin hands out."""
    if address not in subnet:
        return f"{address} is outside subnet {subnet}"
    if address in (subnet.network_address, subnet.broadcast_address):
        return f"{address} is the network or broadcast address of {subnet}"
    return None


def _address_in_subnet(doc: dict[str, Any], field: str, subnet: IPv4Network) -> IPv4Address | None:
    text = _string(doc, field, required=False)
    if text is None:
        return None
    try:
        address = IPv4Address(text)
    except AddressValueError:
        raise _invalid(field, "must be an IPv4 address", text) from None
    if why := not_a_host(address, subnet):
        raise _invalid(field, why, text)
    return address


def _subnet(doc: dict[str, Any]) -> IPv4Network:
    text = _string(doc, "subnet")
    try:
        subnet = IPv4Network(text)
    except (AddressValueError, NetmaskValueError):
        raise _invalid("subnet", "must be an IPv4 CIDR such as 172.16.10.0/24", text) from None
    except ValueError:
        raise _invalid("subnet", "has host bits set", text) from None
    if "/" not in text or subnet.prefixlen > 30:
        raise _invalid("subnet", "needs an explicit prefix of at most /30 (room for gateway and pod)", text)
    return subnet


def _ipam_type(doc: dict[str, Any]) -> str | None:
    ipam = doc.get("ipam")
    if ipam is None:
        return None
    if not isinstance(ipam, dict):
        raise _invalid("ipam", "must be an object", ipam)
    name = _string(ipam, "type")
    if not _PLUGIN_FILE_NAME.fullmatch(name):  # never "." or "..": the first character is alphanumeric
        raise _invalid("ipam.type", "must be a bare plugin file name found in CNI_PATH", name)
    return name


def _vrf_table(doc: dict[str, Any], name: str) -> int:
    table = _integer(doc, "vrfTable", 1, 0xFFFFFFFF)
    if table is None:
        return default_vrf_table(name)
    if table in _RESERVED_TABLES:
        raise _invalid("vrfTable", f"{table} is the kernel's {_RESERVED_TABLES[table]} table", table)
    return table


def _valid_attachments(doc: dict[str, Any]) -> frozenset[tuple[str, str]] | None:
    field = "cni.dev/valid-attachments"
    attachments = doc.get(field)
    if attachments is None:
        return None
    if not isinstance(attachments, list):
        raise _invalid(field, "must be a list", attachments)
    try:
        return frozenset((a["containerID"], a["ifname"]) for a in attachments)
    except (KeyError, TypeError):
        raise _invalid(field, "entries need containerID and ifname", attachments) from None


def _prev_result(doc: dict[str, Any]) -> Result | None:
    prev = doc.get("prevResult")
    if prev is None:
        return None
    if not isinstance(prev, dict):
        raise _invalid("prevResult", "must be an object", prev)
    try:
        return Result.from_json(prev)
    except ValueError as err:
        raise _invalid("prevResult", str(err)) from None


def decode(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise CniError(DECODE_FAILURE, "network configuration is not valid JSON", str(err)[:200]) from None
    if not isinstance(doc, dict):
        raise CniError(DECODE_FAILURE, "network configuration must be a JSON object", type(doc).__name__)
    return doc


def parse(raw: bytes, command: str = "ADD") -> NetConf:
    """Validate the whole document up front: a bad config must fail before any change to the node."""
    doc = decode(raw)
    version = _string(doc, "cniVersion")
    if version not in SUPPORTED_VERSIONS:
        raise CniError(
            INCOMPATIBLE_VERSION,
            f"cniVersion {version} is not supported",
            f"supported: {', '.join(SUPPORTED_VERSIONS)}",
        )
    minimum = _MIN_VERSION.get(command)
    if minimum and version_tuple(version) < version_tuple(minimum):
        raise CniError(INCOMPATIBLE_VERSION, f"cniVersion {version} does not allow {command} (needs {minimum})")
    name = _string(doc, "name")
    if not _NETWORK_NAME.fullmatch(name) or len(name) > MAX_NETWORK_NAME:
        raise _invalid(
            "name", f"must match [A-Za-z0-9][A-Za-z0-9_.-]* and be at most {MAX_NETWORK_NAME} characters", name
        )
    _string(doc, "type")
    subnet = _subnet(doc)
    gateway = _address_in_subnet(doc, "gateway", subnet)
    if gateway is None:
        raise _invalid("gateway", "required, an IPv4 address inside subnet")
    ipam_type = _ipam_type(doc)
    pod_ip = _address_in_subnet(doc, "podIP", subnet)
    if (ipam_type is None) == (pod_ip is None):
        raise _invalid("ipam/podIP", "exactly one of ipam and podIP is required")
    if pod_ip == gateway:
        raise _invalid("podIP", f"{pod_ip} is the gateway", str(pod_ip))
    log_file = _string(doc, "logFile", required=False)
    if log_file is not None and not log_file.startswith("/"):
        raise _invalid("logFile", "must be an absolute path", log_file)
    return NetConf(
        cni_version=version,
        name=name,
        subnet=subnet,
        gateway=gateway,
        vrf_table=_vrf_table(doc, name),
        raw=doc,
        ipam_type=ipam_type,
        pod_ip=pod_ip,
        mtu=_integer(doc, "mtu", 68, 65535),
        log_file=log_file,
        prev_result=_prev_result(doc),
        valid_attachments=_valid_attachments(doc),
    )
