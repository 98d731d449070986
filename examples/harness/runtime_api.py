"""docs/harness/runtime.md's "API" block: the names a test imports from krafty.testing.

tests/unit/test_docs.py runs this file, and holds the block to be these lines."""

# ruff: noqa: F401, I001 (the imports as the manual shows them)
from krafty.testing import CniCallError, CniExecError, CniRuntimeError, CniSpecViolation, CniTimeout
from krafty.testing import Attachment, CallOutput, Runtime, check_answer, kill_at
