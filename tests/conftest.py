"""Test-only fixtures shared across folders (the project's own fixtures come from its plugin)."""
import json
import os
import shutil
import subprocess
import time

import pytest

from registry_model import clock as registry_clock
from registry_model.blobstore import FilesystemBlobStore
from registry_model.manifests import generate_signing_key
from registry_model.sample import write_sample_archive
from registry_model.testing.databases import migrated_scratch_database
from tests.s3_gateway import s3_client, s3_gateway_uri, s3_store  # noqa: F401 - S3 fixtures

# tests/replicas/ base-backs-up the local PostgreSQL server into a streaming replica and
# extends its pg_hba.conf: only when asked (.ci/run does), never on a user's machine by default.
REPLICA_TESTS_VARIABLE = "REGISTRY_MODEL_REPLICA_TESTS"
collect_ignore = [] if os.environ.get(REPLICA_TESTS_VARIABLE) == "1" else ["replicas"]


@pytest.fixture
def skopeo(tmp_path):
    """Run the real skopeo client with a permissive policy file of our own.

    skopeo is a Debian package (``apt-get install -y skopeo``); a CI machine may have no
    /etc/containers/policy.json. Without skopeo the test skips, except under CI (the CI
    environment variable set), where a missing skopeo is a failure.
    """
    binary = shutil.which("skopeo")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("skopeo is not installed but CI is set: apt-get install -y skopeo")
        pytest.skip("skopeo is not installed (apt-get install -y skopeo); CI makes this a failure")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))

    def run(*args):
        result = subprocess.run([binary, "--policy", str(policy), *args], capture_output=True,
                                text=True, timeout=120, check=False)
        assert result.returncode == 0, f"skopeo {' '.join(args)} failed: {result.stderr}"
        return result.stdout

    return run


@pytest.fixture(scope="module")
def scratch_uri():
    """A migrated scratch database, bound in this process for the module, then dropped.

    For tests whose writes must really commit, seen by other connections or processes.
    """
    with migrated_scratch_database() as database:
        yield database.scratch_uri


# The image import and export tests share these (tests/test_images.py, test_image_export.py).

@pytest.fixture(scope="module")
def key():
    """A schema 1 signing key, made once per module (RSA key generation is slow)."""
    return generate_signing_key()


@pytest.fixture
def store(tmp_path):
    """A filesystem blob store in the test's folder."""
    return FilesystemBlobStore(tmp_path / "blobs", fsync=False)


@pytest.fixture
def sample(tmp_path):
    """The sample docker-save archive, written in the test's folder."""
    path = tmp_path / "sample.tar"
    write_sample_archive(path)
    return path


@pytest.fixture(scope="module")
def fault_server(request):
    """A migrated scratch database bound for the module, for the fault injection tests."""
    from tests.fault_injection import scratch_server

    yield from scratch_server(request)


@pytest.fixture
def hooks(scratch_uri):
    """Add query hooks (:class:`tests.interleaving.StopAfter`) for the test; released and
    removed after it."""
    from tests.interleaving import query_hooks

    with query_hooks() as add:
        yield add


@pytest.fixture
def no_local_constants(monkeypatch):
    """Keep hypothesis from drawing constants out of the project's modules.

    It sometimes draws numbers found in the source of the modules loaded so far, so the
    examples of a seed would change with any edit of the library, and between running this
    file alone and the whole suite. (An internal of hypothesis; without it, runs just vary.)
    """
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    if hasattr(providers, "_get_local_constants"):
        monkeypatch.setattr(providers, "_get_local_constants", lambda: Constants())
        monkeypatch.setattr(providers, "CONSTANTS_CACHE", type(providers.CONSTANTS_CACHE)(1024))


class Clock:
    """The registry's clock as the test sets it: ``clock.at(ts)``; ``clock.at(None)`` frees it.

    Called, it gives Unix seconds; :meth:`ms` gives the same instant in milliseconds (the
    unit of OCI tag lifetimes), so both wings see one time.
    """

    def __init__(self) -> None:
        self.now = None

    def __call__(self) -> int:
        return self.now if self.now is not None else int(time.time())

    def ms(self) -> int:
        """The same instant in Unix milliseconds."""
        return self.now * 1000 if self.now is not None else int(time.time() * 1000)

    def at(self, now):
        """Make every wing see ``now`` (Unix seconds) from here on; returns self."""
        self.now = now
        return self

    def tick(self, seconds: int) -> None:
        """Move the set time on by ``seconds``."""
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """A Clock patched in as :func:`registry_model.clock.now_ts` and ``now_ms`` for the test."""
    patched = Clock()
    monkeypatch.setattr(registry_clock, "now_ts", patched)
    monkeypatch.setattr(registry_clock, "now_ms", patched.ms)
    return patched
