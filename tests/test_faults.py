"""A fault at any SQL statement of any write leaves every row of every table as it was.

Each write of the interface and of the model layer is faulted at every statement as
:mod:`tests.fault_injection` describes (raised before it; the connection killed after
it on PostgreSQL and MariaDB; a deadlock): every faulted call must raise, and a snapshot
of every row and column of every table must equal the one taken before. Last, the call
runs without a fault, sends as many statements as counted and changes the snapshot, so
each scenario really writes. The OCI wing's writes and collector: tests/oci/test_faults.py.
"""
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from registry_model.database import Repository, RepositoryState
from registry_model.manifests import DockerSchema1ManifestBuilder
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.model import storage as storage_model
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.registry_pre_oci_model import PreOCIModel
from tests.fault_injection import (
    check_deadlocks_are_retried_or_reported,
    check_faults_leave_every_row,
    digest_of,
    link_uploads,
    new_repository,
    unique,
)

# Builders of committed data (more in tests.fault_injection).

def _layers(count: int, labels: dict | None = None) -> list:
    """``count`` fresh layers, base first, as ``(blob digest, v1 json)``."""
    seed, layers, parent = uuid.uuid4().hex, [], None
    for index in range(count):
        image_id = hashlib.sha256(("%s-%d" % (seed, index)).encode()).hexdigest()
        metadata = {"id": image_id, "created": "2024-01-02T03:04:05Z",
                    "container_config": {"Cmd": ["/bin/sh", "-c", "true"]}}
        if parent is not None:
            metadata["parent"] = parent
        if labels and index == count - 1:
            metadata["config"] = {"Labels": labels}
        layers.append((digest_of("%s-blob-%d" % (seed, index)), json.dumps(metadata)))
        parent = image_id
    return layers


def _manifest(ref, tag_name: str, layers: list):
    builder = DockerSchema1ManifestBuilder(ref.namespace_name, ref.name, tag_name)
    for digest, metadata in reversed(layers):
        builder.add_layer(digest, metadata)
    return builder.build()


def _pushed(model: PreOCIModel, ref=None, tag_name: str = "latest", layers=None):
    """``(ref, Manifest, Tag)`` of a committed push."""
    ref = ref if ref is not None else new_repository(model)
    layers = layers if layers is not None else _layers(2)
    built = _manifest(ref, tag_name, layers)
    link_uploads(model, ref, built.blob_digests)
    manifest, tag = model.create_manifest_and_retarget_tag(ref, built, tag_name, None)
    return ref, manifest, tag


# The scenarios: each commits what it needs and returns the write to fault.

def create_manifest_label(model):
    _, manifest, _ = _pushed(model)
    return lambda: model.create_manifest_label(manifest, "com.example.key", "value", "api")


def create_manifest_label_with_a_handler(model):
    _, manifest, _ = _pushed(model)
    return lambda: model.create_manifest_label(manifest, "quay.expires-after", "2h", "api")


def delete_manifest_label(model):
    _, manifest, _ = _pushed(model)
    label = model.create_manifest_label(manifest, "com.example.key", "value", "api")
    return lambda: model.delete_manifest_label(manifest, label.uuid)


def create_blob_upload(model):
    ref, upload_id = new_repository(model), str(uuid.uuid4())
    return lambda: model.create_blob_upload(ref, upload_id, "local", {"backend": "memory"})


def update_blob_upload(model):
    upload = model.create_blob_upload(new_repository(model), str(uuid.uuid4()), "local", None)
    return lambda: model.update_blob_upload(upload, 300, {"part": 2}, 200, 2, "state")


def delete_blob_upload(model):
    upload = model.create_blob_upload(new_repository(model), str(uuid.uuid4()), "local", None)
    return lambda: model.delete_blob_upload(upload)


def commit_blob_upload_of_a_new_blob(model):
    upload = model.create_blob_upload(new_repository(model), str(uuid.uuid4()), "local", None)
    upload = model.update_blob_upload(upload, None, None, 100, 1, None)
    return lambda: model.commit_blob_upload(upload, digest_of(upload.upload_id), 3600)


def commit_blob_upload_of_a_known_blob(model):
    known = link_uploads(model, new_repository(model), [digest_of(unique("known"))])
    upload = model.create_blob_upload(new_repository(model), str(uuid.uuid4()), "local", None)
    return lambda: model.commit_blob_upload(upload, next(iter(known)), 3600)


def mount_blob_into_repository(model):
    blob = next(iter(link_uploads(model, new_repository(model), [digest_of(unique("m"))]).values()))
    target = new_repository(model)
    return lambda: model.mount_blob_into_repository(blob, target, 3600)


def create_manifest_and_retarget_tag_with_labels(model):
    ref = new_repository(model)
    built = _manifest(ref, "latest", _layers(3, labels={"com.example.a": "1",
                                                        "quay.expires-after": "1d"}))
    link_uploads(model, ref, built.blob_digests)
    return lambda: model.create_manifest_and_retarget_tag(ref, built, "latest", None)


def create_manifest_and_retarget_tag_moving_a_tag(model):
    ref, _, _ = _pushed(model, layers=_layers(2))
    layers = _layers(2)
    built = _manifest(ref, "latest", layers)
    link_uploads(model, ref, built.blob_digests)
    return lambda: model.create_manifest_and_retarget_tag(ref, built, "latest", None)


def retarget_tag_to_a_manifest(model):
    ref, manifest, _ = _pushed(model)
    _pushed(model, ref, "other")
    return lambda: model.retarget_tag(ref, "other", manifest, None, None)


def retarget_tag_to_a_legacy_image(model):
    ref, _, tag = _pushed(model, layers=_layers(3))
    image = model.get_legacy_image(ref, tag.docker_image_id)
    return lambda: model.retarget_tag(ref, "restored", image, None, None, is_reversion=True)


def delete_tag(model):
    ref, _, _ = _pushed(model)
    return lambda: model.delete_tag(ref, "latest")


def delete_tags_for_manifest(model):
    ref, manifest, _ = _pushed(model)
    model.retarget_tag(ref, "second", manifest, None, None)
    return lambda: model.delete_tags_for_manifest(manifest)


def change_repository_tag_expiration(model):
    _, _, tag = _pushed(model)
    when = datetime.now(UTC) + timedelta(days=3)
    return lambda: model.change_repository_tag_expiration(tag, when)


def set_tags_expiration_for_manifest(model):
    _, manifest, _ = _pushed(model)
    return lambda: model.set_tags_expiration_for_manifest(manifest, 3600)


def model_create_namespace(model):
    name = unique("ns")
    return lambda: namespace_model.create_namespace(name, removed_tag_expiration_s=60)


def model_create_repository(model):
    namespace = unique("ns")
    namespace_model.create_namespace(namespace)
    return lambda: repository_model.create_repository(namespace, "repo", visibility="public",
                                                      description="described")


def model_create_storage(model):
    digest = digest_of(unique("storage"))
    return lambda: storage_model.create_storage(digest, 10, 30)


def model_create_image(model):
    ref = new_repository(model)
    repository = Repository.get_by_id(ref.id)
    parent = image_model.create_image(repository, hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                                      storage_model.create_storage(digest_of(unique("p")), 1))
    storage = storage_model.create_storage(digest_of(unique("c")), 2)
    image_id = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    return lambda: image_model.create_image(repository, image_id, storage, parent=parent,
                                            comment="child", v1_json_metadata="{}")


def model_set_repository_state(model):
    ref = new_repository(model)
    repository = Repository.get_by_id(ref.id)
    return lambda: repository_model.set_repository_state(repository,
                                                         RepositoryState.MARKED_FOR_DELETION)


def _repository_with_image():
    namespace = unique("ns")
    namespace_model.create_namespace(namespace)
    repository = repository_model.create_repository(namespace, "repo")
    image = image_model.create_image(repository, hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                                     storage_model.create_storage(digest_of(unique("s")), 1))
    return repository, image


def model_create_or_update_tag_creating(model):
    repository, image = _repository_with_image()
    return lambda: tag_model.create_or_update_tag(repository, "fresh", image)


def model_create_or_update_tag_moving(model):
    repository, image = _repository_with_image()
    tag_model.create_or_update_tag(repository, "moving", image, now=1_000_000)
    return lambda: tag_model.create_or_update_tag(repository, "moving", image)


def model_store_tag_manifest(model):
    repository, image = _repository_with_image()
    tag = tag_model.create_or_update_tag(repository, "bare", image)
    data = json.dumps({"schemaVersion": 1, "name": "x/y", "tag": "bare"}).encode()
    return lambda: manifest_model.store_tag_manifest(tag, digest_of(data.decode()), data)


SCENARIOS: list = [
    create_manifest_label, create_manifest_label_with_a_handler, delete_manifest_label,
    create_blob_upload, update_blob_upload, delete_blob_upload,
    commit_blob_upload_of_a_new_blob, commit_blob_upload_of_a_known_blob,
    mount_blob_into_repository,
    create_manifest_and_retarget_tag_with_labels, create_manifest_and_retarget_tag_moving_a_tag,
    retarget_tag_to_a_manifest, retarget_tag_to_a_legacy_image,
    delete_tag, delete_tags_for_manifest,
    change_repository_tag_expiration, set_tags_expiration_for_manifest,
    model_create_namespace, model_create_repository, model_set_repository_state,
    model_create_storage, model_create_image,
    model_create_or_update_tag_creating, model_create_or_update_tag_moving,
    model_store_tag_manifest,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_fault_at_any_statement_of_a_write_leaves_every_row_as_it_was(fault_server,
                                                                        scenario):
    check_faults_leave_every_row(fault_server, scenario(PreOCIModel()))


# The writes that retry a lost race (run_with_retry); the others report it at once.
RETRIED = {
    create_manifest_label, create_manifest_label_with_a_handler, delete_manifest_label,
    update_blob_upload, delete_blob_upload,
    commit_blob_upload_of_a_new_blob, commit_blob_upload_of_a_known_blob,
    create_manifest_and_retarget_tag_with_labels, create_manifest_and_retarget_tag_moving_a_tag,
    retarget_tag_to_a_manifest, retarget_tag_to_a_legacy_image,
    delete_tag, set_tags_expiration_for_manifest,
    model_create_or_update_tag_creating, model_create_or_update_tag_moving,
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_deadlock_at_any_statement_of_a_write_is_retried_or_reported(fault_server,
                                                                       scenario):
    """A deadlock victim never surfaces as a driver error: the write is retried (the same
    deadlock then ends every attempt) and, when it keeps losing, raises
    ConcurrentWriteException having written nothing. Once no statement is faulted any
    more, the write succeeds."""
    check_deadlocks_are_retried_or_reported(fault_server, scenario(PreOCIModel()),
                                            scenario in RETRIED)
