"""STATUS on a kernel without VRF (this module has no cni_kernel mark: it runs on the host's
own kernel, which on the machine this project is developed on lacks CONFIG_NET_VRF)."""

from __future__ import annotations

import pytest

from krafty.testing import CniCallError
from krafty.testing.kernel import has_feature


@pytest.mark.skipif(has_feature("vrf"), reason="this kernel has VRF: STATUS is ready here")
def test_status_is_50_where_the_kernel_cannot_make_vrfs(cni_runtime, net):
    with pytest.raises(CniCallError) as status:
        cni_runtime.status(net.config("1.1.0", ipam=None, podIP="172.16.10.9"))
    assert status.value.code == 50
    assert "VRF" in status.value.msg
