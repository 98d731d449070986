"""krafty.record: value objects equal by class and fields, shown by their fields."""

from __future__ import annotations

from krafty.naming import Names
from krafty.types import Interface, Invocation, Result, Route


def test_records_are_equal_when_of_one_class_with_the_same_fields():
    assert Interface("eth0", "aa:bb:cc:dd:ee:ff", "/run/netns/p") == Interface(
        "eth0", "aa:bb:cc:dd:ee:ff", "/run/netns/p"
    )
    assert Interface("eth0") != Interface("eth1")
    assert Interface("eth0", "aa:bb:cc:dd:ee:ff") != Interface("eth0")
    assert Names("a", "b", "c", "d") != ("a", "b", "c", "d")
    assert Route("x") != Interface("x"), "another class with the same values"  # type: ignore[arg-type]


def test_a_record_shows_its_class_and_fields():
    assert repr(Interface("eth0", "aa:bb:cc:dd:ee:ff")) == "Interface(mac='aa:bb:cc:dd:ee:ff', name='eth0', sandbox='')"


def test_an_interface_named_alone_has_no_mac_or_sandbox_in_a_result():
    """SPEC: mac and sandbox are optional; a node-side interface has no sandbox."""
    assert Result(interfaces=(Interface("krb0"),)).to_json("1.0.0")["interfaces"] == [{"name": "krb0"}]


def test_an_invocation_without_a_container_has_empty_container_netns_and_ifname():
    """VERSION, GC and STATUS name no container: empty is how the protocol says "not given"."""
    gc = Invocation("GC", path=("/opt/cni/bin",))
    assert (gc.container_id, gc.netns, gc.ifname, gc.environ) == ("", "", "", {})


def test_equal_records_key_a_dict_as_one():
    """The node tools key attachments by their owner record."""
    owners = {Names("a", "b", "c", "d"): "first"}
    assert owners[Names("a", "b", "c", "d")] == "first"
    assert Names("a", "b", "c", "e") not in owners
