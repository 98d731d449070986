from krafty import naming

CONTAINER = "0123456789abcdef0123456789abcdef"


def test_fnv32a_matches_the_published_vectors():
    # Test vectors from the FNV reference (draft-eastlake-fnv).
    assert naming.fnv32a(b"") == 0x811C9DC5
    assert naming.fnv32a(b"a") == 0xE40C292C
    assert naming.fnv32a(b"foobar") == 0xBF9CF968


def test_default_table_is_the_hash_of_the_network_name():
    assert naming.default_vrf_table("foobar") == 0xBF9CF968
    assert naming.default_vrf_table("krafty") == naming.fnv32a(b"krafty")


def test_default_table_never_lands_below_256():
    low = "n4491625"  # found by search: its FNV-32a is below 256
    assert naming.fnv32a(low.encode()) < 256
    assert naming.default_vrf_table(low) == naming.fnv32a(low.encode()) + 256


def test_names_fit_ifnamsiz_and_carry_the_container_prefix():
    assert naming.vrf_name(CONTAINER) == "krv0123456789ab"
    assert naming.bridge_name(CONTAINER) == "krb0123456789ab"
    assert naming.host_veth_name(CONTAINER) == "veth0123456789a"
    for name in (naming.vrf_name(CONTAINER), naming.bridge_name(CONTAINER), naming.host_veth_name(CONTAINER)):
        assert len(name) == naming.IFNAMSIZ


def test_short_container_ids_give_short_names():
    assert naming.vrf_name("abc") == "krvabc"


def test_bridge_mac_is_stable_unicast_and_locally_administered():
    mac = naming.bridge_mac(CONTAINER)
    assert mac == naming.bridge_mac(CONTAINER)
    assert mac != naming.bridge_mac(CONTAINER + "x")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01
