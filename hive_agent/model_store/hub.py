"""Fetch files of one Hugging Face hub repository into a folder, resumably and verified.

All transfers go through huggingface_hub, which honours `HF_ENDPOINT`, retries and shows a
progress bar per file. Each file is written to `<name>.incomplete`, kept across runs so that a
rerun resumes it with a Range request, and renamed to its name only once its size and checksum
match the hub's metadata (sha256 for LFS files, the git blob sha1 for the others).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import httpx2  # huggingface_hub's HTTP library: its transport errors mean "endpoint unreachable"
from huggingface_hub import HfApi, constants, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import build_hf_headers

from ..errors import HiveError

API_TIMEOUT_S = 10.0


class DownloadError(HiveError):
    """The hub could not be reached, or sent a file that failed verification."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # LFS files
    git_sha1: str | None  # the others


@dataclass(frozen=True)
class Snapshot:
    """One repository at one commit, on one endpoint."""

    endpoint: str
    repo_id: str
    commit: str
    files: dict[str, RemoteFile]

    @property
    def source(self) -> str:
        return f"{self.endpoint}/{self.repo_id}@{self.commit[:12]}"


def endpoint_or_default(endpoint: str | None) -> str:
    return (endpoint or constants.ENDPOINT).rstrip("/")


def unreachable(endpoint: str, error: Exception) -> DownloadError:
    return DownloadError(f"cannot reach the model hub at {endpoint} ({error.__class__.__name__}: {error})\n"
                         "  fix: check the address and the network, or pass --endpoint URL "
                         "(or set HF_ENDPOINT) to a reachable mirror")


def open_snapshot(endpoint: str, repo_id: str, revision: str = "main") -> Snapshot:
    """The commit and file list of `repo_id`; RepositoryNotFoundError passes through."""
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, files_metadata=True,
                                                   timeout=API_TIMEOUT_S)
    except RepositoryNotFoundError:
        raise
    except (httpx2.TransportError, HfHubHTTPError) as error:
        raise unreachable(endpoint, error) from error
    files = {s.rfilename: RemoteFile(s.rfilename, s.lfs.size if s.lfs else s.size,
                                     s.lfs.sha256 if s.lfs else None, None if s.lfs else s.blob_id)
             for s in info.siblings or []}
    return Snapshot(endpoint, repo_id, info.sha, files)


def fetch(snapshot: Snapshot, paths: list[str], folder: Path) -> None:
    """Download `paths` of the snapshot into `folder/<basename>`; skip the ones already verified."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        remote = snapshot.files[path]
        target = folder / Path(path).name
        if target.is_file() and target.stat().st_size == remote.size:
            continue  # renamed into place only after verification
        partial = target.with_name(target.name + ".incomplete")
        if partial.is_file() and partial.stat().st_size > remote.size:
            partial.unlink()  # left from another revision of the file
        url = hf_hub_url(snapshot.repo_id, path, revision=snapshot.commit, endpoint=snapshot.endpoint)
        try:
            with partial.open("ab") as out:
                http_get(url, out, resume_size=out.tell(), headers=build_hf_headers(),
                         expected_size=remote.size, displayed_filename=Path(path).name)
        except (httpx2.TransportError, HfHubHTTPError) as error:
            raise unreachable(snapshot.endpoint, error) from error
        except OSError as error:  # huggingface_hub's size consistency check, or a full disk
            partial.unlink(missing_ok=True)
            raise DownloadError(f"download of {path} from {snapshot.source} failed ({error}); rerun to retry") \
                from error
        verify(partial, remote, snapshot)
        os.replace(partial, target)


def verify(path: Path, remote: RemoteFile, snapshot: Snapshot) -> None:
    """Size and checksum against the hub's metadata; a mismatching file is deleted."""
    size = path.stat().st_size
    if remote.sha256:
        digest, expected = _digest(path, hashlib.sha256()), remote.sha256
    else:
        digest, expected = _digest(path, hashlib.sha1(f"blob {size}\0".encode())), remote.git_sha1
    if size != remote.size or digest != expected:
        path.unlink()
        raise DownloadError(f"{remote.path} from {snapshot.source} failed verification "
                            f"(size {size}, checksum {digest}; the hub lists size {remote.size}, "
                            f"checksum {expected}); the file was deleted\n"
                            "  fix: rerun to download it again; if it fails again, the mirror serves a "
                            "corrupted copy")


def _digest(path: Path, hasher) -> str:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            hasher.update(block)
    return hasher.hexdigest()
