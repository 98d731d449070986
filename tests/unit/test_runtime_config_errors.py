"""What the harness says before any plugin runs: a config libcni would refuse, a plugin it cannot
find. Messages and fields are part of the promise: a test reads them to tell a broken config from
a broken plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from krafty.testing.runtime import CniExecError, CniRuntimeError, Runtime, as_list, network_list

pytestmark = pytest.mark.unit


def refused(config, error=CniRuntimeError):
    with pytest.raises(error) as caught:
        network_list(config)
    return caught.value


@pytest.mark.parametrize("name", [5, "", None, ["net"]])
def test_a_network_without_a_string_name_is_refused(name):
    err = refused({"cniVersion": "1.0.0", "name": name, "type": "bridge"})
    assert str(err) == "the config has no `name` (a non-empty string)"


@pytest.mark.parametrize("plugins", [{"type": "bridge"}, [], "bridge"])
def test_plugins_that_are_no_non_empty_list_are_refused(plugins):
    err = refused({"cniVersion": "1.0.0", "name": "net", "plugins": plugins})
    assert str(err) == "`plugins` must be a non-empty list"


def test_a_plugin_that_is_no_object_is_named_by_its_place_in_the_list():
    err = refused({"cniVersion": "1.0.0", "name": "net", "plugins": [{"type": "bridge"}, "tuning"]})
    assert str(err) == "plugins[1]: a plugin's config is a JSON object"


@pytest.mark.parametrize("type_name", [5, "", None])
def test_a_plugin_without_a_type_is_an_exec_error_naming_its_place(type_name):
    err = refused({"cniVersion": "1.0.0", "name": "net", "plugins": [{"type": type_name}]}, CniExecError)
    assert (str(err), err.plugin) == ("plugins[0]: the config has no `type` (the plugin's file name)", "")


def test_a_single_plugins_config_without_a_type_has_no_list_place():
    err = refused({"cniVersion": "1.0.0", "name": "net"}, CniExecError)
    assert (str(err), err.plugin) == ("the config has no `type` (the plugin's file name)", "")


@pytest.mark.parametrize(
    "config",
    [
        {"cniVersion": "1.0.0", "name": "net", "plugins": [{"type": "bridge", "ipam": {"type": "host-local"}}]},
        {"cniVersion": "1.0.0", "name": "net", "type": "bridge", "ipam": {"type": "host-local"}},
    ],
)
def test_the_conflist_is_the_harness_own_copy(config):
    """A test's config must not change when the harness fills in or edits what it runs."""
    conflist = as_list(config)
    conflist["plugins"][0]["ipam"]["type"] = "static"
    assert "static" not in repr(config)


def runtime_on(path: list[str]) -> Runtime:
    return Runtime(None, path, Path("/nonexistent-cache"))  # type: ignore[arg-type]


def test_find_without_a_type_is_an_exec_error_naming_no_plugin():
    with pytest.raises(CniExecError) as caught:
        runtime_on([]).find("")
    assert (str(caught.value), caught.value.plugin) == ("the config has no `type` (the plugin's file name)", "")


def test_find_refuses_a_path_and_names_it():
    with pytest.raises(CniExecError) as caught:
        runtime_on(["/usr/bin"]).find("../bin/true")
    assert caught.value.plugin == "../bin/true"
    assert str(caught.value) == "invalid plugin name '../bin/true': a `type` is a file name"


def test_find_names_a_plugin_that_is_not_executable(tmp_path):
    (tmp_path / "plain").write_text("#!/bin/sh\n")
    with pytest.raises(CniExecError) as caught:
        runtime_on([str(tmp_path)]).find("plain")
    assert caught.value.plugin == "plain"
    assert str(caught.value) == f"plugin 'plain' is not executable: {tmp_path / 'plain'}"
