"""The lab's manifests, checked offline: Kubernetes objects against the API schemas of the
lab's Kubernetes version, the NetworkAttachmentDefinition against Multus' CRD and against
krafty's own config parser, and the wiring between them."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from krafty import config
from krafty.testing.kind.settings import RESOURCES as KIND_RESOURCES
from lab.settings import KUBERNETES_VERSION, NAMESPACE, NETTOOLS, NETWORK, RESOURCES, nettools_image

MULTUS = KIND_RESOURCES / "multus-daemonset-thick.yml"
NETTOOLS_YAML = RESOURCES / "nettools.yaml"
NAD = RESOURCES / "krafty-nad.yaml"


def documents(path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(path, kind: str) -> dict[str, Any]:
    (doc,) = [doc for doc in documents(path) if doc["kind"] == kind]
    return doc


def pod_spec() -> dict[str, Any]:
    return by_kind(NETTOOLS_YAML, "Deployment")["spec"]["template"]["spec"]


def network_config() -> dict[str, Any]:
    return json.loads(yaml.safe_load(NAD.read_text())["spec"]["config"])


@pytest.mark.parametrize(
    "doc",
    [doc for path in (NETTOOLS_YAML, MULTUS) for doc in documents(path)],
    ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}",
)
def test_kubernetes_objects_match_the_api_schema(doc):
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {err.message} at {'.'.join(map(str, err.path))}")


def test_nad_is_a_network_attachment_definition_named_for_its_network():
    nad = yaml.safe_load(NAD.read_text())
    assert (nad["apiVersion"], nad["kind"]) == ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition")
    assert nad["metadata"] == {"name": NETWORK, "namespace": NAMESPACE}
    assert list(nad["spec"]) == ["config"] and isinstance(nad["spec"]["config"], str)
    assert network_config()["name"] == NETWORK, "Multus and the e2e tests find the network by this one name"


def test_nad_matches_the_crd_that_multus_installs():
    crd = by_kind(MULTUS, "CustomResourceDefinition")
    (served,) = [v for v in crd["spec"]["versions"] if v["served"]]
    assert f"{crd['spec']['group']}/{served['name']}" == yaml.safe_load(NAD.read_text())["apiVersion"]
    jsonschema.validate(yaml.safe_load(NAD.read_text()), served["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize("command", ["ADD", "CHECK", "DEL"])
def test_nad_config_is_accepted_by_the_plugin(command):
    parsed = config.parse(json.dumps(network_config()).encode(), command)
    assert (parsed.subnet, parsed.gateway) == (IPv4Network("172.16.10.0/24"), IPv4Address("172.16.10.1"))
    assert parsed.ipam_type == "host-local" and parsed.pod_ip is None


def test_nad_config_hands_out_10_to_250_with_a_default_route():
    ipam = network_config()["ipam"]
    assert ipam["ranges"] == [[{"subnet": "172.16.10.0/24", "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.250"}]]
    assert ipam["routes"] == [{"dst": "0.0.0.0/0"}]


def test_nettools_pods_ask_multus_for_the_krafty_network():
    template = by_kind(NETTOOLS_YAML, "Deployment")["spec"]["template"]
    assert template["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == NETWORK


def test_nettools_service_reaches_the_pods_on_8080():
    deployment, service = by_kind(NETTOOLS_YAML, "Deployment"), by_kind(NETTOOLS_YAML, "Service")
    assert deployment["metadata"]["name"] == service["metadata"]["name"] == NETTOOLS
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    (container,) = pod_spec()["containers"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["port"] == 8080 and named[port["targetPort"]] == 8080
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_nettools_image_is_the_one_the_lab_builds_and_loads():
    (container,) = pod_spec()["containers"]
    assert container["image"] == nettools_image({})
    assert container["imagePullPolicy"] == "IfNotPresent", "kind-loaded images cannot be pulled"


def test_multus_images_are_pinned_to_a_release():
    spec = by_kind(MULTUS, "DaemonSet")["spec"]["template"]["spec"]
    images = {c["image"] for c in spec["containers"] + spec["initContainers"]}
    assert images == {"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2-thick"}


def test_kind_cluster_leaves_the_cni_to_cilium_and_has_workers():
    kind = yaml.safe_load((KIND_RESOURCES / "kind.yaml").read_text())
    assert kind["networking"]["disableDefaultCNI"] is True
    roles = [node["role"] for node in kind["nodes"]]
    assert roles.count("control-plane") == 1 and roles.count("worker") >= 2


def test_cilium_leaves_room_for_multus():
    values = yaml.safe_load((KIND_RESOURCES / "cilium-values.yaml").read_text())
    assert values["cni"]["exclusive"] is False
