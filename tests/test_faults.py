"""A fault at any SQL statement of any write leaves every row of every table as it was.

Each write of the interface and of the model layer is first run in a transaction
that is rolled back, counting its statements. Then, for each statement k, it runs
with peewee's ``execute_sql`` raising at statement k (before sending it), and on
PostgreSQL and MariaDB once more with the server connection terminated right
after statement k (``pg_terminate_backend`` / ``KILL`` from a second connection,
from a query hook). Every faulted call must raise, and a snapshot of every row and
column of every table must equal the one taken before. Last, the call runs without
a fault, sends as many statements as counted and changes the snapshot, so each
scenario really writes.

The data is committed in a scratch database: inside the plugin's rolled-back
transaction, a partly applied write would hide behind the savepoint.
"""
import hashlib
import json
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Callable, NamedTuple
from unittest import mock

import peewee
import pytest
from playhouse import db_url

from registry_model import errors
from registry_model.database import Repository, RepositoryState, backend_name, configure, db
from registry_model.manifests import DockerSchema1ManifestBuilder
from registry_model.migration import upgrade
from registry_model.model import lookup
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.model import storage as storage_model
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.databases import scratch_database
from registry_model.testing.databases import snapshot_rows as snapshot
from registry_model.testing.queries import count_statements

# What count_statements leaves out (BEGIN, COMMIT, savepoints) is not faulted either.
TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION)\b", re.IGNORECASE)

INJECTED = Counter()
CONNECTION_ID_SQL = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}


class InjectedFault(peewee.OperationalError):
    """The error a faulted statement raises instead of running."""


class Server(NamedTuple):
    """The scratch database, and for server backends how to kill a connection from outside."""

    database: peewee.Database
    backend: str
    admin: peewee.Database | None

    def connection_id(self) -> int:
        sql = CONNECTION_ID_SQL[self.backend]
        return self.database.execute_sql(sql).fetchone()[0]

    def terminate(self, connection_id: int) -> None:
        if self.backend == "postgresql":
            # The timeout makes the call wait until the backend is gone.
            self.admin.execute_sql("SELECT pg_terminate_backend(%s, 10000)", (connection_id,))
        else:
            self.admin.execute_sql("KILL %d" % connection_id)


@pytest.fixture(scope="module")
def server(request):
    """A migrated scratch database of the test backend, bound for the module, then dropped."""
    previous = db.obj
    with scratch_database() as uri:
        database = configure(uri)
        upgrade(database)
        lookup.tables()  # statement counts below leave the one-time cache load out
        backend = backend_name(database)
        admin = db_url.connect(uri) if backend != "sqlite" else None
        try:
            yield Server(database, backend, admin)
        finally:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            capture = request.config.pluginmanager.get_plugin("capturemanager")
            if reporter is not None and capture is not None:
                with capture.global_and_fixture_disabled():
                    reporter.ensure_newline()
                    reporter.write_line(
                        "test_faults on %s: %d faults injected (%d raised, %d connections "
                        "terminated, %d deadlocks)" % (
                            backend, sum(INJECTED.values()), INJECTED["raised"],
                            INJECTED["terminated"], INJECTED["deadlocks"]))
            if admin is not None:
                admin.close()
            database.close()
            db.initialize(previous)


class RaiseAt:
    """A stand-in for ``execute_sql`` that raises InjectedFault at statement ``index``."""

    def __init__(self, database: peewee.Database, index: int) -> None:
        self.database, self.index, self.seen = database, index, 0
        self.execute_sql = database.execute_sql
        self.in_transaction = None

    def __call__(self, sql, params=None):
        if not TRANSACTION_CONTROL.match(sql):
            self.seen += 1
            if self.seen == self.index + 1:
                self.in_transaction = self.database.in_transaction()
                raise InjectedFault("fault injected at statement %d: %s" % (self.index, sql))
        return self.execute_sql(sql, params)


class InjectedDeadlock(peewee.OperationalError):
    """A deadlock error as MySQL reports it (code 1213), which is_transient_conflict knows."""


class DeadlockAt:
    """A stand-in for ``execute_sql``: statement ``index`` of every transaction is a deadlock.

    Counts only the statements sent inside a transaction, from 0 in each new one, so a
    retried write meets the same deadlock at the same point of every attempt.
    """

    def __init__(self, database: peewee.Database, index: int) -> None:
        self.database, self.index, self.seen, self.fired = database, index, 0, 0
        self.execute_sql = database.execute_sql
        self.current = None

    def __call__(self, sql, params=None):
        if not TRANSACTION_CONTROL.match(sql) and self.database.in_transaction():
            top = self.database.top_transaction()
            if top is not self.current:
                self.current, self.seen = top, 0
            self.seen += 1
            if self.seen == self.index + 1:
                self.fired += 1
                raise InjectedDeadlock(1213, "Deadlock found when trying to get lock "
                                             "(injected at statement %d: %s)" % (self.index, sql))
        return self.execute_sql(sql, params)


class TerminateAfter:
    """A query hook that kills the connection from outside once statement ``index`` ran."""

    def __init__(self, server: Server, index: int) -> None:
        self.server, self.index, self.seen = server, index, 0
        self.victim = server.connection_id()
        self.fired = False

    def __call__(self, event) -> None:
        if event.exception is None and not TRANSACTION_CONTROL.match(event.sql):
            self.seen += 1
            if self.seen == self.index + 1:
                self.server.terminate(self.victim)
                self.fired = True


# Builders of committed data. Names are unique per call: the scratch database
# lives for the whole module.

def _unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:12]


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


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
        layers.append((_digest("%s-blob-%d" % (seed, index)), json.dumps(metadata)))
        parent = image_id
    return layers


def _repository(model: PreOCIModel):
    namespace = _unique("ns")
    namespace_model.create_namespace(namespace)
    repository_model.create_repository(namespace, "repo")
    return model.lookup_repository(namespace, "repo")


def _link(model: PreOCIModel, ref, digests) -> dict:
    linked = {}
    for digest in dict.fromkeys(digests):
        upload = model.create_blob_upload(ref, str(uuid.uuid4()), "local", {"k": "v"})
        upload = model.update_blob_upload(upload, None, None, 100, 1, None)
        linked[digest] = model.commit_blob_upload(upload, digest, 3600)
    return linked


def _manifest(ref, tag_name: str, layers: list):
    builder = DockerSchema1ManifestBuilder(ref.namespace_name, ref.name, tag_name)
    for digest, metadata in reversed(layers):
        builder.add_layer(digest, metadata)
    return builder.build()


def _pushed(model: PreOCIModel, ref=None, tag_name: str = "latest", layers=None):
    """``(ref, Manifest, Tag)`` of a committed push."""
    ref = ref if ref is not None else _repository(model)
    layers = layers if layers is not None else _layers(2)
    built = _manifest(ref, tag_name, layers)
    _link(model, ref, built.blob_digests)
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
    ref, upload_id = _repository(model), str(uuid.uuid4())
    return lambda: model.create_blob_upload(ref, upload_id, "local", {"backend": "memory"})


def update_blob_upload(model):
    upload = model.create_blob_upload(_repository(model), str(uuid.uuid4()), "local", None)
    return lambda: model.update_blob_upload(upload, 300, {"part": 2}, 200, 2, "state")


def delete_blob_upload(model):
    upload = model.create_blob_upload(_repository(model), str(uuid.uuid4()), "local", None)
    return lambda: model.delete_blob_upload(upload)


def commit_blob_upload_of_a_new_blob(model):
    upload = model.create_blob_upload(_repository(model), str(uuid.uuid4()), "local", None)
    upload = model.update_blob_upload(upload, None, None, 100, 1, None)
    return lambda: model.commit_blob_upload(upload, _digest(upload.upload_id), 3600)


def commit_blob_upload_of_a_known_blob(model):
    known = _link(model, _repository(model), [_digest(_unique("known"))])
    upload = model.create_blob_upload(_repository(model), str(uuid.uuid4()), "local", None)
    return lambda: model.commit_blob_upload(upload, next(iter(known)), 3600)


def mount_blob_into_repository(model):
    blob = next(iter(_link(model, _repository(model), [_digest(_unique("m"))]).values()))
    target = _repository(model)
    return lambda: model.mount_blob_into_repository(blob, target, 3600)


def create_manifest_and_retarget_tag_with_labels(model):
    ref = _repository(model)
    built = _manifest(ref, "latest", _layers(3, labels={"com.example.a": "1",
                                                        "quay.expires-after": "1d"}))
    _link(model, ref, built.blob_digests)
    return lambda: model.create_manifest_and_retarget_tag(ref, built, "latest", None)


def create_manifest_and_retarget_tag_moving_a_tag(model):
    ref, _, _ = _pushed(model, layers=_layers(2))
    layers = _layers(2)
    built = _manifest(ref, "latest", layers)
    _link(model, ref, built.blob_digests)
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
    name = _unique("ns")
    return lambda: namespace_model.create_namespace(name, removed_tag_expiration_s=60)


def model_create_repository(model):
    namespace = _unique("ns")
    namespace_model.create_namespace(namespace)
    return lambda: repository_model.create_repository(namespace, "repo", visibility="public",
                                                      description="described")


def model_create_storage(model):
    digest = _digest(_unique("storage"))
    return lambda: storage_model.create_storage(digest, 10, 30)


def model_create_image(model):
    ref = _repository(model)
    repository = Repository.get_by_id(ref.id)
    parent = image_model.create_image(repository, hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                                      storage_model.create_storage(_digest(_unique("p")), 1))
    storage = storage_model.create_storage(_digest(_unique("c")), 2)
    image_id = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    return lambda: image_model.create_image(repository, image_id, storage, parent=parent,
                                            comment="child", v1_json_metadata="{}")


def model_set_repository_state(model):
    ref = _repository(model)
    repository = Repository.get_by_id(ref.id)
    return lambda: repository_model.set_repository_state(repository,
                                                         RepositoryState.MARKED_FOR_DELETION)


def _repository_with_image():
    namespace = _unique("ns")
    namespace_model.create_namespace(namespace)
    repository = repository_model.create_repository(namespace, "repo")
    image = image_model.create_image(repository, hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                                     storage_model.create_storage(_digest(_unique("s")), 1))
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
    return lambda: manifest_model.store_tag_manifest(tag, _digest(data.decode()), data)


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


def _count_statements_dry(database: peewee.Database, call: Callable) -> list:
    """The statements ``call`` sends, run in a transaction that is rolled back."""
    with database.atomic() as outer:
        with count_statements() as counted:
            call()
        outer.rollback()
    return counted.statements


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_fault_at_any_statement_of_a_write_leaves_every_row_as_it_was(server, scenario):
    database = server.database
    call = scenario(PreOCIModel())
    before = snapshot()
    statements = _count_statements_dry(database, call)
    assert statements, "the write sent no statement"
    assert snapshot() == before

    outside_transaction = set()
    for index in range(len(statements)):
        fault = RaiseAt(database, index)
        with mock.patch.object(database, "execute_sql", fault):
            with pytest.raises(InjectedFault):
                call()
        INJECTED["raised"] += 1
        assert fault.in_transaction is not None, "statement %d was never sent" % index
        if not fault.in_transaction:
            outside_transaction.add(index)
        assert not database.in_transaction()
        assert snapshot() == before, "fault at statement %d: %s" % (index, statements[index])

    if server.backend != "sqlite":
        # After a read outside the transaction the write reconnects and succeeds
        # (tests/test_reconnect.py); inside it, it must fail whole.
        for index in sorted(set(range(len(statements))) - outside_transaction):
            killer = TerminateAfter(server, index)
            database.query_hooks.append(killer)
            try:
                with pytest.raises(errors.DatabaseConnectionLostException):
                    call()
            finally:
                database.query_hooks.remove(killer)
            INJECTED["terminated"] += 1
            assert killer.fired
            assert snapshot() == before, "killed after statement %d: %s" % (index,
                                                                             statements[index])

    with count_statements() as counted:
        call()
    assert counted.count == len(statements)
    assert snapshot() != before


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
RETRY_ATTEMPTS = 8  # run_with_retry's default


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_deadlock_at_any_statement_of_a_write_is_retried_or_reported(server, scenario):
    """A deadlock victim never surfaces as a driver error: the write is retried (the same
    deadlock then ends every attempt) and, when it keeps losing, raises
    ConcurrentWriteException having written nothing. Once no statement is faulted any
    more, the write succeeds."""
    database = server.database
    call = scenario(PreOCIModel())
    before = snapshot()
    for index in range(100):
        deadlock = DeadlockAt(database, index)
        with mock.patch.object(database, "execute_sql", deadlock), \
                mock.patch("registry_model.transactions.time.sleep"):
            try:
                call()
            except errors.ConcurrentWriteException:
                pass
        if not deadlock.fired:
            break  # the write ran without a fault, and committed
        INJECTED["deadlocks"] += deadlock.fired
        assert deadlock.fired == (RETRY_ATTEMPTS if scenario in RETRIED else 1), index
        assert not database.in_transaction()
        assert snapshot() == before, "deadlock at statement %d" % index
    assert index > 0, "the write sent no statement in a transaction"
    assert snapshot() != before
