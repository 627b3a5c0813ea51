"""A loopback Hugging Face hub mirror for the download tests.

It speaks the part of the hub's HTTP API that huggingface_hub uses to download: model info with
file metadata (`GET /api/models/{repo}/revision/{rev}?blobs=True`) and file content
(`GET|HEAD /{repo}/resolve/{rev}/{path}`, with ETag, X-Repo-Commit, Content-Length and Range).
Files larger than 1 MB or with a weights suffix are listed as LFS files (sha256), the others by
their git blob sha1, as on the hub. Tests can make it corrupt a file, hold a file mid-download, and
read which requests it got.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CHUNK = 1 << 20
_LFS_SUFFIXES = (".bin", ".onnx", ".safetensors", ".spm")


@dataclass
class _File:
    source: Path
    size: int
    sha256: str
    git_sha1: str

    @classmethod
    def of(cls, source: Path) -> "_File":
        data = source.read_bytes()
        return cls(source, len(data), hashlib.sha256(data).hexdigest(),
                   hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())

    @property
    def lfs(self) -> bool:
        return self.size > CHUNK or self.source.name.endswith(_LFS_SUFFIXES)

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.git_sha1


@dataclass
class HubMirror:
    repos: dict[str, dict[str, _File]] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)       # file names served with one byte changed
    stall: dict[str, int] = field(default_factory=dict)  # file name -> bytes sent before pausing
    released: threading.Event = field(default_factory=threading.Event)  # ends every pause
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range

    def add_repo(self, repo_id: str, files: dict[str, Path]) -> None:
        self.repos[repo_id] = {path: _File.of(Path(source)) for path, source in files.items()}

    def start(self) -> str:
        mirror = self

        class Handler(_Handler):
            hub = mirror

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def file_requests(self, name: str) -> list[str | None]:
        """The Range header of every GET of a file called `name`."""
        return [rng for method, path, rng in self.requests if method == "GET" and path.endswith("/" + name)]


_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/?]+))?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


class _Handler(BaseHTTPRequestHandler):
    hub: HubMirror
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = self.path.split("?")[0]
        self.hub.requests.append((self.command, path, self.headers.get("Range")))
        if match := _INFO.match(path):
            return self._info(match["repo"])
        if (match := _RESOLVE.match(path)) and match["repo"] in self.hub.repos:
            entry = self.hub.repos[match["repo"]].get(match["path"])
            if entry is not None:
                return self._file(match["path"], entry, body)
            return self._error(404, "EntryNotFound")
        return self._error(404, "RepoNotFound")

    def _info(self, repo: str) -> None:
        files = self.hub.repos.get(repo)
        if files is None:
            return self._error(404, "RepoNotFound")
        siblings = [{"rfilename": path, "size": f.size, "blobId": f.git_sha1,
                     **({"lfs": {"sha256": f.sha256, "size": f.size, "pointerSize": 130}} if f.lfs else {})}
                    for path, f in files.items()]
        self._json({"id": repo, "modelId": repo, "sha": COMMIT, "private": False, "siblings": siblings})

    def _file(self, path: str, entry: _File, body: bool) -> None:
        data = entry.source.read_bytes()
        name = Path(path).name
        if name in self.hub.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        if (rng := self.headers.get("Range")) and (m := re.match(r"bytes=(\d+)-$", rng)):
            start = int(m[1])
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{entry.etag}"')
        self.send_header("X-Repo-Commit", COMMIT)
        if entry.lfs:
            self.send_header("X-Linked-Etag", f'"{entry.sha256}"')
            self.send_header("X-Linked-Size", str(entry.size))
        self.end_headers()
        if not body:
            return
        stall = self.hub.stall.get(name)
        for offset in range(start, len(data), CHUNK):
            if stall is not None and offset >= stall:
                self.hub.released.wait(timeout=60)  # a download held mid-file, whatever the load
                stall = None
            self.wfile.write(data[offset:offset + CHUNK])

    def _json(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str) -> None:
        data = json.dumps({"error": code}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
