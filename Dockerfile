# imagecaption: one replica of the API, with the offline captioner and PostgreSQL support.
#
#   docker build -t imagecaption .                     # or: podman build -t imagecaption .
#
# Build arguments, all optional:
#   BASE_IMAGE           a Debian-based image with python3 and its venv module (default python:3.12-slim)
#   EXTRAS               package extras: "postgres" (default, no torch); "postgres,models" builds the
#                        image for full hub models (torch: add the CPU index below, or get CUDA's GBs)
#   PIP_INDEX_URL        the package index (default PyPI); PIP_EXTRA_INDEX_URL, more indexes, e.g.
#                        https://download.pytorch.org/whl/cpu for EXTRAS=postgres,models
# Behind a proxy that re-signs HTTPS, hand pip your CA bundle as a build secret (never stored in
# a layer):
#   docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt -t imagecaption .

ARG BASE_IMAGE=python:3.12-slim

# Stage 1: the dependencies, in a virtual environment, from pyproject.toml alone, so that a change
# to the code (or the README) does not download them again.
FROM ${BASE_IMAGE} AS dependencies
LABEL org.opencontainers.image.title=imagecaption
ARG EXTRAS=postgres
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_EXTRA_INDEX_URL=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_INDEX_URL=${PIP_INDEX_URL} \
    PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}
WORKDIR /build
RUN python3 -m venv /opt/imagecaption
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && mkdir -p src/imagecaption && echo '__version__ = "0"' > src/imagecaption/__init__.py \
    && touch README.md \
    && /opt/imagecaption/bin/pip install "setuptools>=69" ".[${EXTRAS}]" \
    && /opt/imagecaption/bin/pip uninstall --yes imagecaption \
    && rm -rf src README.md

# Stage 2: the package itself.
FROM dependencies AS package
COPY README.md ./
COPY src ./src
# No build isolation: the build backend is already in the venv, so this step needs no network.
# Then the installers go: the runtime image needs neither pip nor setuptools.
RUN /opt/imagecaption/bin/pip install --no-deps --no-build-isolation . \
    && /opt/imagecaption/bin/pip uninstall --yes setuptools pip

# Stage 3: what runs: the base image and the virtual environment, no compiler, no installer, no
# cache.
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title=imagecaption \
      org.opencontainers.image.description="Self-hostable, drop-in compatible image captioning API" \
      org.opencontainers.image.licenses=Apache-2.0
ENV PATH=/opt/imagecaption/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IMAGECAPTION_HOST=0.0.0.0 \
    IMAGECAPTION_PORT=8000 \
    IMAGECAPTION_DATA_DIR=/data \
    HF_HOME=/data/hub
# A numeric user, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
RUN groupadd --gid 10001 imagecaption \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin \
        imagecaption \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=package /opt/imagecaption /opt/imagecaption
USER 10001:10001
WORKDIR /data
# The account database (SQLite, when no database_url is set), the web sessions' secret and the
# model cache (full models) live here: keep it across restarts.
VOLUME ["/data"]
EXPOSE 8000

# /healthz answers as soon as the server listens; readiness (/readyz) is for orchestrators.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; port = os.environ.get('IMAGECAPTION_PORT', '8000'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]

# SIGTERM (docker stop, Kubernetes) stops accepting connections and finishes in-flight calls.
STOPSIGNAL SIGTERM
CMD ["imagecaption", "serve"]
