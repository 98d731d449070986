"""Every code sample in the README and docs/ is a file the test suite runs.

A ```python block is a verbatim run of lines of the file SOURCES names for it, in order:
examples/test_bridge_plugin.py (the netns layer runs it) and examples/harness/*.py (run below).
The ```json network config is examples/krafty-network.json, which krafty's own parser takes
with the values the text states. Every other fenced block is commands (sh) or what a command
prints (console, text), and says so.
"""

from __future__ import annotations

import re
import runpy
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from krafty import config
from krafty.testing import kernel
from tests import inner_pytest
from tests.unit.test_verify import FakeRuntime
from tests.unit.test_versions import listing, stub

ROOT = Path(__file__).parents[2]
DOCS = sorted(["README.md", *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))])
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
LABELS = {"python", "json", "sh", "console", "text"}
NETWORK = ROOT / "examples" / "krafty-network.json"

# doc -> the file each of its ```python blocks is lines of, block by block.
SOURCES = {
    "README.md": ["examples/test_bridge_plugin.py"],
    "docs/harness/README.md": ["examples/test_bridge_plugin.py"],
    "docs/harness/kernel.md": ["examples/harness/register_feature_conftest.py"],
    "docs/harness/results.md": ["examples/harness/skip_checks.py"],
    "docs/harness/runtime.md": ["examples/harness/runtime_api.py"],
    "docs/harness/versions.md": ["examples/harness/cni_versions_marker.py"],
}


def blocks(doc: str, label: str | None = None) -> list[str]:
    found = FENCE.findall((ROOT / doc).read_text())
    return [body for lang, body in found if label is None or lang == label]


def is_run_of_lines(block: str, text: str) -> bool:
    """`block` is whole lines of `text`, one after another, as written."""
    start = text.find(block)
    while start != -1:
        if start == 0 or text[start - 1] == "\n":
            return True
        start = text.find(block, start + 1)
    return False


def test_the_docs_are_the_ones_this_test_knows():
    assert set(SOURCES) <= set(DOCS)
    assert "docs/plugin.md" in DOCS


@pytest.mark.parametrize("doc", DOCS)
def test_every_fenced_block_says_what_it_is(doc):
    text = (ROOT / doc).read_text()
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert len(fences) == 2 * len(FENCE.findall(text)), f"{doc}: a fence is not closed"
    labels = [lang for lang, _ in FENCE.findall(text)]
    assert set(labels) <= LABELS, f"{doc}: blocks labelled {sorted(set(labels) - LABELS)}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_python_block_is_a_run_of_lines_of_a_file_the_suite_runs(doc):
    found = blocks(doc, "python")
    sources = SOURCES.get(doc, [])
    assert len(found) == len(sources), f"{doc}: {len(found)} python blocks, SOURCES names {len(sources)}"
    for block, source in zip(found, sources, strict=True):
        assert is_run_of_lines(block, (ROOT / source).read_text()), f"{doc}: a block is not lines of {source}"


def test_the_network_config_is_the_example_file():
    assert blocks("docs/plugin.md", "json") == [NETWORK.read_text()]
    assert "`examples/krafty-network.json`" in (ROOT / "docs" / "plugin.md").read_text()
    assert [doc for doc in DOCS if blocks(doc, "json")] == ["docs/plugin.md"]


def test_krafty_parses_the_example_network_with_the_values_the_text_states():
    text = (ROOT / "docs" / "plugin.md").read_text()
    assert "Example: `krafty` → 2698658016 (`0xa0da40e0`)." in text
    parsed = config.parse(NETWORK.read_bytes())
    assert (parsed.cni_version, parsed.name) == ("1.0.0", "krafty")
    assert (parsed.subnet, parsed.gateway) == (IPv4Network("172.16.10.0/24"), IPv4Address("172.16.10.1"))
    assert (parsed.ipam_type, parsed.pod_ip, parsed.mtu, parsed.log_file) == ("host-local", None, None, None)
    assert parsed.vrf_table == 2698658016 == 0xA0DA40E0


def test_the_runtime_api_sample_imports_every_name_it_shows():
    names = runpy.run_path(str(ROOT / "examples" / "harness" / "runtime_api.py"))
    shown = "CniCallError CniExecError CniRuntimeError CniSpecViolation CniTimeout Attachment CallOutput Runtime"
    assert {*shown.split(), "check_answer", "kill_at"} <= set(names)


def test_the_register_feature_sample_registers_ifb_with_its_probe_and_module(monkeypatch):
    monkeypatch.setattr(kernel, "FEATURES", dict(kernel.FEATURES))
    assert "ifb" not in kernel.FEATURES
    runpy.run_path(str(ROOT / "examples" / "harness" / "register_feature_conftest.py"))
    assert kernel.FEATURES["ifb"] == kernel.Feature("ifb", ("ip", "link", "add", "probe", "type", "ifb"), ("ifb",))


def test_the_skip_checks_sample_turns_the_mac_rule_off_for_its_call(tmp_path):
    empty = {"cniVersion": "1.1.0", "interfaces": [], "ips": []}
    runtime = FakeRuntime([empty], tmp_path, node_path="/proc/self/ns/net")
    conf = {"cniVersion": "1.1.0", "name": "n", "type": "p"}
    runpy.run_path(
        str(ROOT / "examples" / "harness" / "skip_checks.py"),
        init_globals={"cni_runtime": runtime, "conf": conf, "pod": "/var/run/netns/pod"},
    )
    assert runtime.checks_off == [("kernel.mac", "the plugin reports the MAC before X rewrites it")]


def test_the_cni_versions_sample_is_one_test_per_version_both_plugins_list(tmp_path):
    everything = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0")
    stub(tmp_path / "bin", "bridge", listing(*everything))
    stub(tmp_path / "bin", "host-local", listing(*everything, "1.1.0"))
    sample = (ROOT / "examples" / "harness" / "cni_versions_marker.py").read_text()
    done = inner_pytest.run_pytest(
        tmp_path, sample, "--collect-only", "-q", "-p", "no:randomly", f"--cni-path={tmp_path / 'bin'}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected == [f"test_it.py::test_bridge[{version}]" for version in everything]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_names_a_file_and_heading_that_exist(doc):
    text = FENCE.sub("", (ROOT / doc).read_text())
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = ((ROOT / doc).parent / path).resolve() if path else ROOT / doc
        assert linked.exists(), f"{doc}: {target} names no file"
        if anchor:
            headings = re.findall(r"^#+ (.*)$", FENCE.sub("", linked.read_text()), re.M)
            assert anchor in {slug(h) for h in headings}, f"{doc}: {target} names no heading"
