# imagecaption: one replica of the API. Build: docker build -t imagecaption .
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    IMAGECAPTION_HOST=0.0.0.0 \
    IMAGECAPTION_PORT=8000 \
    IMAGECAPTION_DATA_DIR=/data \
    HF_HOME=/data/hub

WORKDIR /app
# torch from the PyTorch CPU index first: the default wheel would pull in CUDA (several GB).
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[postgres,models]"

RUN useradd --create-home --uid 10001 imagecaption \
    && mkdir -p /data \
    && chown imagecaption /data
USER imagecaption
# Model cache and (with SQLite) the account database live here; keep it across restarts.
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

CMD ["imagecaption", "serve"]
