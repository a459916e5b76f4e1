"""The deployment files parse and keep the promises the docs make (no container engine needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kubernetes() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")):
        for doc in documents(path):
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
            found[doc["kind"]] = doc
    return found


def test_kubernetes_manifests() -> None:
    found = kubernetes()
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Secret", "ConfigMap"} <= set(found)
    pod = found["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    secret_keys = set(found["Secret"]["stringData"])
    assert {"IMAGECAPTION_DATABASE_URL", "IMAGECAPTION_REDIS_URL"} <= secret_keys
    target = found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
    assert target == found["Deployment"]["metadata"]["name"]


def test_compose_file() -> None:
    (compose,) = documents(ROOT / "compose.yaml")
    assert {"api", "postgres", "redis"} <= set(compose["services"])
    environment = compose["services"]["api"]["environment"]
    assert environment["IMAGECAPTION_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["IMAGECAPTION_REDIS_URL"].startswith("redis://")


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "\nUSER " in text
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    assert "download.pytorch.org/whl/cpu" in text
    assert 'VOLUME ["/data"]' in text
