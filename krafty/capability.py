"""Can this kernel create VRF devices? Asked by STATUS, answered without pyroute2.

The probe sends RTM_NEWLINK for kind "vrf" without a table: a kernel with VRF support
(the module is autoloaded) rejects it with EINVAL ("VRF table id is missing"), one
without answers EOPNOTSUPP. Nothing is ever created, and it costs one syscall pair
instead of pyroute2's import.
"""

import _socket  # the socket module around it loads enum conversions this one call never needs
import errno
import struct

_RTM_NEWLINK = 16
_NLM_F_REQUEST_ACK_CREATE_EXCL = 0x1 | 0x4 | 0x200 | 0x400
_NLMSG_ERROR = 2
_IFLA_IFNAME = 3
_IFLA_LINKINFO = 18
_IFLA_INFO_KIND = 1


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * (-length % 4)


def vrf_probe_errno() -> int:
    """The kernel's answer to the probe (0 would mean a VRF was created: never expected)."""
    body = struct.pack("BxHiII", _socket.AF_UNSPEC, 0, 0, 0, 0)
    body += _attr(_IFLA_IFNAME, b"krafty-probe\0")
    body += _attr(_IFLA_LINKINFO, _attr(_IFLA_INFO_KIND, b"vrf\0"))
    header = struct.pack("IHHII", 16 + len(body), _RTM_NEWLINK, _NLM_F_REQUEST_ACK_CREATE_EXCL, 1, 0)
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, _socket.NETLINK_ROUTE)
    try:
        sock.send(header + body)
        reply = sock.recv(65536)
    finally:
        sock.close()
    _, kind, _, _, _ = struct.unpack_from("IHHII", reply)
    if kind != _NLMSG_ERROR:
        raise OSError(errno.EPROTO, f"unexpected netlink reply type {kind}")
    (code,) = struct.unpack_from("i", reply, 16)
    return -code


def vrf_supported() -> bool:
    return vrf_probe_errno() == errno.EINVAL
