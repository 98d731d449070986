"""krafty's kind lab: `make up`/`make down` and krafty's e2e fixtures, on krafty.testing.kind.

Only the cluster code needs the `e2e` extra (pytest-kind-ng, PyYAML); settings use the
standard library alone, so the e2e tests import and collect without it.
"""
