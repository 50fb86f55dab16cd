"""deploy/kubernetes: every object is valid against the Kubernetes API's JSON schema
(kubernetes-validate, strict: unknown fields fail) and names only what exists: Services
select the Deployments' pods and target named container ports, the HPA scales the
collector Deployment, Secret keys exist, args and environment are flags and settings of
the real CLI. Never applied to a cluster (none can run here; deploy/README.md)."""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from tests.deploy.configs import (
    KUBERNETES_DIR,
    KUBERNETES_VERSION,
    parse_command,
    setting_env_names,
    yaml_documents,
)
from tokentrail.settings import Settings

KUSTOMIZATION = KUBERNETES_DIR / "kustomization.yaml"
EXTRAS = {"secret.example.yaml", "clickhouse-operator.yaml"}  # applied by hand, see them


def _kustomization() -> dict:
    (k,) = yaml_documents(KUSTOMIZATION)
    return k


def _objects(*, extras: bool = False) -> list[dict]:
    names = list(_kustomization()["resources"])
    if extras:
        names.append("secret.example.yaml")
    return [d for name in names for d in yaml_documents(KUBERNETES_DIR / name)]


def _by_kind(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in _objects(extras=True) if o["kind"] == kind}


def _pod_templates() -> dict[str, dict]:
    workloads = {**_by_kind("Deployment"), **_by_kind("Job")}
    return {name: w["spec"]["template"] for name, w in workloads.items()}


def test_kustomization_lists_every_manifest():
    files = {p.name for p in KUBERNETES_DIR.glob("*.yaml")} - {KUSTOMIZATION.name}
    assert set(_kustomization()["resources"]) == files - EXTRAS
    assert all((KUBERNETES_DIR / name).is_file() for name in EXTRAS)


@pytest.mark.parametrize("obj", _objects(extras=True),
                         ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_valid_against_the_kubernetes_schema(obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_a_misspelt_field():
    deployment = copy.deepcopy(_by_kind("Deployment")["tokentrail-ui"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_services_select_pods_and_target_named_ports():
    deployments = _by_kind("Deployment")
    for name, service in _by_kind("Service").items():
        selector = service["spec"]["selector"]
        (target,) = [d for d in deployments.values()
                     if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert target["spec"]["selector"]["matchLabels"] == selector, name
        ports = {p["name"]: p["containerPort"]
                 for c in target["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"], (name, port)


def test_hpa_scales_the_collector():
    (hpa,) = _by_kind("HorizontalPodAutoscaler").values()
    ref = hpa["spec"]["scaleTargetRef"]
    assert ref["kind"] == "Deployment" and ref["name"] == "tokentrail-collector"
    assert ref["name"] in _by_kind("Deployment")
    assert "replicas" not in _by_kind("Deployment")["tokentrail-collector"]["spec"], \
        "the HPA owns the replica count"
    # CPU utilisation needs a CPU request to be measured against
    (container,) = _pod_templates()["tokentrail-collector"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"]


def test_containers_use_real_flags_settings_ports_and_secret_keys():
    secret = _by_kind("Secret")["tokentrail"]["stringData"]
    defaults = Settings.model_fields
    ports = {"ui": {defaults["ui_port"].default},
             "collector": {defaults["otlp_http_port"].default,
                           defaults["otlp_grpc_port"].default},
             "schema": set()}
    for name, template in _pod_templates().items():
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            parse_command(container["args"])
            env = {e["name"]: e for e in container["env"]}
            assert set(env) <= setting_env_names(), name
            for entry in env.values():
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "tokentrail" and ref["key"] in secret, entry
            assert {p["containerPort"] for p in container.get("ports", [])} == \
                ports[container["name"]], name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
    roles = {n: t["spec"]["containers"][0]["args"] for n, t in _pod_templates().items()}
    assert roles == {"tokentrail-ui": ["serve", "--no-collector"],
                     "tokentrail-collector": ["serve", "--no-ui"],
                     "tokentrail-schema": ["schema", "--apply"]}


def test_operator_reference_matches_the_secret():
    """Only the shape (the operator's CRD schema is not available here): the DSN's host
    is the Service the operator creates (clickhouse-<name>), the password comes from
    the same Secret, and the cluster name is what `schema --cluster` is given."""
    (chi,) = yaml_documents(KUBERNETES_DIR / "clickhouse-operator.yaml")
    assert chi["apiVersion"] == "clickhouse.altinity.com/v1"
    assert chi["kind"] == "ClickHouseInstallation"
    secret = _by_kind("Secret")["tokentrail"]
    dsn = urlsplit(secret["stringData"]["clickhouse-dsn"])
    assert dsn.hostname == f"clickhouse-{chi['metadata']['name']}"
    users = chi["spec"]["configuration"]["users"]
    secret_name, key = users[f"{dsn.username}/k8s_secret_password"].split("/")
    assert secret_name == secret["metadata"]["name"] and key in secret["stringData"]
    (cluster,) = chi["spec"]["configuration"]["clusters"]
    assert f'"--cluster", "{cluster["name"]}"' in \
        (KUBERNETES_DIR / "clickhouse-operator.yaml").read_text()


def test_image_tag_is_this_release():
    import tokentrail

    (image,) = _kustomization()["images"]
    assert image == {"name": "tokentrail", "newTag": tokentrail.__version__}
    images = {c["image"] for t in _pod_templates().values() for c in t["spec"]["containers"]}
    assert images == {"tokentrail"}  # kustomize sets the tag on exactly these
