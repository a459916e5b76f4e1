"""The images the container tests run, each built once and kept, named by a hash of its inputs.

No image registry is needed: the base image is made with debootstrap from the Debian mirror that
apt on this machine already uses (Debian's python3 and venv, like python:3.12-slim's contents),
and the Dockerfile is built on it with ``BASE_IMAGE``. A second run finds both by their tags
and builds nothing; a change to the code rebuilds only the package layers. Images from older
inputs are removed, so that repeated runs do not fill the disk.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.engine import EngineError, Podman, run_tool

ROOT = Path(__file__).resolve().parents[2]
BASE_REPOSITORY = "localhost/imagecaption-base"
IMAGE_REPOSITORY = "localhost/imagecaption-test"
DEPENDENCIES_REPOSITORY = "localhost/imagecaption-test-dependencies"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Trimmed from the bootstrapped tree: package caches and lists, documentation, translations.
BASE_TRIM = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
)
REPORT = ROOT / "test-artifacts" / "container-image.json"


@dataclass(frozen=True)
class BuiltImage:
    name: str
    size_bytes: int
    build_seconds: float | None
    """None when the image was already there."""


def debian_source() -> tuple[str, str]:
    """(suite, mirror URL) of this machine's Debian, from os-release and apt's sources."""
    release = Path("/etc/os-release")
    fields = (
        dict(line.split("=", 1) for line in release.read_text().splitlines() if "=" in line)
        if release.exists()
        else {}
    )
    suite = fields.get("VERSION_CODENAME", "").strip('"')
    if fields.get("ID", "").strip('"') != "debian" or not suite:
        pytest.skip("the base image is bootstrapped from Debian, and this machine is not Debian")
    return suite, _apt_mirror() or "http://deb.debian.org/debian"


def _apt_mirror() -> str | None:
    sources = Path("/etc/apt/sources.list.d")
    texts = [p.read_text() for p in sorted(sources.glob("*.sources"))] if sources.is_dir() else []
    for text in texts:
        for stanza in text.split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            if uris and "security" not in uris.group(1) and "Types: deb" in stanza:
                return uris.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "security" not in line:
                return next(p for p in parts[1:] if "://" in p)
    return None


def base_image(podman: Podman) -> str:
    """A minimal Debian with python3, imported from a debootstrap tree (minutes, once)."""
    suite, mirror = debian_source()
    recipe = json.dumps([suite, mirror, BASE_PACKAGES, BASE_TRIM])
    name = f"{BASE_REPOSITORY}:{suite}-{_digest(recipe.encode())}"
    if podman.exists("image", name):
        return name
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (Debian: apt-get install debootstrap)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="imagecaption-rootfs-") as tree:
        run_tool(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                suite,
                tree,
                mirror,
            ],
            timeout=900,
        )
        for path in BASE_TRIM:
            for child in (Path(tree) / path).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        archive = subprocess.Popen(["tar", "-C", tree, "-c", "."], stdout=subprocess.PIPE)
        try:
            imported = subprocess.run(
                ["podman", "import", "-", name],
                stdin=archive.stdout,
                env=podman.env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            archive.wait(60)
        if imported.returncode != 0:
            raise EngineError(f"podman import failed:\n{imported.stderr}")
    _remove_other_tags(podman, BASE_REPOSITORY, keep=name)
    record(base=name, base_seconds=round(time.monotonic() - started, 1))
    return name


def record(**values: object) -> None:
    """Adds figures to the report the container tests leave (image size, build times, memory)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    report.update(values)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")


def build_inputs_digest(extra: str) -> str:
    """Hash of every file the Dockerfile copies, the Dockerfile itself and the build options."""
    digest = hashlib.sha256(extra.encode())
    paths = [ROOT / "Dockerfile", ROOT / ".dockerignore", ROOT / "pyproject.toml"]
    paths.append(ROOT / "README.md")
    paths += sorted(
        path
        for path in (ROOT / "src").rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and not any(part.endswith(".egg-info") for part in path.parts)
    )
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def host_ca_bundle() -> Path | None:
    """The CA bundle this machine's pip trusts, for HTTPS through a re-signing proxy."""
    candidates = [os.environ.get(name) for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE")]
    candidates += [pip_config("cert"), os.environ.get("SSL_CERT_FILE")]
    defaults = ssl.get_default_verify_paths()
    candidates += [defaults.cafile, defaults.openssl_cafile]
    # Where Debian and Fedora keep the system bundle (which includes locally added CAs).
    candidates += ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def host_index_args() -> list[str]:
    """The package indexes this machine's pip uses, as build arguments, where a build can reach
    them (an index on the local disk cannot be seen from inside the build)."""
    args = []
    index = os.environ.get("PIP_INDEX_URL") or pip_config("index-url")
    if index and index.startswith(("http://", "https://")):
        args += ["--build-arg", f"PIP_INDEX_URL={index}"]
    extras = os.environ.get("PIP_EXTRA_INDEX_URL") or pip_config("extra-index-url") or ""
    reachable = [url for url in extras.split() if url.startswith(("http://", "https://"))]
    if reachable:
        args += ["--build-arg", f"PIP_EXTRA_INDEX_URL={' '.join(reachable)}"]
    return args


def pip_config(name: str) -> str | None:
    """A value from pip's configuration files (global, user, site), last one wins."""
    files = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf")]
    files += [Path.home() / ".pip" / "pip.conf", Path.home() / ".config" / "pip" / "pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    found = None
    for path in files:
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in ("global", "install"):
            if parser.has_option(section, name):
                found = parser.get(section, name)
    return found


def app_image(
    podman: Podman, base: str, variant: str = "", build_args: list[str] | None = None
) -> BuiltImage:
    """The Dockerfile built on ``base``, or the one built before from the same inputs.
    ``variant`` names another image from it (its own repository, e.g. ``models`` with
    ``EXTRAS=postgres,models`` among ``build_args``), kept beside the default one."""
    index_args = host_index_args() + (build_args or [])
    tag = build_inputs_digest(json.dumps([base, index_args]))[:16]
    suffix = f"-{variant}" if variant else ""
    name = f"{IMAGE_REPOSITORY}{suffix}:{tag}"
    elapsed = None
    if not podman.exists("image", name):
        elapsed = _build(podman, base, index_args, name, suffix)
    size = int(podman.inspect(name, "image")["Size"])
    record(**{f"image{suffix}": name, f"size_mb{suffix}": round(size / 1e6)})
    return BuiltImage(name, size, elapsed)


def _build(podman: Podman, base: str, build_args: list[str], name: str, suffix: str) -> float:
    common = ["build", "--format", "docker", "--network", "host", "--layers"]
    common += ["--build-arg", f"BASE_IMAGE={base}", *build_args]
    bundle = host_ca_bundle()
    if bundle is not None:
        common += ["--secret", f"id=ca_bundle,src={bundle}"]
    started = time.monotonic()
    # The dependency stage is tagged too: its layers then stay when old images are cleared.
    inputs = (ROOT / "pyproject.toml").read_bytes() + json.dumps(build_args).encode()
    dependencies = f"{DEPENDENCIES_REPOSITORY}{suffix}:{_digest(inputs)}"
    podman.run(*common, "--target", "dependencies", "--tag", dependencies, str(ROOT), timeout=1800)
    dependencies_done = time.monotonic()
    podman.run(*common, "--tag", name, str(ROOT), timeout=600)
    elapsed = time.monotonic() - started
    record(
        **{
            f"build_seconds{suffix}": round(elapsed, 1),
            f"dependencies_stage_seconds{suffix}": round(dependencies_done - started, 1),
        }
    )
    _remove_other_tags(podman, IMAGE_REPOSITORY + suffix, keep=name)
    _remove_other_tags(podman, DEPENDENCIES_REPOSITORY + suffix, keep=dependencies)
    _remove_dangling_own_layers(podman)
    return elapsed


def _remove_other_tags(podman: Podman, repository: str, keep: str) -> None:
    listed = podman.run("images", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout
    for name in listed.split():
        if name != keep and name.startswith(repository + ":"):
            podman.run("rmi", name, check=False)


def _remove_dangling_own_layers(podman: Podman) -> None:
    """Intermediate images left by earlier builds of our Dockerfile (they carry its label)."""
    listed = podman.run(
        "images",
        "--quiet",
        "--filter",
        "dangling=true",
        "--filter",
        "label=org.opencontainers.image.title=imagecaption",
    ).stdout
    for image in set(listed.split()):
        podman.run("rmi", image, check=False)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
