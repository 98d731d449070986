"""docs/harness/versions.md's `cni_versions` block: one test per version both plugins list.

tests/unit/test_docs.py collects this file against stand-in plugins, and holds the block to be
these lines. `{...}` stands for the IPAM config, so the test is collected, not run."""

# ruff: noqa: I001 (the imports as the manual shows them)
import pytest
from krafty.testing.versions import has_check, has_ip_version


@pytest.mark.cni_versions("bridge", "host-local")
def test_bridge(cni_version, cni_runtime, cni_netns):
    conf = {"cniVersion": cni_version, "name": "n", "type": "bridge", "ipam": {...}}
    attachment = cni_runtime.add(conf, cni_netns())
    if has_ip_version(cni_version):
        assert all("version" in ip for ip in attachment.result["ips"])
    if has_check(cni_version):
        cni_runtime.check(attachment)
    cni_runtime.delete(attachment)
