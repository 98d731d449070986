"""The kind lab: one code path that `make up`/`make down` and the e2e fixtures share.

Only `lab.cluster` needs the `e2e` extra (pytest-kind-ng, PyYAML); the other modules use the
standard library alone, so the e2e tests import and collect without it.
"""
