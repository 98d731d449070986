"""A kind lab for CNI plugins: kind + Cilium (primary) + Multus (thick), the plugin under
test on every node, a NetworkAttachmentDefinition applied.

`python -m krafty.testing.kind up|require|down` and the `cni_kind_lab` fixture run the same
code. Only `cluster` needs the `e2e` extra (pytest-kind-ng, PyYAML).
"""
