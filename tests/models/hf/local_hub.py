"""A model hub on 127.0.0.1 that speaks the part of the hub's HTTP API that downloads use.

The real hub cannot be reached where the tests run, but ``huggingface_hub`` itself can: pointed at
this server with ``HF_ENDPOINT``, the same client code that users run lists the repository, asks
for each file's metadata and downloads it into the standard cache, with its progress bars.
Requests are recorded so tests can see what was (and was not) fetched.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class LocalHub:
    url: str
    repos: dict[str, dict[str, bytes]]
    requests: list[tuple[str, str]] = field(default_factory=list)

    def fetched(self) -> set[str]:
        """Files whose bytes were sent (GET on a resolve URL)."""
        return {path.rsplit("/", 1)[-1] for method, path in self.requests if method == "GET"}


def repo_from_folder(folder: Path, extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    return {**files, **(extra or {})}


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@contextmanager
def local_hub(repos: dict[str, dict[str, bytes]]) -> Iterator[LocalHub]:
    hub = LocalHub("", repos)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            path = unquote(self.path.split("?", 1)[0])
            hub.requests.append((self.command, path))
            if path.startswith("/api/models/"):
                self._repo_info(path.removeprefix("/api/models/"), body)
            elif "/resolve/" in path:
                repo, rest = path.lstrip("/").split("/resolve/", 1)
                self._file(repo, rest.split("/", 1)[1], body)
            elif path == "/":
                self._send(200, b"", {}, body)
            else:
                self._send(404, b"{}", {}, body)

        def _repo_info(self, rest: str, body: bool) -> None:
            repo = rest.split("/revision/", 1)[0].split("/tree/", 1)[0]
            if repo not in hub.repos:
                self._send(404, b'{"error": "Repository not found"}', {}, body)
                return
            if "/tree/" in rest:  # the file listing snapshot_download walks
                files = sorted(hub.repos[repo].items())
                tree = [
                    {"type": "file", "path": name, "size": len(data), "oid": _sha(data)}
                    for name, data in files
                ]
                self._send(200, json.dumps(tree).encode(), {}, body)
                return
            info = {
                "id": repo,
                "modelId": repo,
                "sha": COMMIT,
                "private": False,
                "siblings": [{"rfilename": name} for name in sorted(hub.repos[repo])],
            }
            self._send(200, json.dumps(info).encode(), {}, body)

        def _file(self, repo: str, name: str, body: bool) -> None:
            content = hub.repos.get(repo, {}).get(name)
            if content is None:
                self._send(404, b"{}", {"X-Error-Code": "EntryNotFound"}, body)
                return
            headers = {
                "X-Repo-Commit": COMMIT,
                "ETag": f'"{_sha(content)}"',
            }
            self._send(200, content, headers, body)

        def _send(self, status: int, content: bytes, headers: dict[str, str], body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(content)))
            self.send_header("Content-Type", "application/octet-stream")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(content)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
