"""docs/harness/results.md's "Turning a rule off for one call" block.

tests/unit/test_docs.py runs this file with a runtime, a config and a pod of its own, and
holds the block to be these lines."""

# ruff: noqa: F821 (cni_runtime, conf and pod are given by the test that runs this file)
cni_runtime.add(conf, pod, skip_checks={"kernel.mac": "the plugin reports the MAC before X rewrites it"})
