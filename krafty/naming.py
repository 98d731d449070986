"""Device names, MAC and routing table derived from the container ID and network name.

Names are a pure function of their inputs so that DEL, CHECK and GC find the devices an
ADD made without any state on disk. Linux caps interface names at 15 bytes (IFNAMSIZ-1).
"""

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


def bridge_mac(container_id: str) -> str:
    """A locally administered unicast MAC that is stable per container.

    A bridge without an explicit MAC takes its ports' addresses and drops to all zeroes
    when its last port leaves.
    """
    value = fnv32a(container_id.encode())
    return "02:6b:" + ":".join(f"{(value >> shift) & 0xFF:02x}" for shift in (24, 16, 8, 0))
