"""The Kubernetes manifests, rendered by Kustomize and played by podman as two replicas.

``podman kube play`` runs a Deployment with its ConfigMap; what it cannot do as a cluster would is
adapted here, in the open, and nowhere else:

- host networking puts every replica on the same addresses, so each replica is its own
  one-pod Deployment with its own port (and its own emptyDir volumes, which podman turns into
  named volumes), running the image built for this test;
- podman 4.3 cannot read back a Secret it played itself, so the Secret is stored as a podman
  secret in the form its ``secretRef`` reads (JSON, base64 values);
- it has no Job: the migration Job's container (image, command, environment from the Secret,
  read-only root, its user) is run with ``podman run``, before the replicas start, and the
  replicas are not allowed to migrate, so that they only start if the Job did its work.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from tests.deploy.containers import Served
from tests.deploy.engine import TEST_PREFIX, Podman, run_tool
from tests.e2e.server import free_port
from tests.replicas.cluster import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "tests" / "deploy" / "podman-overlay"
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")


def render(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize``: what ``kubectl apply -k`` would send to a cluster."""
    output = run_tool(["kubectl", "kustomize", str(directory)], timeout=120).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in documents if doc["kind"] == kind]
    return found


@dataclass
class Cluster:
    podman: Podman
    replicas: list[Served]
    rendered: list[dict[str, Any]]


def replica_deployment(
    deployment: dict[str, Any],
    name: str,
    secret: str,
    image: str,
    init_images: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One replica of ``deployment`` with a port, volumes and a Secret name of its own, running
    ``image`` (and ``init_images``, by init container name)."""
    replica = copy.deepcopy(deployment)
    port = free_port()
    replica["metadata"]["name"] = name
    replica["spec"]["replicas"] = 1
    pod = replica["spec"]["template"]["spec"]
    container = pod["containers"][0]
    container["image"] = image
    for init in pod.get("initContainers", []):
        init["image"] = (init_images or {})[init["name"]]
    container.setdefault("env", []).append({"name": "IMAGECAPTION_PORT", "value": str(port)})
    for probe in PROBES:
        container[probe]["httpGet"]["port"] = port
    for source in container["envFrom"]:
        if "secretRef" in source:
            source["secretRef"]["name"] = secret
    renamed = {volume["name"]: f"{name}-{volume['name']}" for volume in pod["volumes"]}
    for volume in pod["volumes"]:
        volume["name"] = renamed[volume["name"]]
    for mounted in [*pod.get("initContainers", []), container]:
        for mount in mounted["volumeMounts"]:
            mount["name"] = renamed[mount["name"]]
    return replica


def secret_values(database_url: str) -> dict[str, str]:
    """The Secret's values for this machine's throw-away database and its Redis, which the
    containers reach as the host does (host networking)."""
    url = make_url(database_url).render_as_string(hide_password=False)
    return {"IMAGECAPTION_DATABASE_URL": url, "IMAGECAPTION_REDIS_URL": REDIS_URL}


def secret_payload(secret: dict[str, Any], values: dict[str, str]) -> str:
    """The Secret's keys with the test's values, as podman's secretRef reads them."""
    assert set(values) == set(secret["stringData"]), "the test must set every key of the Secret"
    return json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in values.items()})


def run_migration_job(podman: Podman, job: dict[str, Any], env: dict[str, str], image: str) -> str:
    """The Job's container as the Job would run it (with the image built for the test)."""
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = ["run", "--rm", "--network", "host"]
    args += ["--user", f"{pod['securityContext']['runAsUser']}"]
    if container["securityContext"].get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]
    result = podman.run(*args, image, *container["command"], timeout=120)
    return result.stdout + result.stderr


@contextlib.contextmanager
def play(
    podman: Podman,
    workdir: Path,
    rendered: list[dict[str, Any]],
    secret_values: dict[str, str],
    config: dict[str, str],
    count: int,
    image: str,
    init_images: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """The rendered Deployment as ``count`` replicas, with its ConfigMap (plus ``config``)."""
    token = secrets.token_hex(3)
    secret_name = f"{TEST_PREFIX}{token}"
    podman.run(
        "secret",
        "create",
        secret_name,
        "-",
        input_text=secret_payload(by_kind(rendered, "Secret"), secret_values),
    )
    config_map = copy.deepcopy(by_kind(rendered, "ConfigMap"))
    config_map["data"].update(config)
    deployment = by_kind(rendered, "Deployment")
    deployments = [
        replica_deployment(
            deployment, f"{TEST_PREFIX}{token}-{index}", secret_name, image, init_images
        )
        for index in range(count)
    ]
    manifest = workdir / f"play-{token}.yaml"
    manifest.write_text(yaml.safe_dump_all([config_map, *deployments]))
    volumes = [v["name"] for d in deployments for v in d["spec"]["template"]["spec"]["volumes"]]
    replicas = []
    for deployment in deployments:
        # kube play names the pod <deployment>-pod-0 and the container <pod>-<container>.
        container = f"{deployment['metadata']['name']}-pod-0-api"
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        port = next(item["value"] for item in env if item["name"] == "IMAGECAPTION_PORT")
        replicas.append(Served(podman, container, f"http://127.0.0.1:{port}"))
    try:
        podman.run("kube", "play", str(manifest), timeout=180)
        for replica in replicas:
            podman.wait_healthy_http(replica.url, replica.name, timeout=180)
        yield Cluster(podman, replicas, rendered)
    finally:
        with contextlib.suppress(subprocess.SubprocessError, AssertionError):
            podman.run("kube", "down", str(manifest), timeout=120, check=False)
        for volume in volumes:
            podman.run("volume", "rm", "--force", volume, check=False)
        podman.run("secret", "rm", secret_name, check=False)
