"""Every Kustomize overlay renders, validates against the Kubernetes schema offline, and keeps
the promises the docs make (probes, non-root, sizing, autoscaling, disruption budget, network
policy). No cluster and no container engine are needed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import require_kubectl
from tests.deploy.kube import OVERLAY, by_kind, render

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = [KUBERNETES / "base", *sorted((KUBERNETES / "overlays").iterdir()), OVERLAY]
# The oldest Kubernetes still supported by its project when these were written, and the newest
# schema the validator ships.
SCHEMA_VERSIONS = ["1.32.0", "1.37.0"]
PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"}


@pytest.fixture(scope="module", params=OVERLAYS, ids=lambda path: path.name)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    require_kubectl()
    documents: list[dict[str, Any]] = render(request.param)
    return documents


def validator() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return kubernetes_validate


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_manifest_matches_the_kubernetes_schema(
    rendered: list[dict[str, Any]], version: str
) -> None:
    kubernetes_validate = validator()
    for document in rendered:
        kubernetes_validate.validate(document, version, strict=True)


def test_the_validator_rejects_a_misspelt_field(rendered: list[dict[str, Any]]) -> None:
    """So that the test above can fail: strict validation refuses a field Kubernetes lacks."""
    kubernetes_validate = validator()
    deployment = copy.deepcopy(by_kind(rendered, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[-1], strict=True)


def test_every_overlay_has_the_whole_application(rendered: list[dict[str, Any]]) -> None:
    kinds = {document["kind"] for document in rendered}
    assert kinds >= {
        "Secret",
        "ConfigMap",
        "Job",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }


def test_pods_are_probed_non_root_and_sized(rendered: list[dict[str, Any]]) -> None:
    pod = by_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's numeric user
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/data", "/tmp"} <= mounts, "a read-only root needs writable data and spool folders"


def test_graceful_shutdown_fits_the_termination_grace(rendered: list[dict[str, Any]]) -> None:
    pod = by_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    drain = float(by_kind(rendered, "ConfigMap")["data"]["IMAGECAPTION_GRACEFUL_SHUTDOWN_SECONDS"])
    pause = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert drain + pause < pod["terminationGracePeriodSeconds"]


def test_autoscaler_budget_and_service_select_the_deployment(
    rendered: list[dict[str, Any]],
) -> None:
    deployment = by_kind(rendered, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    hpa = by_kind(rendered, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert {metric["type"] for metric in hpa["metrics"]} >= {"Pods", "Resource"}
    assert hpa["minReplicas"] >= 2
    budget = by_kind(rendered, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] < hpa["minReplicas"], "a drain must be able to proceed"
    for selector in (
        budget["selector"]["matchLabels"],
        by_kind(rendered, "Service")["spec"]["selector"],
    ):
        assert selector.items() <= labels.items()
    job = by_kind(rendered, "Job")["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["imagecaption", "db", "upgrade"]
    assert job["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def egress_ports(rendered: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Each port the pods may reach, with the destinations allowed for it."""
    policy = by_kind(rendered, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    found: dict[int, list[dict[str, Any]]] = {}
    for rule in policy["egress"]:
        assert rule.get("to"), "an egress rule without destinations opens the port to anywhere"
        for port in rule["ports"]:
            found.setdefault(port["port"], []).extend(rule["to"])
    return found


def test_network_policy_allows_only_dns_database_and_redis() -> None:
    require_kubectl()
    ports = egress_ports(render(KUBERNETES / "base"))
    assert set(ports) == {53, 5432, 6379}


def test_public_https_only_where_models_or_image_urls_are_configured() -> None:
    require_kubectl()
    example = egress_ports(render(KUBERNETES / "overlays" / "example"))
    full = egress_ports(render(KUBERNETES / "overlays" / "full-model"))
    assert set(example) == {53, 5432, 6379, 80, 443}  # image URLs
    assert set(full) == {53, 5432, 6379, 80, 443}  # image URLs and the model hub
    for ports in (example, full):
        for destination in ports[443]:
            # Public addresses only, as the server's own URL checks insist.
            assert set(destination["ipBlock"]["except"]) >= PRIVATE_RANGES


def test_compose_file_names_the_shared_state() -> None:
    (compose,) = [doc for doc in yaml.safe_load_all((ROOT / "compose.yaml").read_text()) if doc]
    assert {"api", "postgres", "redis"} <= set(compose["services"])
    environment = compose["services"]["api"]["environment"]
    assert environment["IMAGECAPTION_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["IMAGECAPTION_REDIS_URL"].startswith("redis://")


def test_dockerfile_defaults_build_anywhere() -> None:
    """``docker build .`` works unchanged: the public base image and index are the defaults."""
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.12-slim" in text
    assert "ARG PIP_INDEX_URL=https://pypi.org/simple" in text
    assert "--mount=type=secret,id=ca_bundle" in text
    assert "\nUSER 10001:10001" in text
    assert 'VOLUME ["/data"]' in text
    assert "HEALTHCHECK" in text


def test_exported_model_reaches_replicas_without_torch_or_the_hub() -> None:
    """The exported-model overlay: the light image serves a folder that an init container copies
    from a models-only image into a volume the API reads, read-only; no model hub, no shared
    volume."""
    require_kubectl()
    rendered = render(KUBERNETES / "overlays" / "exported-model")
    pod = by_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    (api,) = pod["containers"]
    (init,) = pod["initContainers"]
    config = by_kind(rendered, "ConfigMap")["data"]
    assert not api["image"].split(":")[0].endswith("-models"), "the light image, without torch"
    assert init["image"] != api["image"]
    assert "command" not in init, "the models-only image's own cp"
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    (written,) = init["volumeMounts"]
    (read,) = [mount for mount in api["volumeMounts"] if mount["name"] == written["name"]]
    assert read["readOnly"] is True
    assert config["IMAGECAPTION_MODEL"].startswith(read["mountPath"] + "/")
    assert config["IMAGECAPTION_BACKEND"] == "onnx"
    (volume,) = [v for v in pod["volumes"] if v["name"] == written["name"]]
    assert "emptyDir" in volume, "each pod its own copy: no ReadWriteMany storage needed"
    assert not [doc for doc in rendered if doc["kind"] == "PersistentVolumeClaim"]
    example = egress_ports(render(KUBERNETES / "overlays" / "example"))
    assert egress_ports(rendered) == example, "nothing opened for the model hub"
