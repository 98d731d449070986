"""STATUS: can this node attach pods? Kept apart from the verbs that need pyroute2."""

import errno
import os

from krafty import capability
from krafty.config import NetConf
from krafty.types import PLUGIN_NOT_AVAILABLE, CniError, Invocation


def status(invocation: Invocation, conf: NetConf) -> None:
    """Ready only when the kernel can make VRFs and the IPAM plugin is there and ready."""
    probe = capability.vrf_probe_errno()
    if probe != errno.EINVAL:
        raise CniError(
            PLUGIN_NOT_AVAILABLE,
            "the kernel cannot create VRF devices (needs CONFIG_NET_VRF)",
            os.strerror(probe),
        )
    if conf.ipam_type:
        from krafty import ipam  # only now: subprocess and friends cost STATUS without IPAM ~4 ms

        try:
            plugin = ipam.find(conf, invocation)
        except CniError as err:
            raise CniError(PLUGIN_NOT_AVAILABLE, err.msg, err.details) from None
        ipam.status(plugin, conf, invocation)
