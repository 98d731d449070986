"""Names, MAC and table against literal values worked out outside krafty.

The FNV-1a values below were computed with a separate shell implementation (offset
2166136261, prime 16777619, per byte: xor, multiply, mod 2**32), which reproduces the
published vectors and docs/plugin.md's `krafty` example:

    fnv() { local s="$1" h=2166136261 i c; for ((i=0;i<${#s};i++)); do
        printf -v c '%d' "'${s:i:1}"; h=$(( ((h ^ c) * 16777619) & 0xFFFFFFFF )); done; echo $h; }
"""

from krafty import naming

CONTAINER = "0123456789abcdef0123456789abcdef"


def test_fnv32a_matches_the_published_vectors():
    # Test vectors from the FNV reference (draft-eastlake-fnv).
    assert naming.fnv32a(b"") == 0x811C9DC5
    assert naming.fnv32a(b"a") == 0xE40C292C
    assert naming.fnv32a(b"foobar") == 0xBF9CF968


def test_default_table_is_the_docs_example():
    assert naming.default_vrf_table("krafty") == 2698658016 == 0xA0DA40E0


def test_default_table_is_the_hash_of_the_network_name():
    assert naming.default_vrf_table("foobar") == 0xBF9CF968
    assert naming.default_vrf_table("krafty-test") == 3372547843  # fnv krafty-test


def test_default_table_never_lands_below_256():
    low = "n4491625"  # found by search: fnv n4491625 gives 238
    assert naming.fnv32a(low.encode()) == 238
    assert naming.default_vrf_table(low) == 238 + 256


def test_names_fit_ifnamsiz_and_carry_the_container_prefix():
    assert naming.vrf_name(CONTAINER) == "krv0123456789ab"
    assert naming.bridge_name(CONTAINER) == "krb0123456789ab"
    assert naming.host_veth_name(CONTAINER) == "veth0123456789a"
    for name in (naming.vrf_name(CONTAINER), naming.bridge_name(CONTAINER), naming.host_veth_name(CONTAINER)):
        assert len(name) == naming.IFNAMSIZ


def test_short_container_ids_give_short_names():
    assert naming.vrf_name("abc") == "krvabc"


def test_bridge_mac_is_02_6b_and_the_hash_of_the_container_id():
    # fnv 0123456789abcdef0123456789abcdef gives 2261798325 = 0x86d04db5, big-endian bytes.
    # 02: unicast, locally administered (bit 0 clear, bit 1 set), so never a vendor's MAC.
    assert naming.bridge_mac(CONTAINER) == "02:6b:86:d0:4d:b5"


# Derived names: FNV-1a 32 of "<network> <ifname> <containerID>" (the owner alias without its
# "krafty " prefix), as 8 hex digits behind "krv-", "krb-", "veth-"; the MAC is 02:6b: and
# the same 4 bytes. Hashes from the shell function above:
#   fnv "krafty net1 0123456789abcdef0123456789abcdef" = 91372810   = 0x05723d0a
#   fnv "krafty eth0 0123456789abcdef0123456789abcdef" = 3807427283 = 0xe2f0bad3
#   fnv "other net1 0123456789abcdef0123456789abcdef"  = 299982555  = 0x11e15edb
#   fnv "krafty net1 0123456789abcdef0123456789abcdee" = 74595191   = 0x04723b77


def test_derived_names_are_the_hash_of_the_whole_attachment_key():
    assert naming.derived_names(CONTAINER, "krafty", "net1") == naming.Names(
        vrf="krv-05723d0a", bridge="krb-05723d0a", host_veth="veth-05723d0a", bridge_mac="02:6b:05:72:3d:0a"
    )


def test_each_part_of_the_key_changes_the_derived_names():
    assert naming.derived_names(CONTAINER, "krafty", "eth0").vrf == "krv-e2f0bad3"
    assert naming.derived_names(CONTAINER, "other", "net1").bridge == "krb-11e15edb"
    # a container ID that differs only in its last character: same seed names, other derived ones
    sibling = CONTAINER[:-1] + "e"
    assert naming.seed_names(sibling).vrf == naming.seed_names(CONTAINER).vrf == "krv0123456789ab"
    assert naming.derived_names(sibling, "krafty", "net1").host_veth == "veth-04723b77"


def test_candidates_are_the_seed_names_then_the_derived_ones():
    seed, derived = naming.candidates(CONTAINER, "krafty", "net1")
    assert (seed.vrf, seed.bridge, seed.host_veth, seed.bridge_mac) == (
        "krv0123456789ab",
        "krb0123456789ab",
        "veth0123456789a",
        "02:6b:86:d0:4d:b5",
    )
    assert (derived.vrf, derived.bridge, derived.host_veth) == ("krv-05723d0a", "krb-05723d0a", "veth-05723d0a")


def test_derived_names_fit_ifnamsiz_and_never_look_like_seed_names():
    """A seed name's character after the prefix is the ID's first, a letter or a digit: never "-"."""
    longest = naming.derived_names("x" * 128, "n" * 64, "i" * 15)
    for name in (longest.vrf, longest.bridge, longest.host_veth):
        assert len(name) <= naming.IFNAMSIZ
    assert longest.vrf[3] == longest.bridge[3] == longest.host_veth[4] == "-"
