"""`python -m krafty.testing.conformance CONFIG [pytest options]`: the suite, for people who do not write pytest.

Runs `pytest --cni-conformance=CONFIG -v` with the suite's report in the current directory;
every other argument goes to pytest (`--cni-path`, `--cni-conformance-strict`, `-k rule`, ...).
"""

import sys

import pytest


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    config, rest = argv[0], argv[1:]
    # krafty is imported before pytest starts, so pytest cannot rewrite its asserts: it has none.
    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    return int(pytest.main(["-p", "no:cacheprovider", "-v", "-rfE", *quiet, f"--cni-conformance={config}", *rest]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
