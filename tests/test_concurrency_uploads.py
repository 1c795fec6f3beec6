"""Many writers on one blob upload: separate processes, real commits.

WORKERS processes, started together, each record progress on the same upload
UPDATES_BEFORE times (reading it back after each write), then commit it, then try
UPDATES_AFTER more writes. Each write stores a self-consistent tuple (the byte count
encodes the worker and the chunk count; the uncompressed count, the hash state and the
blob store metadata are derived from it), so a reader that ever sees a mixture of two
writes has found a torn row. Whatever the interleaving: exactly one commit returns the
blob, the others None (or ConcurrentWriteException, having written nothing), one blob
record and one link exist for the digest, the upload row is gone, the blob's sizes
come from one successful write, and no write after a worker's commit finds the upload.

Then each process commits uploads of its own, one per digest of a list all share, in
the same order: every digest still ends with one blob record, which every commit of it
returns and links.
"""
import hashlib
import uuid

import pytest

from registry_model import errors, registry_model
from registry_model.database import BlobUpload, ImageStorage, UploadedBlob
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.processes import run_in_processes

WORKERS = 6
UPDATES_BEFORE = 15
UPDATES_AFTER = 3
ROUNDS = 2
SHARED_DIGESTS = 8
TIMEOUT_S = 180




def progress(worker: int, chunk: int) -> dict:
    """The consistent tuple worker ``worker`` writes as its ``chunk``-th progress."""
    byte_count = 1000 * chunk + worker
    return {"byte_count": byte_count, "uncompressed_byte_count": 2 * byte_count,
            "chunk_count": chunk, "sha_state": "worker %d chunk %d" % (worker, chunk),
            "storage_metadata": {"worker": worker, "chunk": chunk}}


def is_torn(upload) -> bool:
    """True unless the upload's fields are one write's tuple (or the untouched start)."""
    if upload.chunk_count == 0 and upload.byte_count == 0:
        return (upload.uncompressed_byte_count, upload.sha_state,
                upload.storage_metadata) != (None, None, {})
    worker, chunk = upload.byte_count % 1000, upload.byte_count // 1000
    expected = progress(worker, chunk)
    return any(getattr(upload, field) != value for field, value in expected.items())


def upload_writer(ref, upload, worker: int, digest: str) -> dict:
    """Record progress, commit, and try to record progress once more."""
    outcome = {"written": [], "after_commit": [], "blob": None, "conflicts": 0, "torn": []}

    def update(chunk: int) -> str:
        try:
            updated = registry_model.update_blob_upload(upload, **progress(worker, chunk))
        except errors.ConcurrentWriteException:
            outcome["conflicts"] += 1
            return "conflict"
        seen = registry_model.lookup_blob_upload(ref, upload.upload_id)
        if seen is not None and is_torn(seen):
            outcome["torn"].append(tuple(seen))
        if updated is None:
            return "gone"
        outcome["written"].append(updated.byte_count)
        return "written"

    for chunk in range(1, UPDATES_BEFORE + 1):
        update(chunk)
    try:
        outcome["blob"] = registry_model.commit_blob_upload(upload, digest, 3600)
    except errors.ConcurrentWriteException:
        outcome["conflicts"] += 1
        return outcome
    # Once a commit call has returned, the upload is committed: nothing may update it.
    outcome["after_commit"] = [update(chunk) for chunk in range(
        UPDATES_BEFORE + 1, UPDATES_BEFORE + UPDATES_AFTER + 1)]
    return outcome


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_many_writers_on_one_upload_commit_it_once(scratch_uri, record_property, round_):
    repository = RepositoryFactory()
    ref = registry_model.lookup_repository(repository.namespace.name, repository.name)
    upload = registry_model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
    digest = "sha256:" + hashlib.sha256(b"upload race %d" % repository.id).hexdigest()

    results = run_in_processes(upload_writer, scratch_uri,
                               [(ref, upload, worker, digest) for worker in range(WORKERS)],
                               timeout_s=TIMEOUT_S)
    outcomes = [result.value for result in results]
    record_property("upload_processes", WORKERS)
    record_property("upload_operations", WORKERS * (UPDATES_BEFORE + 1 + UPDATES_AFTER))
    record_property("upload_retries", sum(result.retries for result in results))
    record_property("upload_conflicts", sum(outcome["conflicts"] for outcome in outcomes))
    record_property("upload_seconds", round(max(result.seconds for result in results), 2))

    assert [outcome["torn"] for outcome in outcomes] == [[]] * WORKERS
    for outcome in outcomes:
        assert set(outcome["after_commit"]) <= {"gone"}, outcome["after_commit"]
    blobs = [outcome["blob"] for outcome in outcomes if outcome["blob"] is not None]
    assert len(blobs) == 1, blobs
    (blob,) = blobs
    records = list(ImageStorage.select().where(ImageStorage.content_checksum == digest))
    assert [record.id for record in records] == [blob.id]
    written = {count for outcome in outcomes for count in outcome["written"]}
    assert blob.compressed_size in written
    assert (records[0].image_size, records[0].uncompressed_size) == (
        blob.compressed_size, 2 * blob.compressed_size)
    assert not BlobUpload.select().where(BlobUpload.uuid == upload.upload_id).exists()
    assert UploadedBlob.select().where(UploadedBlob.blob == blob.id).count() == 1
    assert registry_model.get_repo_blob_by_digest(ref, digest) == blob


def own_upload_committer(uploads: list) -> list:
    """Commit each ``(upload, digest)`` in turn; the blob ids, None for a lost commit."""
    blob_ids = []
    for upload, digest in uploads:
        blob = registry_model.commit_blob_upload(upload, digest, 3600)
        blob_ids.append(blob.id if blob is not None else None)
    return blob_ids


def test_concurrent_commits_of_one_digest_share_one_blob(scratch_uri, record_property):
    repository = RepositoryFactory()
    ref = registry_model.lookup_repository(repository.namespace.name, repository.name)
    digests = ["sha256:" + hashlib.sha256(b"shared %d %d" % (repository.id, n)).hexdigest()
               for n in range(SHARED_DIGESTS)]
    uploads = [[(registry_model.create_blob_upload(ref, str(uuid.uuid4()), "local", None),
                 digest) for digest in digests] for _ in range(WORKERS)]

    results = run_in_processes(own_upload_committer, scratch_uri,
                               [(own,) for own in uploads], timeout_s=TIMEOUT_S)
    record_property("shared_digest_seconds", round(max(result.seconds for result in results), 2))
    record_property("shared_digest_retries", sum(result.retries for result in results))

    for index, digest in enumerate(digests):
        records = [row.id for row in ImageStorage.select(ImageStorage.id)
                   .where(ImageStorage.content_checksum == digest)]
        assert len(records) == 1, (digest, records)
        assert [result.value[index] for result in results] == records * WORKERS
        assert UploadedBlob.select().where(UploadedBlob.blob == records[0]).count() == WORKERS
    assert not BlobUpload.select().where(BlobUpload.repository == repository.id).exists()
