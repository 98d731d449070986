"""The suite's command-line options, apart from the suite: every pytest session with krafty
installed declares them, and only a session that asks for the suite loads it."""

import pytest


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--cni-conformance",
        metavar="CONFIG",
        default=None,
        help="run the CNI conformance suite on the plugin of this network config (instead of the collected tests)",
    )
    group.addoption(
        "--cni-conformance-plugin",
        metavar="TYPE",
        default=None,
        help="the plugin of the list to judge (default: the last)",  # pragma: no mutate
    )
    group.addoption(
        "--cni-conformance-parent",
        metavar="DEVICE",
        default=None,
        help="make this device in every node first (the master of macvlan, ipvlan, vlan)",  # pragma: no mutate
    )
    group.addoption(
        "--cni-conformance-single",
        action="store_true",
        help="the config serves one attachment at a time (host-device): no rule that needs two",  # pragma: no mutate
    )
    group.addoption(
        "--cni-conformance-private",
        action="append",
        default=[],
        metavar="DIR",
        help="where the plugin keeps files on the node, for the clean check (repeatable)",  # pragma: no mutate
    )
    group.addoption(
        "--cni-conformance-version",
        action="append",
        default=[],
        metavar="VERSION",
        help="judge only these versions (repeatable; default: every version the plugins list)",  # pragma: no mutate
    )
    group.addoption(
        "--cni-conformance-strict",
        action="store_true",
        help="a broken SHOULD fails its test too",  # pragma: no mutate
    )
    group.addoption(
        "--cni-conformance-report",
        metavar="PATH",
        default="cni-conformance",
        help="write PATH.json and PATH.md (default: cni-conformance)",  # pragma: no mutate
    )
