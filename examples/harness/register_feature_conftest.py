"""docs/harness/kernel.md's `register_feature` block, as a conftest.py would hold it.

tests/unit/test_docs.py runs this file, and holds the block to be these lines."""

# conftest.py
from krafty.testing.kernel import register_feature

register_feature("ifb", ("ip", "link", "add", "probe", "type", "ifb"), ("ifb",))
