"""Fixtures of the registry-model command tests: scratch databases, empty, migrated or filled.

Each is a database of the current backend (TEST_DATABASE_URI, else SQLite) made with the
package's own scratch_database, because the CLI commits; none re-implements a fixture of the
registry_model pytest plugin.
"""
import contextlib
import json
import time
from types import SimpleNamespace

import pytest

from registry_model import registry_model
from registry_model.cli import MODEL_VARIABLE
from registry_model.database import RepositoryState, configure
from registry_model.sample import write_sample_archive
from registry_model.testing.databases import delete_rows_after, mark_rows, scratch_database
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)

from . import START_TS, succeeds


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    """Each test runs in its own folder, where the defaults (./signing-key.json) land."""
    monkeypatch.chdir(tmp_path)
    for variable in ("REGISTRY_MODEL_SIGNING_KEY", "REGISTRY_MODEL_STORAGE"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def on_the_pre_oci_model(monkeypatch):
    """The command tests written for the pre-OCI model (schema 1 imports, factory rows) run
    with ``--model pre-oci`` through its variable; tests of the OCI model (the default)
    name ``--model oci`` on their command line, which wins over the variable."""
    monkeypatch.setenv(MODEL_VARIABLE, "pre-oci")


@pytest.fixture
def empty_uri():
    """A fresh database of the current backend, with no schema."""
    with scratch_database() as uri:
        yield uri


@pytest.fixture(scope="package")
def shared_migrated_database(tmp_path_factory):
    """``(uri, row marks)`` of one database migrated through the command for the package.

    Migrating takes longer than most command tests (a third of a second on a server), so
    :func:`migrated_uri` hands this one database to test after test and deletes after each
    the rows it added. Migrated from a folder of its own: nothing lands in the checkout.
    """
    with scratch_database() as uri:
        with contextlib.chdir(tmp_path_factory.mktemp("migrate")):
            succeeds(uri, "migrate")
        yield uri, mark_rows(uri)


@pytest.fixture
def migrated_uri(shared_migrated_database):
    """A migrated database of the current backend holding only the lookup tables' rows.

    The package's one migrated database, put back after the test (every row added since the
    migration deleted), so tests never see each other's rows. A test that migrates it down
    (or rewrites its schema otherwise) takes :func:`own_migrated_uri` instead; the clean-up
    fails loudly on a table that is gone.
    """
    uri, marks = shared_migrated_database
    yield uri
    delete_rows_after(uri, marks)


@pytest.fixture
def own_migrated_uri(empty_uri):
    """A fresh database of its own, migrated through the command: for tests that migrate
    it down again."""
    succeeds(empty_uri, "migrate")
    return empty_uri


@pytest.fixture(scope="package")
def registry():
    """A migrated scratch database with a few repositories, shared by the read-only tests.

    It is made once for the whole package: every test that takes it only reads.

    devtable/simple holds the chain base <- middle <- top plus a sibling of top
    and a second root; tags latest and v1 on top (latest with a manifest and
    two labels), one expiring tag, one hidden and one dead.
    """
    with scratch_database() as uri:
        succeeds(uri, "migrate")
        database = configure(uri)
        devtable = NamespaceFactory(name="devtable")
        simple = RepositoryFactory(namespace=devtable, name="simple", visibility_name="public")
        base = ImageFactory(repository=simple, storage=ImageStorageFactory(image_size=512))
        middle = ImageFactory(parent=base, storage=ImageStorageFactory(image_size=2048))
        top = ImageFactory(parent=middle, storage=ImageStorageFactory(image_size=3 * 1024 ** 2))
        sibling = ImageFactory(parent=middle, storage=ImageStorageFactory(image_size=1536))
        other_root = ImageFactory(repository=simple, storage=ImageStorageFactory(image_size=10))
        expiring_end = int(time.time()) + 24 * 3600
        latest = RepositoryTagFactory(repository=simple, name="latest", image=top,
                                      lifetime_start_ts=START_TS)
        RepositoryTagFactory(repository=simple, name="v1", image=top,
                             lifetime_start_ts=START_TS + 60)
        RepositoryTagFactory(repository=simple, name="expiring", image=sibling,
                             lifetime_start_ts=START_TS, lifetime_end_ts=expiring_end)
        RepositoryTagFactory(repository=simple, name="secret", image=base, hidden=True)
        RepositoryTagFactory(repository=simple, name="gone", image=base,
                             lifetime_start_ts=START_TS - 100, lifetime_end_ts=START_TS)
        manifest_row = TagManifestFactory(tag=latest)

        ref = registry_model.lookup_repository("devtable", "simple")
        manifest = registry_model.get_manifest_for_tag(
            registry_model.find_matching_tag(ref, ["latest"]))
        registry_model.create_manifest_label(manifest, "com.example.maintainer", "devtable",
                                             "api")
        registry_model.create_manifest_label(manifest, "Config", '{\n  "debug": true\n}',
                                             "manifest")

        RepositoryFactory(namespace=devtable, name="empty")
        RepositoryFactory(namespace__name="acme", name="app", kind_name="application",
                          state=RepositoryState.READ_ONLY)
        RepositoryFactory(namespace=devtable, name="deleted",
                          state=RepositoryState.MARKED_FOR_DELETION)
        database.close()
        yield SimpleNamespace(uri=uri, base=base, middle=middle, top=top, sibling=sibling,
                              other_root=other_root, expiring_end=expiring_end,
                              digest=manifest_row.digest)


@pytest.fixture
def sample_archive(tmp_path):
    path = tmp_path / "sample.tar"
    write_sample_archive(path)
    return path


@pytest.fixture
def imported(migrated_uri, tmp_path, sample_archive):
    """acme/hello:latest imported from the sample archive into a scratch database."""
    storage = tmp_path / "blobs"
    result = json.loads(succeeds(migrated_uri, "import", str(sample_archive), "acme/hello",
                                 "--storage", str(storage), "--json"))
    return SimpleNamespace(uri=migrated_uri, storage=storage, digest=result["manifest_digest"],
                           result=result, tmp_path=tmp_path)
