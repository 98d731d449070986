"""Whatever the runtime sends, krafty answers with a result or a CNI error object."""

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from krafty import skel, types
from tests.unit.test_protocol import CONF, ENV, FAKE_VERBS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
near_values = st.sampled_from(
    ["", "0.0.0.0/0", "172.16.10.1", "172.16.10.0/24", "fd00::/64", "../x", "/bin/sh", -1, 0, 2**40, True, [], {}]
)
FIELDS = [
    "cniVersion",
    "name",
    "type",
    "subnet",
    "gateway",
    "ipam",
    "podIP",
    "vrfTable",
    "mtu",
    "prevResult",
    "cni.dev/valid-attachments",
    "logFile",
]


@st.composite
def documents(draw):
    kind = draw(st.sampled_from(["valid", "mutated", "any-json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "any-json":
        return json.dumps(draw(json_values)).encode()
    doc = dict(CONF)
    if kind == "mutated":
        for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
            doc[field] = draw(near_values | json_values)
    return json.dumps(doc).encode()


environments = st.fixed_dictionaries(
    {},
    optional={
        "CNI_COMMAND": st.sampled_from([*types.VERBS, "", "add", "BOGUS"]),
        "CNI_CONTAINERID": st.sampled_from(["c0ffee", "", "a;b", "x" * 200]) | st.text(max_size=30),
        "CNI_NETNS": st.sampled_from(["/var/run/netns/pod", ""]) | st.text(max_size=30),
        "CNI_IFNAME": st.sampled_from(["net1", "", "a" * 16, "a/b"]) | st.text(max_size=20),
        "CNI_PATH": st.text(max_size=30),
    },
).map(lambda env: {**ENV, **env} if env.get("CNI_COMMAND") != "" else env)


@settings(max_examples=400, deadline=None)
@given(documents(), environments)
def test_every_input_gets_a_result_or_a_cni_error_object(raw, env):
    stdout, stderr = io.StringIO(), io.StringIO()
    status = skel.run(env, io.BytesIO(raw), stdout, stderr, verbs=FAKE_VERBS)
    out = json.loads(stdout.getvalue())
    assert "Traceback" not in stderr.getvalue()
    if status == 0:
        assert out["cniVersion"] in types.SUPPORTED_VERSIONS
        assert "code" not in out
    else:
        assert set(out) == {"cniVersion", "code", "msg", "details"}
        assert out["code"] in {
            types.INCOMPATIBLE_VERSION,
            types.INVALID_ENVIRONMENT,
            types.DECODE_FAILURE,
            types.INVALID_CONFIG,
        }
        assert out["msg"]
