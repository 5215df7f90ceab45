"""The loopback object store the durable log lives in: S3's answers, whole objects only."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.object_store import BUCKET, LocalObjectStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalObjectStore]:
    with LocalObjectStore(tmp_path / "log") as running:
        yield running


def url(store: LocalObjectStore, key: str = "", query: str = "") -> str:
    return f"{store.endpoint}/{BUCKET}/{key}" + (f"?{query}" if query else "")


def test_objects_are_put_read_whole_or_by_range_headed_and_deleted(
    store: LocalObjectStore,
) -> None:
    """A put object reads back byte for byte, by range and by HEAD with its ETag; a deleted
    or unknown key is a 404 NoSuchKey, an unknown bucket a 404 NoSuchBucket."""
    put = requests.put(url(store, "a/b/0001.batch"), data=b"0123456789", timeout=5)
    assert put.status_code == 200 and put.headers["ETag"].startswith('"')
    got = requests.get(url(store, "a/b/0001.batch"), timeout=5)
    assert got.content == b"0123456789" and got.headers["ETag"] == put.headers["ETag"]
    part = requests.get(url(store, "a/b/0001.batch"), headers={"Range": "bytes=2-4"}, timeout=5)
    assert part.status_code == 206 and part.content == b"234"
    assert part.headers["Content-Range"] == "bytes 2-4/10"
    head = requests.head(url(store, "a/b/0001.batch"), timeout=5)
    assert head.status_code == 200 and head.headers["Content-Length"] == "10"
    assert requests.delete(url(store, "a/b/0001.batch"), timeout=5).status_code == 204
    missing = requests.get(url(store, "a/b/0001.batch"), timeout=5)
    assert missing.status_code == 404 and b"NoSuchKey" in missing.content
    other = requests.get(f"{store.endpoint}/other/x", timeout=5)
    assert other.status_code == 404 and b"NoSuchBucket" in other.content


def test_conditional_puts_hold_under_concurrent_writers(store: LocalObjectStore) -> None:
    """If-None-Match: * creates only once; If-Match with a stale ETag is refused (412), so
    of many read-modify-write rounds racing on one key, exactly one wins each version."""
    first = requests.put(url(store, "meta.json"), data=b"v0", headers={"If-None-Match": "*"})
    assert first.status_code == 200
    again = requests.put(url(store, "meta.json"), data=b"x", headers={"If-None-Match": "*"})
    assert again.status_code == 412
    wins: list[int] = []

    def writer(n: int) -> None:
        current = requests.get(url(store, "meta.json"), timeout=5)
        answer = requests.put(
            url(store, "meta.json"),
            data=f"v{n}".encode(),
            headers={"If-Match": current.headers["ETag"]},
            timeout=5,
        )
        if answer.status_code == 200:
            wins.append(n)
        else:
            assert answer.status_code == 412

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) >= 1
    final = requests.get(url(store, "meta.json"), timeout=5).content
    assert final == f"v{wins[-1]}".encode()


def test_listing_pages_by_token_and_groups_by_delimiter(store: LocalObjectStore) -> None:
    """ListObjectsV2: keys under a prefix in order, max-keys pages with a continuation
    token, and a delimiter folds deeper keys into common prefixes."""
    for key in ("t/p0/r/0001", "t/p0/r/0002", "t/p0/watermark.json", "t/p1/r/0001", "u/x"):
        requests.put(url(store, key), data=b"x", timeout=5)
    page = requests.get(url(store, query="list-type=2&prefix=t/&max-keys=2"), timeout=5).text
    assert re.findall(r"<Key>([^<]+)</Key>", page) == ["t/p0/r/0001", "t/p0/r/0002"]
    token = re.search(r"<NextContinuationToken>([^<]+)<", page)
    assert token is not None and "<IsTruncated>true</IsTruncated>" in page
    rest = requests.get(
        url(store, query=f"list-type=2&prefix=t/&continuation-token={token.group(1)}"), timeout=5
    ).text
    assert re.findall(r"<Key>([^<]+)</Key>", rest) == ["t/p0/watermark.json", "t/p1/r/0001"]
    folded = requests.get(url(store, query="list-type=2&prefix=t/&delimiter=/"), timeout=5).text
    assert re.findall(r"<Prefix>([^<]+)</Prefix>", folded)[1:] == ["t/p0/", "t/p1/"]


def test_a_write_cut_short_by_a_crash_is_never_seen(tmp_path: Path) -> None:
    """A partial file left by a crash mid-write is neither listed nor served, and is
    cleared when the store starts; the object it was replacing is still there whole."""
    root = tmp_path / "log"
    with LocalObjectStore(root) as store:
        requests.put(url(store, "t/0001.batch"), data=b"whole batch", timeout=5)
    torn = root / BUCKET / "t" / ".partial-0001.batch.deadbeef"
    torn.write_bytes(b"who")
    with LocalObjectStore(root) as store:
        assert not torn.exists()
        listed = requests.get(url(store, query="list-type=2&prefix=t/"), timeout=5).text
        assert re.findall(r"<Key>([^<]+)</Key>", listed) == ["t/0001.batch"]
        assert requests.get(url(store, "t/0001.batch"), timeout=5).content == b"whole batch"


def test_keys_cannot_escape_the_bucket(store: LocalObjectStore, tmp_path: Path) -> None:
    """A key with .. that would resolve outside the store's folder is refused."""
    answer = requests.put(url(store, "a/../../../escape"), data=b"x", timeout=5)
    assert answer.status_code in (400, 404)
    assert not (tmp_path / "escape").exists()


def test_a_batch_delete_removes_every_named_key(store: LocalObjectStore) -> None:
    """POST ?delete with an XML list of keys (how the broker drops a deleted topic) deletes
    them all and says which; keys not named stay."""
    for key in ("t/a", "t/b", "t/c"):
        requests.put(url(store, key), data=b"x", timeout=5)
    body = (
        '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<Object><Key>t/a</Key></Object><Object><Key>t/b</Key></Object></Delete>"
    )
    answer = requests.post(url(store, query="delete"), data=body, timeout=5)
    assert answer.status_code == 200
    assert re.findall(r"<Deleted><Key>([^<]+)</Key>", answer.text) == ["t/a", "t/b"]
    listed = requests.get(url(store, query="list-type=2&prefix=t/"), timeout=5).text
    assert re.findall(r"<Key>([^<]+)</Key>", listed) == ["t/c"]


@settings(max_examples=40, deadline=None)
@given(
    keys=st.lists(
        st.lists(
            st.sampled_from(["a", "b", "a-b", "0001", "0002.batch", "z"]), min_size=1, max_size=4
        ).map("/".join),
        min_size=1,
        max_size=25,
        unique=True,
    ),
    deleted=st.integers(0, 5),
    prefix=st.sampled_from(["", "a", "a/", "a-b/", "b/0", "z/a/"]),
    after=st.sampled_from(["", "a", "a/a", "a-b/0001", "b/z", "zz"]),
)
def test_the_listing_index_lists_what_a_walk_of_the_folder_would(
    tmp_path_factory: pytest.TempPathFactory,
    keys: list[str],
    deleted: int,
    prefix: str,
    after: str,
) -> None:
    """Whatever was written and deleted, listing from the in-memory index gives the keys
    under the prefix past ``after`` in byte order, exactly as sorting the files would."""
    from hub.object_store import _Objects

    root = tmp_path_factory.mktemp("index")
    objects = _Objects(root)
    list(objects.keys("", ""))  # the root is indexed before the writes, as in a running store
    written = []
    for key in keys:
        try:
            objects.write(key, b"x")
            written.append(key)
        except (OSError, KeyError):  # a key that is also a folder: not storable, as in S3
            continue
    for key in written[:deleted]:
        objects.delete(key)
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    expected = [k for k in on_disk if k.startswith(prefix) and k > after]
    assert [k for k, _, _ in objects.keys(prefix, after)] == expected
    fresh = _Objects(root)  # and the same from an index loaded off the disk
    assert [k for k, _, _ in fresh.keys(prefix, after)] == expected


def test_a_full_disk_fails_writes_cleanly_and_says_so_once(
    store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no space left, every write answers 507 and the object before it stays whole; the
    log says so once when writes start failing and once when they work again."""
    import errno
    import os as real_os

    assert requests.put(url(store, "t/w.json"), data=b"before", timeout=5).status_code == 200
    original = real_os.replace

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("hub.object_store.os.replace", full)
    for _ in range(3):
        answer = requests.put(url(store, "t/w.json"), data=b"after", timeout=5)
        assert answer.status_code == 507
    assert requests.get(url(store, "t/w.json"), timeout=5).content == b"before"
    monkeypatch.setattr("hub.object_store.os.replace", original)
    assert requests.put(url(store, "t/w.json"), data=b"after", timeout=5).status_code == 200
    said = capsys.readouterr().out + capsys.readouterr().err
    assert said.count("the log cannot be written") == 1 and "the disk is full" in said
    assert said.count("the log can be written again") == 1
    leftovers = [p for p in store.directory.rglob("*") if ".partial-" in p.name]
    assert leftovers == []
