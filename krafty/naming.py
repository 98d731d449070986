"""Device names, MAC and routing table derived from the container ID and network name.

Names are a pure function of their inputs so that DEL, CHECK and GC find the devices an
ADD made without any state on disk. Linux caps interface names at 15 bytes (IFNAMSIZ-1).

Each device has two candidate names. The seed name comes from the container ID alone and
serves the common case, one attachment per container. The derived name comes from the
whole attachment key (network, interface, container ID) and is used when the seed name is
taken by another attachment: a second interface or network of the same container, or a
container whose ID shares the seed's prefix. A derived name is the seed's prefix, a dash
and 8 hex digits; a seed name never has a dash there (container IDs start with a letter or
digit), so the two sets cannot collide.
"""

from krafty.record import Record

IFNAMSIZ = 15
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    """FNV-1a, 32 bits: tiny, stable across runs and languages (unlike Python's hash())."""
    value = _FNV32_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def default_vrf_table(network: str) -> int:
    """FNV-32a of the network name, moved out of the kernel's and admins' range.

    Table ids below 256 are either reserved (0 unspec, 253 default, 254 main, 255 local)
    or the ones people hand out in /etc/iproute2/rt_tables, so those hashes get 256 added.
    """
    value = fnv32a(network.encode())
    return value + 256 if value < 256 else value


def vrf_name(container_id: str) -> str:
    return "krv" + container_id[:12]


def bridge_name(container_id: str) -> str:
    return "krb" + container_id[:12]


def host_veth_name(container_id: str) -> str:
    return "veth" + container_id[:11]


def _mac(value: int) -> str:
    return "02:6b:" + ":".join(f"{(value >> shift) & 0xFF:02x}" for shift in (24, 16, 8, 0))


def bridge_mac(container_id: str) -> str:
    """A locally administered unicast MAC that is stable per container.

    A bridge without an explicit MAC takes its ports' addresses and drops to all zeroes
    when its last port leaves.
    """
    return _mac(fnv32a(container_id.encode()))


def attachment_key(container_id: str, network: str, ifname: str) -> str:
    """The attachment as text, in the order of the owner alias: "<network> <ifname> <containerID>".

    None of the three can hold a space (network names and IDs are [A-Za-z0-9_.-], interface
    names no whitespace), so the text is unambiguous.
    """
    return f"{network} {ifname} {container_id}"


class Names(Record):
    """One candidate set of an attachment's node-side device names, and the bridge's MAC."""

    __slots__ = ("bridge", "bridge_mac", "host_veth", "vrf")

    def __init__(self, vrf: str, bridge: str, host_veth: str, bridge_mac: str) -> None:
        self.vrf = vrf
        self.bridge = bridge
        self.host_veth = host_veth
        self.bridge_mac = bridge_mac


def seed_names(container_id: str) -> Names:
    return Names(
        vrf_name(container_id), bridge_name(container_id), host_veth_name(container_id), bridge_mac(container_id)
    )


def derived_names(container_id: str, network: str, ifname: str) -> Names:
    """Names from FNV-32a of the attachment key, 8 hex digits behind "krv-", "krb-", "veth-".

    The bridge's MAC comes from the same hash, so it can be read off the bridge's name. Two
    bridges of one container (one per attachment) then never share a MAC: nothing in the
    kernel would break if they did (neighbour and FDB entries are per device), but a
    capture or the pod's neighbour table could not tell the two gateways apart.
    """
    value = fnv32a(attachment_key(container_id, network, ifname).encode())
    digest = f"{value:08x}"
    return Names("krv-" + digest, "krb-" + digest, "veth-" + digest, _mac(value))


def candidates(container_id: str, network: str, ifname: str) -> tuple[Names, Names]:
    """The names to try, in order: the seed names, then the attachment's derived names."""
    return seed_names(container_id), derived_names(container_id, network, ifname)
