"""A real ``registry-model serve`` (gunicorn) on a free loopback port, for real clients.

::

    with scratch_database() as uri, served_registry(uri, tmp_path / "blobs") as server:
        subprocess.run(["skopeo", "copy", ..., "docker://%s/acme/app:v1" % server.host])

The server runs in its own process group on a port the OS picked, against ``uri`` (a new
database is migrated by the command) and a blob folder or storage URI; the block starts once
``GET /v2/`` answers and the server is stopped at its end (SIGINT, gunicorn's quick
shutdown: the block's requests are over, and a graceful stop would wait seconds for idle
keep-alive connections; SIGKILL if it is not gone within 3 s). Its output is kept in a log
file that a failed start quotes.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple, Optional, Union

from registry_model.blobstore.uri import folder_of

START_TIMEOUT_S = 60
# A worker can outlive gunicorn's quick shutdown while a thread of it still waits on a
# client's idle connection; the block's requests are over, so it is killed after this.
QUICK_STOP_S = 3


class ServedRegistry(NamedTuple):
    """A running server: ``host`` is ``127.0.0.1:<port>``, ``storage`` its blob folder or URI."""

    host: str
    storage: Union[Path, str]
    log: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    # A test server's certificate is self-signed: readiness is all that is checked here.
    context = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status == 200
    except urllib.error.HTTPError as error:
        return error.code == 401  # a server with auth on answers, challenging
    except OSError:
        return False


def _command() -> str:
    """The ``registry-model`` script beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "registry-model"
    return str(beside) if beside.exists() else (shutil.which("registry-model") or "registry-model")


def run_command(uri: str, *args: str, stdin: Optional[str] = None) -> str:
    """Run ``registry-model --db uri ARGS`` (a user add, a grant) and return its output;
    RuntimeError with its stderr when it fails."""
    result = subprocess.run([_command(), "--db", uri, *args], input=stdin, capture_output=True,
                            text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError("registry-model %s failed: %s" % (" ".join(args), result.stderr))
    return result.stdout


@contextmanager
def served_registry(uri: str, storage, workers: int = 2, tls: Optional[tuple] = None,
                    auth: bool = False, log_dir=None,
                    redirect_expiry_s: Optional[int] = None) -> Iterator[ServedRegistry]:
    """Run ``registry-model serve`` on ``uri`` and ``storage`` for the block.

    ``storage`` is a blob folder (created) or a storage URI such as ``s3://...``, whose
    server log (and token key) then go to ``log_dir`` (default: a new temporary folder).
    ``tls`` is ``(certificate file, key file)`` to serve HTTPS. With ``auth`` the server
    checks accounts and issues tokens (its key in the log folder, beside a storage folder);
    without, it is open. Either way it is ready when ``GET /v2/`` answers (200, or 401 with
    auth). With ``redirect_expiry_s`` (an ``s3://`` storage) blob GETs answer with
    redirects to presigned URLs valid that many seconds (``--storage-redirect``).
    """
    if folder_of(str(storage)) is not None:
        storage = Path(folder_of(str(storage)))
        storage.mkdir(parents=True, exist_ok=True)
        log_dir = storage.parent if log_dir is None else Path(log_dir)
    elif log_dir is None:
        log_dir = Path(tempfile.mkdtemp(prefix="registry_model_served_"))
    host = "127.0.0.1:%d" % free_port()
    log = Path(log_dir) / ("server-%s.log" % host.replace(":", "-"))
    command = [_command(), "--db", uri, "serve",
               "--storage", str(storage), "--bind", host, "--workers", str(workers)]
    if tls is not None:
        command += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    if auth:
        command += ["--auth", "on", "--token-key", str(Path(log_dir) / "token-key.json")]
    else:
        command += ["--auth", "off"]
    if redirect_expiry_s is not None:
        command += ["--storage-redirect", "--redirect-expiry", str(redirect_expiry_s)]
    url = "%s://%s/v2/" % ("https" if tls is not None else "http", host)
    env = {key: value for key, value in os.environ.items() if key != "REGISTRY_MODEL_DATABASE_URI"}
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("registry-model serve did not start:\n%s"
                                   % log.read_text(errors="replace")[-4000:])
            time.sleep(0.2)
        yield ServedRegistry(host, storage, log)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=QUICK_STOP_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
