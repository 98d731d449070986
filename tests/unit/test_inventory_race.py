"""krafty inspect lists /run/netns and then opens each entry: a pod's namespace removed in
between (pods come and go on a node) must be passed over, not crash the listing. Seen when
the netns layer ran with two workers: one worker's namespace vanished under another's inspect."""

from krafty.dataplane import Netns


def test_a_namespace_gone_since_it_was_listed_has_no_nsid(tmp_path):
    with Netns() as node:
        assert node.nsid_of(str(tmp_path / "cni-pod-removed-meanwhile")) is None
