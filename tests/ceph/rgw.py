"""A throw-away single-node Ceph cluster with an S3 gateway on loopback, for tests and by hand.

::

    python3 tests/ceph/rgw.py start --dir DIR     # prints `export NAME=value` lines
    python3 tests/ceph/rgw.py gateway-stop --dir DIR
    python3 tests/ceph/rgw.py gateway-start --dir DIR
    python3 tests/ceph/rgw.py stop --dir DIR [--keep]

``start`` writes a ``ceph.conf`` into the new folder ``DIR``, creates one monitor, one
OSD on ``memstore`` (the data lives in the OSD's memory: nothing touches a disk) and the
gateway's pools, starts one RADOS Gateway (``radosgw``) on a free port, creates an S3
user and a bucket, and prints the endpoint, the credentials and an ``s3://`` storage URI
as shell ``export`` lines. ``stop`` stops the gateway, then the OSD, then the monitor, and
removes the folder unless ``--keep``; ``gateway-stop``/``gateway-start`` kill (SIGKILL)
and restart the gateway alone, for fault tests.

Why the settings (measured with Ceph 16.2 from Debian): with ``auth ... = none`` the
gateway's monitor client must be told ``ms mon client mode = crc`` or it blocks for 300
s; a pool of size one needs ``mon allow pool size one``; ``paxos propose interval = 0.1``
cuts the start from ~18 s to ~2.5 s; pools created before the gateway starts spare its
first multipart upload a 2 s wait; ``tcp_nodelay=1`` on the gateway's frontend spares every
listing and delete a 40 ms delayed-ACK stall (3 ms instead); the gateway's garbage collector
frees deleted objects' data within seconds instead of hours, or the OSD's memory would
keep every byte the tests ever wrote. Pools are created with the ``rados`` module of
Debian's system Python (``python3-rados``), so run this file with ``/usr/bin/python3``;
the rest is the standard library (the bucket is made with a signature-V2 request).
Needs the Debian packages ``ceph-mon ceph-osd radosgw python3-rados``, and root.
"""
import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from typing import Optional

STATE_FILE = "cluster.json"
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
GATEWAY_NAME = "client.rgw"
USER_ID = "registry-model-tests"
BUCKET = "registry-model-tests"
# Pools radosgw would otherwise create on its first request of each kind.
GATEWAY_POOLS = (".rgw.root", "default.rgw.control", "default.rgw.meta", "default.rgw.log",
                 "default.rgw.buckets.index", "default.rgw.buckets.data",
                 "default.rgw.buckets.non-ec")
PG_PER_POOL = 8
# memstore keeps every object in the OSD's memory; it grows only as far as data is written.
MEMSTORE_BYTES = 4 * 1024 ** 3

CONFIG = """\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
paxos propose interval = 0.1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
run dir = {dir}/run
admin socket = {dir}/run/$name.asok
pid file = {dir}/run/$name.pid
log file = {dir}/log/$name.log
mon data = {dir}/mon/$name
osd data = {dir}/osd/$name
[client]
ms mon client mode = crc
[{gateway}]
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {dir}/rgw
rgw dns name = 127.0.0.1
rgw gc obj min wait = 0
rgw gc processor period = 5
"""


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(first: int) -> int:
    """The first port from ``first`` on that nothing listens on."""
    for port in range(first, first + 200):
        if _port_free(port):
            return port
    raise RuntimeError("no free port in %d-%d" % (first, first + 199))


def _run(command: list) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(command), done.returncode,
                                                    (done.stderr or done.stdout).strip()))
    return done.stdout


def _load(data_dir: str) -> Optional[dict]:
    try:
        with open(os.path.join(data_dir, STATE_FILE), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def _conf(data_dir: str) -> str:
    return os.path.join(data_dir, "ceph.conf")


def _create_pools(data_dir: str) -> None:
    import rados  # Debian's python3-rados: only the system Python has it

    cluster = rados.Rados(conffile=_conf(data_dir), name="client.admin")
    cluster.connect(timeout=START_TIMEOUT_S)
    try:
        for pool in GATEWAY_POOLS:
            for command in ({"prefix": "osd pool create", "pool": pool, "pg_num": PG_PER_POOL},
                            {"prefix": "osd pool application enable", "pool": pool,
                             "app": "rgw"}):
                status, _, message = cluster.mon_command(json.dumps(command), b"")
                if status != 0:
                    raise RuntimeError("%s: %s" % (command["prefix"], message))
    finally:
        cluster.shutdown()


def _signed_put(endpoint: str, path: str, access_key: str, secret_key: str) -> int:
    date = email.utils.formatdate(usegmt=True)
    content_type = "application/octet-stream"  # urllib would send one of its own
    text = "PUT\n\n%s\n%s\n%s" % (content_type, date, path)
    signature = hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest()
    request = urllib.request.Request(endpoint + path, method="PUT", data=b"", headers={
        "Date": date, "Content-Type": content_type,
        "Authorization": "AWS %s:%s" % (access_key, base64.b64encode(signature).decode()),
    })
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def _wait_for_gateway(endpoint: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(endpoint, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway at %s did not answer" % endpoint) from None
            time.sleep(0.05)


def start_gateway(data_dir: str) -> None:
    """Start the gateway of the cluster in ``data_dir`` and wait until it answers."""
    state = _load(data_dir)
    _run(["radosgw", "-c", _conf(data_dir), "-n", GATEWAY_NAME])
    _wait_for_gateway(state["endpoint"], time.monotonic() + START_TIMEOUT_S)


def start(data_dir: Optional[str] = None, rgw_port: Optional[int] = None) -> dict:
    """Create and start the cluster in ``data_dir``; return its endpoint and credentials."""
    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix="registry_model_ceph_")
    data_dir = os.path.abspath(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    if os.listdir(data_dir):
        raise RuntimeError("%s is not empty" % data_dir)
    for sub in ("run", "log", "mon/mon.a", "osd/osd.0", "rgw"):
        os.makedirs(os.path.join(data_dir, sub))
    mon_port = free_port(3300 + 1000)
    rgw_port = rgw_port or free_port(7480)
    state = {
        "dir": data_dir, "fsid": str(uuid.uuid4()), "mon_port": mon_port, "rgw_port": rgw_port,
        "endpoint": "http://127.0.0.1:%d" % rgw_port, "bucket": BUCKET,
        "access_key": uuid.uuid4().hex[:20].upper(), "secret_key": uuid.uuid4().hex * 2,
    }
    with open(_conf(data_dir), "w", encoding="utf-8") as handle:
        handle.write(CONFIG.format(gateway=GATEWAY_NAME, memstore_bytes=MEMSTORE_BYTES, **state))
    with open(os.path.join(data_dir, STATE_FILE), "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    conf = _conf(data_dir)
    monmap = os.path.join(data_dir, "monmap")
    _run(["monmaptool", "--create", "--addv", "a", "[v2:127.0.0.1:%d]" % mon_port,
          "--fsid", state["fsid"], monmap])
    _run(["ceph-mon", "-c", conf, "--mkfs", "-i", "a", "--monmap", monmap])
    _run(["ceph-mon", "-c", conf, "-i", "a"])
    osd_uuid = str(uuid.uuid4())
    _run(["ceph", "-c", conf, "osd", "new", osd_uuid])
    _run(["ceph-osd", "-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid])
    _run(["ceph-osd", "-c", conf, "-i", "0"])
    _create_pools(data_dir)
    start_gateway(data_dir)
    _run(["radosgw-admin", "-c", conf, "user", "create", "--uid", USER_ID,
          "--display-name", USER_ID, "--access-key", state["access_key"],
          "--secret", state["secret_key"]])
    _signed_put(state["endpoint"], "/" + BUCKET, state["access_key"], state["secret_key"])
    return state


def _pid(data_dir: str, name: str) -> Optional[int]:
    try:
        with open(os.path.join(data_dir, "run", name + ".pid"), encoding="ascii") as handle:
            return int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def _kill(data_dir: str, name: str, sig: int = signal.SIGTERM) -> None:
    """Signal the daemon ``name`` of the cluster and wait until it has exited."""
    pid = _pid(data_dir, name)
    if pid is None:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)
    try:
        os.remove(os.path.join(data_dir, "run", name + ".pid"))
    except FileNotFoundError:
        pass


def stop_gateway(data_dir: str) -> None:
    """Kill the gateway at once (SIGKILL), as a crash would; the cluster keeps running."""
    _kill(data_dir, GATEWAY_NAME, signal.SIGKILL)


def stop(data_dir: str, remove: bool = True) -> None:
    """Stop the gateway, then the OSD, then the monitor; remove the folder unless told not to."""
    for name in (GATEWAY_NAME, "osd.0", "mon.a"):
        _kill(data_dir, name)
    if remove:
        shutil.rmtree(data_dir, ignore_errors=True)


def exports(state: dict) -> str:
    """The shell ``export`` lines naming the gateway to the tests."""
    values = {
        "REGISTRY_MODEL_S3_URI": "s3://%s/tests?endpoint=%s" % (state["bucket"],
                                                                 state["endpoint"]),
        "REGISTRY_MODEL_CEPH_DIR": state["dir"],
        "AWS_ACCESS_KEY_ID": state["access_key"],
        "AWS_SECRET_ACCESS_KEY": state["secret_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return "".join("export %s=%s\n" % item for item in values.items())


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_command = commands.add_parser("start", help="create and start the cluster")
    start_command.add_argument("--dir", default=None, help="new or empty folder")
    start_command.add_argument("--port", type=int, default=None, help="the gateway's port")
    for name in ("stop", "gateway-stop", "gateway-start"):
        command = commands.add_parser(name)
        command.add_argument("--dir", required=True)
        if name == "stop":
            command.add_argument("--keep", action="store_true", help="keep the folder")
    args = parser.parse_args(argv)
    if args.command == "start":
        began = time.monotonic()
        try:
            state = start(args.dir, args.port)
        except BaseException:
            if args.dir:
                stop(args.dir, remove=False)
            raise
        sys.stdout.write(exports(state))
        sys.stderr.write("ceph: S3 gateway at %s in %.1fs\n"
                         % (state["endpoint"], time.monotonic() - began))
    elif args.command == "stop":
        stop(args.dir, remove=not args.keep)
    elif args.command == "gateway-stop":
        stop_gateway(args.dir)
    else:
        start_gateway(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
