"""The orphan sweep's store side (registry_model/model/blob_gc.py): one listing with sizes and
times, the age of an old file read again after the records, and one batch removal."""
from registry_model.blobstore import InMemoryBlobStore
from registry_model.model import blob_gc


class CountingStore(InMemoryBlobStore):
    """Counts the calls a sweep makes; ``stale`` makes the listing show older times."""

    def __init__(self, clock) -> None:
        super().__init__(clock=clock)
        self.calls = []
        self.stale = 0

    def list_blobs(self):
        self.calls.append("list_blobs")
        self.listing = True  # the listing's own reads are one call, as on S3
        entries = list(super().list_blobs())
        self.listing = False
        for digest, size, when in entries:
            yield digest, size, when - self.stale

    def last_modified(self, digest):
        if not getattr(self, "listing", False):
            self.calls.append("last_modified")
        return super().last_modified(digest)

    def remove(self, digest):
        self.calls.append("remove")
        return super().remove(digest)

    def remove_many(self, digests):
        self.calls.append("remove_many")
        return super().remove_many(digests)


def test_the_sweep_lists_once_and_removes_in_one_batch(initialized_db):
    clock = [1_000_000.0]
    store = CountingStore(lambda: clock[0])
    orphans = [store.put(b"orphan %d" % index).digest for index in range(5)]
    clock[0] += 7200
    recent = store.put(b"recent").digest
    store.calls.clear()
    counts = blob_gc.sweep_orphan_blobs(store, grace_s=3600, now=int(clock[0]))
    assert (counts["orphan_files"], counts["recent_files"]) == (5, 1)
    # The recent file's listed time suffices; each old one's age is read once more.
    assert [call for call in store.calls if call != "remove"] == (
        ["list_blobs"] + ["last_modified"] * 5 + ["remove_many"])
    assert list(store.list_digests()) == [recent]
    assert not any(store.exists(digest) for digest in orphans)


def test_a_file_written_again_after_the_listing_stays(initialized_db):
    clock = [1_000_000.0]
    store = CountingStore(lambda: clock[0])
    clock[0] += 7200
    rewritten = store.put(b"written again by an upload").digest
    store.stale = 7200  # the listing was taken before that write
    counts = blob_gc.sweep_orphan_blobs(store, grace_s=3600, now=int(clock[0]))
    assert (counts["orphan_files"], counts["recent_files"]) == (0, 1)
    assert store.exists(rewritten)
