"""registry_model.images: importing docker-save archives through the interface.

These run on ``initialized_db`` (rolled back per test) with a FilesystemBlobStore in a
temporary folder; the CLI on top of them is tested in tests/cli/.
"""
import dataclasses
import hashlib
import io
import json
import os
import stat

import pytest
from jwcrypto.jwk import JWK

from registry_model import errors, images
from registry_model.archive import (
    ArchiveException,
    read_docker_archive,
    write_docker_archive,
)
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.blobstore import FilesystemBlobStore, ResumableSHA256
from registry_model.database import (
    ALL_MODELS,
    BlobUpload,
    ImageStorage,
    RepositoryState,
    UploadedBlob,
)
from registry_model.images import (
    BLOB_LINK_EXPIRATION_S,
    SigningKeyException,
    archive_tag,
    import_archive,
    load_signing_key,
    normalize_repo_tag,
)
from registry_model.manifests import DockerSchema1Manifest, generate_signing_key
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.sample import SAMPLE_LABELS, sample_layers, write_sample_archive
from registry_model.testing.factories import RepositoryFactory


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_archive(path, layers, repo_tag="acme/custom:v1", labels=None):
    """A docker-save archive of the given layer tars (base first) with a minimal config."""
    diff_ids = [digest_of(layer) for layer in layers]
    config = {"architecture": "arm64", "os": "linux",
              "config": {"Labels": labels or {"com.example.kind": "custom"}},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    write_docker_archive(path, repo_tag, json.dumps(config).encode(),
                         [(d, len(layer), io.BytesIO(layer)) for d, layer in
                          zip(diff_ids, layers, strict=True)])
    return path


def row_counts() -> dict:
    return {model.__name__: model.select().count() for model in ALL_MODELS}


def stored_files(store) -> list:
    """Every file under the store's root except the folders the store always creates."""
    found = []
    for folder, _, names in os.walk(store.root):
        found.extend(os.path.relpath(os.path.join(folder, name), store.root) for name in names)
    return sorted(found)


class RecordingModel(PreOCIModel):
    """A PreOCIModel that records the blob-upload calls made through it."""

    def __init__(self):
        self.calls = []

    def create_blob_upload(self, *args, **kwargs):
        upload = super().create_blob_upload(*args, **kwargs)
        self.calls.append(("create", upload.upload_id))
        return upload

    def update_blob_upload(self, blob_upload, uncompressed_byte_count, storage_metadata,
                           byte_count, chunk_count, sha_state):
        self.calls.append(("update", blob_upload.upload_id, byte_count, chunk_count, sha_state))
        return super().update_blob_upload(blob_upload, uncompressed_byte_count,
                                          storage_metadata, byte_count, chunk_count, sha_state)

    def commit_blob_upload(self, blob_upload, digest, expiration):
        self.calls.append(("commit", blob_upload.upload_id, digest, expiration))
        return super().commit_blob_upload(blob_upload, digest, expiration)


# --- import -----------------------------------------------------------------------------


def test_import_creates_the_repository_and_stores_blobs_chain_manifest_and_labels(
        registry_model, store, sample, key):
    result = import_archive(sample, "acme", "hello", store, key)

    assert result.created_repository
    assert (result.repository.full_name, result.tag.name) == ("acme/hello", "latest")
    assert result.repository.is_public is False
    layers = sample_layers()
    assert [layer.digest for layer in result.layers] == [digest_of(data) for data in layers]
    assert all(layer.uploaded for layer in result.layers)
    assert result.uploaded_bytes == sum(len(data) for data in layers)
    for layer, data in zip(result.layers, layers, strict=True):
        assert store.read(layer.digest) == data

    ref = registry_model.lookup_repository("acme", "hello")
    tag = registry_model.get_repo_tag(ref, "latest")
    assert tag.manifest_digest == result.manifest.digest
    images = registry_model.get_legacy_images(ref)
    assert [image.docker_image_id for image in images] == [layer.v1_id for layer in result.layers]
    assert [image.blob_digest for image in images] == [layer.digest for layer in result.layers]
    assert images[-1].tags == ("latest",)
    assert [image.parents[0].docker_image_id if image.parents else None
            for image in images] == [None] + [layer.v1_id for layer in result.layers[:-1]]
    labels = {label.key: (label.value, label.source_type_name, label.media_type_name)
              for label in registry_model.list_manifest_labels(result.manifest)}
    assert labels == {k: (v, "manifest", "application/json" if v.startswith("{")
                          else "text/plain") for k, v in SAMPLE_LABELS.items()}
    assert BlobUpload.select().count() == 0


def test_import_uploads_each_layer_in_chunks_through_the_interface(
        initialized_db, store, sample, key, monkeypatch):
    monkeypatch.setattr("registry_model.images.UPLOAD_CHUNK_SIZE", 4096)
    model = RecordingModel()
    result = import_archive(sample, "acme", "hello", store, key, model=model)

    for layer in result.layers:
        upload_ids = [call[1] for call in model.calls if call[0] == "create"]
        commits = [call for call in model.calls if call[0] == "commit" and call[2] == layer.digest]
        (commit,) = commits
        assert commit[1] in upload_ids and commit[3] == BLOB_LINK_EXPIRATION_S
        updates = [call for call in model.calls if call[0] == "update" and call[1] == commit[1]]
        # One update per chunk, counting bytes and chunks; each state resumes to that point.
        assert [call[3] for call in updates] == list(range(1, len(updates) + 1))
        assert len(updates) == -(-layer.size // 4096) > 1
        assert updates[-1][2] == layer.size
        for _, _, byte_count, _, state in updates:
            assert ResumableSHA256.from_state(state).length == byte_count
        assert ResumableSHA256.from_state(updates[-1][4]).digest_str() == layer.digest
    # The links protected the layers until the manifest's images held them; the import then
    # released them, so an untagged image is collectable once its time-machine window ends.
    assert UploadedBlob.select().count() == 0


def test_the_manifest_is_signed_with_the_given_key(registry_model, store, sample, key):
    result = import_archive(sample, "acme", "hello", store, key)
    manifest = DockerSchema1Manifest(result.manifest.manifest_bytes)  # verifies the signature
    (signature,) = manifest.signatures
    public = key.export_public(as_dict=True)
    assert {k: signature.header["jwk"][k] for k in ("kty", "crv", "x", "y")} == {
        k: public[k] for k in ("kty", "crv", "x", "y")}
    assert (manifest.name, manifest.tag, manifest.architecture) == ("acme/hello", "latest",
                                                                    "amd64")


def test_importing_the_same_archive_again_uploads_nothing_and_keeps_the_digest(
        registry_model, store, sample, key):
    first = import_archive(sample, "acme", "hello", store, key)
    counts = row_counts()
    files = stored_files(store)
    second = import_archive(sample, "acme", "hello", store, generate_signing_key())

    assert not second.created_repository
    assert not any(layer.uploaded for layer in second.layers) and second.uploaded_bytes == 0
    assert second.manifest.digest == first.manifest.digest
    assert stored_files(store) == files
    after = row_counts()
    assert after["ImageStorage"] == counts["ImageStorage"] == 3
    assert after["Image"] == counts["Image"] == 3
    assert after["RepositoryTag"] == counts["RepositoryTag"] + 1
    rows, has_more = registry_model.list_repository_tag_history(first.repository)
    assert not has_more
    assert [(tag.name, tag.manifest_digest, tag.lifetime_end_ts is None) for tag in rows] == [
        ("latest", first.manifest.digest, True), ("latest", first.manifest.digest, False)]


def test_blobs_linked_but_missing_from_the_store_are_uploaded_again(
        registry_model, tmp_path, sample, key):
    import_archive(sample, "acme", "hello", FilesystemBlobStore(tmp_path / "a"), key)
    other = FilesystemBlobStore(tmp_path / "b")
    result = import_archive(sample, "acme", "hello", other, key)
    assert all(layer.uploaded for layer in result.layers)
    assert sorted(other.list_digests()) == sorted(layer.digest for layer in result.layers)
    assert ImageStorage.select().count() == 3


def test_a_layer_repeated_in_the_image_is_uploaded_once(registry_model, store, tmp_path, key):
    base, top = make_layer_tar({"a": "1"}), make_layer_tar({"b": "2"})
    path = write_archive(tmp_path / "repeat.tar", [base, top, base])
    result = import_archive(path, "acme", "repeat", store, key)
    assert [layer.uploaded for layer in result.layers] == [True, True, False]
    assert len({layer.v1_id for layer in result.layers}) == 3
    assert ImageStorage.select().count() == 2
    assert len(registry_model.get_legacy_images(result.repository)) == 3


@pytest.mark.parametrize("repo_tag, expected", [
    ("docker.io/acme/hello:v2", ("acme/hello", "v2")),
    ("acme/hello:v2", ("acme/hello", "v2")),
    ("localhost:5000/acme/hello:1.0", ("acme/hello", "1.0")),
    ("quay.io/acme/hello", ("acme/hello", None)),
    ("busybox:latest", ("library/busybox", "latest")),
    ("acme/hello@sha256:" + "0" * 64, ("acme/hello", None)),
])
def test_normalize_repo_tag_strips_the_registry_host(repo_tag, expected):
    assert normalize_repo_tag(repo_tag) == expected


@pytest.mark.parametrize("repo_tag, requested, expected", [
    ("docker.io/acme/hello:v2", None, "v2"),
    ("docker.io/acme/hello:v2", "pinned", "pinned"),
    (None, None, "latest"),
])
def test_the_tag_defaults_to_the_archives_own_then_latest(registry_model, store, tmp_path, key,
                                                         repo_tag, requested, expected):
    path = tmp_path / "tagged.tar"
    if repo_tag is None:
        write_archive(path, [make_layer_tar({"x": "y"})], repo_tag=None)
    else:
        write_sample_archive(path, repo_tag)
    result = import_archive(path, "acme", "hello", store, key, requested)
    assert result.tag.name == expected
    assert registry_model.get_repo_tag(result.repository, expected) is not None


def test_archive_tag_prefers_a_repo_tag_of_the_target_repository(sample):
    archive = dataclasses.replace(read_docker_archive(sample),
                                  repo_tags=("other/name:one", "docker.io/acme/hello:two"))
    assert archive_tag(archive, "acme", "hello") == "two"
    assert archive_tag(archive, "acme", "nope") == "one"


# --- failures write nothing --------------------------------------------------------------


def corrupt_layer(path, index):
    """Flip one byte inside layer ``index`` of the archive, keeping the tar readable."""
    layer = read_docker_archive(path).layers[index]
    with open(path, "r+b") as archive:
        archive.seek(layer.offset + layer.size // 2)
        byte = archive.read(1)
        archive.seek(layer.offset + layer.size // 2)
        archive.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("damage", ["corrupt-last-layer", "truncated", "not-a-tar", "missing"])
def test_a_bad_archive_raises_and_writes_no_row_and_no_file(initialized_db, store, sample, key,
                                                          damage):
    if damage == "corrupt-last-layer":
        corrupt_layer(sample, 2)
        message = "content has digest"
    elif damage == "truncated":
        data = sample.read_bytes()
        sample.write_bytes(data[:len(data) // 2])
        message = "unexpected end of data"
    elif damage == "not-a-tar":
        sample.write_bytes(b"this is no archive" * 100)
        message = "not a readable tar archive"
    else:
        sample.unlink()
        message = "cannot open archive"
    counts = row_counts()
    with pytest.raises(ArchiveException, match=message):
        import_archive(sample, "acme", "hello", store, key)
    assert row_counts() == counts
    assert stored_files(store) == []


def test_a_failure_during_the_upload_removes_that_upload_and_keeps_committed_blobs(
        registry_model, store, sample, key, monkeypatch):
    """The documented orphans: blobs committed before the failure stay linked for a day."""
    layers = sample_layers()
    write_chunk = store.write_chunk

    def failing(upload_id, offset, data, hasher=None):
        if bytes(data[:512]) == layers[1][:512]:
            raise OSError(28, "No space left on device")
        return write_chunk(upload_id, offset, data, hasher)

    monkeypatch.setattr(store, "write_chunk", failing)
    with pytest.raises(OSError, match="No space left"):
        import_archive(sample, "acme", "hello", store, key)
    ref = registry_model.lookup_repository("acme", "hello")
    assert BlobUpload.select().count() == 0
    assert os.listdir(os.path.join(store.root, "uploads")) == []
    assert list(store.list_digests()) == [digest_of(layers[0])]
    assert registry_model.get_repo_blob_by_digest(ref, digest_of(layers[0])) is not None
    assert registry_model.get_repo_tag(ref, "latest") is None
    # Importing again finishes the job, reusing the committed blob.
    monkeypatch.setattr(store, "write_chunk", write_chunk)
    result = import_archive(sample, "acme", "hello", store, key)
    assert [layer.uploaded for layer in result.layers] == [False, True, True]


@pytest.mark.parametrize("namespace, name, tag, exception", [
    ("Acme", "hello", None, errors.InvalidNameException),
    ("acme", "hello world", None, errors.InvalidNameException),
    ("acme", "hello", "-bad", errors.InvalidNameException),
])
def test_bad_names_raise_before_anything_is_read(initialized_db, store, tmp_path, key,
                                                namespace, name, tag, exception):
    counts = row_counts()
    with pytest.raises(exception):
        import_archive(tmp_path / "absent.tar", namespace, name, store, key, tag)
    assert row_counts() == counts


@pytest.mark.parametrize("kind, state, message", [
    ("image", RepositoryState.READ_ONLY, "is read_only"),
    ("image", RepositoryState.MIRROR, "is mirror"),
    ("image", RepositoryState.MARKED_FOR_DELETION, "is being deleted"),
    ("application", RepositoryState.NORMAL, "not an image repository"),
])
def test_a_repository_that_takes_no_push_is_refused(initialized_db, store, sample, key, kind,
                                                   state, message):
    RepositoryFactory(namespace__name="acme", name="hello", kind_name=kind, state=state)
    counts = row_counts()
    with pytest.raises(errors.DataModelException, match=message):
        import_archive(sample, "acme", "hello", store, key)
    assert row_counts() == counts
    assert stored_files(store) == []


def test_an_existing_namespace_gets_a_new_repository(registry_model, store, sample, key):
    RepositoryFactory(namespace__name="acme", name="other")
    result = import_archive(sample, "acme", "hello", store, key)
    assert result.created_repository
    assert registry_model.lookup_repository("acme", "other") is not None


def test_a_repository_created_by_a_concurrent_import_is_used(registry_model):
    existing = RepositoryFactory(namespace__name="acme", name="hello")
    counts = row_counts()
    assert images._create_repository(registry_model, "acme", "hello").id == existing.id
    assert row_counts() == counts


def test_progress_reports_the_verified_and_uploaded_bytes(initialized_db, store, sample, key):
    seen: dict = {}

    def progress(stage, count, total):
        done, _ = seen.get(stage, (0, None))
        seen[stage] = (done + count, total)

    import_archive(sample, "acme", "hello", store, key, progress=progress)
    size = sum(len(layer) for layer in sample_layers())
    assert seen == {"verify": (size, size), "upload": (size, size)}


# --- the signing key --------------------------------------------------------------------


def test_the_signing_key_is_created_once_private_to_its_owner(tmp_path):
    path = tmp_path / "keys" / "signing-key.json"
    key = load_signing_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key.has_private
    assert load_signing_key(path).thumbprint() == key.thumbprint()


@pytest.mark.parametrize("content, message", [
    (None, "cannot read signing key"),
    ("not json", "is not a JWK"),
    (json.dumps(JWK.generate(kty="EC", crv="P-256").export_public(as_dict=True)),
     "public key only"),
])
def test_a_bad_signing_key_file_raises(tmp_path, content, message):
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SigningKeyException, match=message):
        load_signing_key(path, create=False)
