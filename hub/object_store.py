"""The local object store the embedded broker keeps its log in, so ``hub up`` is durable.

The embedded broker (Tansu) keeps its log in memory or in an S3 bucket; it has no file
engine. So a durable embedded broker is pointed at this: the part of the S3 API it uses
(objects put, got, ranged, headed, listed, copied, deleted; conditional puts), served on
loopback from files under ``HUB_DATA_DIR/log``.

Why our own and not an S3 emulator from a registry: the one measured (s3rver 3.7.1, npm)
writes an object in place, so a broker killed mid-PUT left a 0-byte record batch behind
that the broker could not read past: after ``kill -9`` every acknowledged record of that
partition became unreadable. Here an object becomes visible only whole — written to a
temporary file, then renamed over the key — so a crash at any moment leaves the old object
or the new one, never a torn one; a PUT answers 200 only after the rename. Conditional
puts (``If-Match``/``If-None-Match``) are honoured under one lock, as S3 does, so the
broker's read-modify-write of its metadata cannot interleave.
"""

from __future__ import annotations

import bisect
import contextlib
import email.utils
import errno
import hashlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import structlog

__all__ = ["BUCKET", "LocalObjectStore"]

log = structlog.get_logger(__name__)

BUCKET = "hub"
_TEMPORARY = ".partial-"  # in-flight writes; never listed, never served
_XML = "application/xml"


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


class _Objects:
    """Keys as files under ``root``; every write is a whole-file rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()  # conditional puts and deletes check-then-act
        self.failing: int | None = None  # the errno writes fail with, while they do
        self._etags: dict[str, str] = {}
        self._folders: dict[str, list[str]] = {}  # folder -> sorted files and "subfolders/"
        self._stats: dict[str, tuple[int, float]] = {}  # key -> (size, mtime)
        self.index_lock = threading.RLock()

    def failed(self, exc: OSError) -> None:
        """One line when writes start failing (a full disk), not one per write."""
        if self.failing != exc.errno:
            self.failing = exc.errno
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
            log.error(
                "the log cannot be written; producing fails until it can, nothing is lost",
                directory=str(self.root),
                reason=reason,
            )

    def recovered(self) -> None:
        if self.failing is not None:
            self.failing = None
            log.warning("the log can be written again", directory=str(self.root))

    def path(self, key: str) -> Path:
        target = (self.root / key).resolve()
        if self.root.resolve() not in target.parents or _TEMPORARY in target.name:
            raise KeyError(key)
        return target

    def read(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def etag(self, key: str, data: bytes | None = None) -> str:
        """The object's ETag, remembered: this process is the store's only writer."""
        tag = self._etags.get(key)
        if tag is None:
            tag = _etag(data if data is not None else self.path(key).read_bytes())
            self._etags[key] = tag
        return tag

    def write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{_TEMPORARY}{target.name}.{uuid.uuid4().hex}")
        try:
            with partial.open("wb") as handle:
                handle.write(data)
            os.replace(partial, target)
        except OSError:
            partial.unlink(missing_ok=True)  # a full disk, a folder in the way: nothing left
            raise
        self._etags[key] = _etag(data)
        with self.index_lock:
            self._indexed(key, len(data))

    def delete(self, key: str) -> None:
        self._etags.pop(key, None)
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()
        with self.index_lock:
            self._indexed(key, None)

    def keys(self, prefix: str, after: str = "") -> Iterator[tuple[str, int, float]]:
        """(key, size, mtime) of every key starting with ``prefix`` and past ``after``, in
        S3's (byte) order, from an in-memory index of the folders (this process is the
        store's only writer): the broker lists a partition's batches on every fetch, so a
        listing must not walk, sort and stat the folder each time."""
        folder = prefix.rpartition("/")[0]
        yield from self._walk(folder, prefix, after)

    def _walk(self, folder: str, prefix: str, after: str) -> Iterator[tuple[str, int, float]]:
        entries = self._entries(folder)
        base = f"{folder}/" if folder else ""
        lower = after[len(base) :] if after.startswith(base) else ""
        start = bisect.bisect_right(entries, lower) if lower else 0
        if start and lower and not lower.endswith("/"):  # ``after`` may lie inside a folder
            inside = lower.split("/", 1)[0] + "/"
            position = bisect.bisect_left(entries, inside)
            if position < len(entries) and entries[position] == inside:
                start = min(start, position)
        for entry in entries[start:]:
            key = base + entry
            if entry.endswith("/"):
                if key.startswith(prefix) or prefix.startswith(key):
                    yield from self._walk(key[:-1], prefix, after)
                elif key > prefix:
                    return
                continue
            if key.startswith(prefix) and key > after:
                size, mtime = self._stats[key]
                yield key, size, mtime
            elif key > prefix and not key.startswith(prefix):
                return

    def _entries(self, folder: str) -> list[str]:
        """A folder's files and subfolders (``name/``), sorted, loaded once."""
        entries = self._folders.get(folder)
        if entries is None:
            path = self.root / folder if folder else self.root
            entries = []
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                for item in os.scandir(path):
                    if item.name.startswith(_TEMPORARY):
                        continue
                    if item.is_dir():
                        entries.append(item.name + "/")
                    else:
                        stat = item.stat()
                        key = f"{folder}/{item.name}" if folder else item.name
                        self._stats[key] = (stat.st_size, stat.st_mtime)
                        entries.append(item.name)
            entries.sort()
            self._folders[folder] = entries
        return entries

    def _indexed(self, key: str, size: int | None) -> None:
        """Keep the index in step with a write (``size``) or a delete (None)."""
        folder, _, name = key.rpartition("/")
        if folder not in self._folders:  # not loaded yet: it will be read from disk
            if size is not None:
                self._stats[key] = (size, time.time())
                self._add_folder(folder)
            return
        entries = self._folders[folder]
        position = bisect.bisect_left(entries, name)
        present = position < len(entries) and entries[position] == name
        if size is None:
            self._stats.pop(key, None)
            if present:
                del entries[position]
            return
        self._stats[key] = (size, time.time())
        if not present:
            entries.insert(position, name)
        self._add_folder(folder)

    def _add_folder(self, folder: str) -> None:
        """Make every loaded ancestor list the folder chain down to ``folder``."""
        while folder:
            parent, _, name = folder.rpartition("/")
            entries = self._folders.get(parent)
            if entries is not None:
                position = bisect.bisect_left(entries, name + "/")
                if position < len(entries) and entries[position] == name + "/":
                    return  # known already, and so are the folders above it
                entries.insert(position, name + "/")
            folder = parent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    objects: _Objects  # set on the subclass the store makes

    def log_message(self, *args: object) -> None:  # the broker's requests are not news
        pass

    # --- plumbing ---------------------------------------------------------------------

    def _target(self) -> tuple[str, str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        return bucket, key, parse_qs(parts.query, keep_blank_values=True)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def _error(self, status: int, code: str, *, head: bool = False) -> None:
        body = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
        self._reply(status, body, {"Content-Type": _XML}, head=head)

    def _known_bucket(self, bucket: str, *, head: bool = False) -> bool:
        if bucket == BUCKET:
            return True
        self._error(404, "NoSuchBucket", head=head)
        return False

    # --- verbs --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _get(self, *, head: bool) -> None:
        bucket, key, query = self._target()
        if not self._known_bucket(bucket, head=head):
            return
        if not key:
            if head:
                self._reply(200, head=True)
            else:
                self._list(query)
            return
        try:
            data = self.objects.read(key)
        except KeyError:
            self._error(400, "InvalidArgument", head=head)
            return
        if data is None:
            self._error(404, "NoSuchKey", head=head)
            return
        tag = self.objects.etag(key, data)
        wanted = self.headers.get("If-Match")
        if wanted and wanted not in ("*", tag):
            self._error(412, "PreconditionFailed", head=head)
            return
        if self.headers.get("If-None-Match") in ("*", tag):
            self._reply(304, head=True)
            return
        modified = email.utils.formatdate(self.objects.path(key).stat().st_mtime, usegmt=True)
        headers = {"ETag": tag, "Last-Modified": modified, "Accept-Ranges": "bytes"}
        ranged = self.headers.get("Range")
        if ranged and ranged.startswith("bytes="):
            first, _, last = ranged[6:].partition("-")
            if first == "":  # the last N bytes
                start, end = max(0, len(data) - int(last)), len(data) - 1
            else:
                start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
            if start >= len(data) or start > end:
                self._error(416, "InvalidRange", head=head)
                return
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            self._reply(206, data[start : end + 1], headers, head=head)
            return
        self._reply(200, data, {**headers, "Content-Length": str(len(data))}, head=head)

    def _list(self, query: dict[str, list[str]]) -> None:
        """ListObjectsV2, with prefix, delimiter, start-after and continuation tokens."""
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [""])[0]
        after = query.get("continuation-token", query.get("start-after", [""]))[0]
        limit = int(query.get("max-keys", ["1000"])[0])
        contents: list[str] = []
        prefixes: list[str] = []
        last, truncated = "", False
        with self.objects.index_lock:
            found = self.objects.keys(prefix, after)
            listed = list(found if delimiter else itertools.islice(found, limit + 1))
        for key, size, mtime in listed:
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common not in prefixes:
                        if len(contents) + len(prefixes) >= limit:
                            truncated = True
                            break
                        prefixes.append(common)
                    last = key
                    continue
            if len(contents) + len(prefixes) >= limit:
                truncated = True
                break
            contents.append(
                "<Contents>"
                f"<Key>{escape(key)}</Key>"
                f"<LastModified>{_iso(mtime)}</LastModified>"
                f"<ETag>{escape(self.objects.etag(key))}</ETag>"
                f"<Size>{size}</Size><StorageClass>STANDARD</StorageClass>"
                "</Contents>"
            )
            last = key
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{BUCKET}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
            + (f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "")
            + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
            + (
                f"<NextContinuationToken>{escape(last)}</NextContinuationToken>"
                if truncated
                else ""
            )
            + "".join(contents)
            + "".join(
                f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes
            )
            + "</ListBucketResult>"
        ).encode()
        self._reply(200, body, {"Content-Type": _XML})

    def do_PUT(self) -> None:
        bucket, key, _ = self._target()
        data = self._body()
        if not self._known_bucket(bucket):
            return
        if not key:
            self._reply(200)  # the bucket exists already
            return
        source = self.headers.get("x-amz-copy-source")
        with self.objects.lock:
            try:
                current = self.objects.read(key)
                if source is not None:
                    _, _, from_key = unquote(source).lstrip("/").partition("/")
                    copied = self.objects.read(from_key)
                    if copied is None:
                        self._error(404, "NoSuchKey")
                        return
                    data = copied
                wanted = self.headers.get("If-Match")
                if wanted and (current is None or wanted not in ("*", self.objects.etag(key))):
                    self._error(412, "PreconditionFailed")
                    return
                if self.headers.get("If-None-Match") == "*" and current is not None:
                    self._error(412, "PreconditionFailed")
                    return
                self.objects.write(key, data)
            except KeyError:
                self._error(400, "InvalidArgument")
                return
            except OSError as exc:
                self.objects.failed(exc)
                self._error(507 if exc.errno == errno.ENOSPC else 500, "InternalError")
                return
            self.objects.recovered()
        tag = _etag(data)
        if source is not None:
            body = (
                f"<CopyObjectResult><ETag>{escape(tag)}</ETag>"
                f"<LastModified>{_iso(None)}</LastModified></CopyObjectResult>"
            ).encode()
            self._reply(200, body, {"Content-Type": _XML, "ETag": tag})
        else:
            self._reply(200, headers={"ETag": tag})

    def do_DELETE(self) -> None:
        bucket, key, _ = self._target()
        if not self._known_bucket(bucket):
            return
        with self.objects.lock:
            try:
                self.objects.delete(key)
            except KeyError:
                self._error(400, "InvalidArgument")
                return
        self._reply(204)

    def do_POST(self) -> None:
        """DeleteObjects (``?delete``), which the broker uses to drop a deleted topic;
        multipart uploads it does not use."""
        bucket, key, query = self._target()
        body = self._body()
        if not self._known_bucket(bucket):
            return
        if key or "delete" not in query:
            self._error(501, "NotImplemented")
            return
        try:
            keys = [
                (node.text or "")
                for node in ElementTree.fromstring(body).iter()
                if node.tag.rsplit("}", 1)[-1] == "Key"
            ]
        except ElementTree.ParseError:
            self._error(400, "MalformedXML")
            return
        deleted = []
        with self.objects.lock:
            for name in keys:
                try:
                    self.objects.delete(name)
                    deleted.append(f"<Deleted><Key>{escape(name)}</Key></Deleted>")
                except KeyError:
                    continue
        answer = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            + "".join(deleted)
            + "</DeleteResult>"
        ).encode()
        self._reply(200, answer, {"Content-Type": _XML})


def _iso(stamp: float | None) -> str:
    moment = time.gmtime(stamp)
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", moment)


class LocalObjectStore:
    """The store on a loopback port, objects under ``directory``, for the ``with`` block."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = port

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the object store is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def environment(self) -> dict[str, str]:
        """What the broker needs to reach the bucket: plain HTTP on loopback, any keys."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": "hub",
            "AWS_SECRET_ACCESS_KEY": "hub-local",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def start(self) -> LocalObjectStore:
        bucket = self.directory / BUCKET
        bucket.mkdir(parents=True, exist_ok=True)
        for folder, _, files in os.walk(bucket):  # writes a crash cut short
            for name in files:
                if name.startswith(_TEMPORARY):
                    os.unlink(os.path.join(folder, name))
        handler = type("Handler", (_Handler,), {"objects": _Objects(bucket)})
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="object-store", daemon=True
        )
        self._thread.start()
        log.info("object store ready", directory=str(self.directory))
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> LocalObjectStore:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
