"""A container ID is kept whole in the owner record, the alias `krafty <network> <ifname> <id>`,
which the kernel caps at 255 bytes. With network `krafty` and interface `net1` that leaves
255 - len("krafty krafty net1 ") = 255 - 19 = 236 characters for the ID. A longer one is
refused by ADD and CHECK (code 4) before anything touches the kernel; its DEL has nothing to
remove and succeeds."""

import json

import pytest

from krafty import config, plugin
from krafty.types import INVALID_ENVIRONMENT, CniError, Invocation
from tests.unit.test_protocol import CONF as PROTOCOL_CONF

CONF = config.parse(json.dumps(PROTOCOL_CONF).encode())


class KernelTouched(Exception):
    pass


@pytest.fixture(autouse=True)
def no_kernel(monkeypatch):
    """Any netlink socket the verbs open raises KernelTouched."""

    def refuse(*args, **kwargs):
        raise KernelTouched

    monkeypatch.setattr(plugin, "Netns", refuse)


def invocation(command: str, length: int) -> Invocation:
    return Invocation(command, "a" * length, "/var/run/netns/pod", "net1")


def test_the_longest_id_whose_owner_record_fits_gets_past_the_check():
    with pytest.raises(KernelTouched):
        plugin.add(invocation("ADD", 236), CONF)


@pytest.mark.parametrize("verb", [plugin.add, plugin.check])
def test_an_id_one_character_longer_is_refused_with_code_4(verb):
    with pytest.raises(CniError) as refused:
        verb(invocation("ADD", 237), CONF if verb is plugin.add else _with_prev_result())
    assert refused.value.code == INVALID_ENVIRONMENT
    assert "CNI_CONTAINERID is 237 characters" in refused.value.msg
    assert "would be 256 bytes, over the kernel's 255-byte interface alias" in refused.value.msg


def test_del_of_such_an_id_succeeds_without_touching_the_kernel():
    assert plugin.delete(invocation("DEL", 237), CONF) is None


def _with_prev_result() -> config.NetConf:
    prev = {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "net1", "mac": "02:00:00:00:00:01", "sandbox": "/var/run/netns/pod"}],
        "ips": [{"address": "172.16.10.7/24", "interface": 0}],
    }
    raw = {**json.loads(json.dumps(CONF.raw)), "prevResult": prev}
    return config.parse(json.dumps(raw).encode(), "CHECK")
