"""A real PostgreSQL streaming replica of a local server, for the replica tests and by hand.

::

    python tests/replicas/pg_replica.py start [--primary postgresql://postgres@127.0.0.1:5432]
                                              [--dir DIR] [--port PORT]
    python tests/replicas/pg_replica.py stop --dir DIR [--immediate] [--keep]

``start`` takes a base backup of the primary with ``pg_basebackup -R`` (a
standby that streams from the primary), writes a minimal configuration (the
Debian packages keep the primary's in /etc, outside the data directory), starts
it as a hot standby on a free port (5433 or the next free one) with the
``pg_ctl`` of the primary's major version, waits until it answers, and prints
``port=... dir=... uri=...``. ``stop`` stops it (``--immediate``: as a crash
would) and removes its directory unless ``--keep``. Under root, every
PostgreSQL program runs as the ``postgres`` user, since the server refuses root.

The primary must allow replication connections from 127.0.0.1 for its user;
when it does not, ``start`` puts a ``trust`` line for that before the other
rules of its pg_hba.conf (once) and reloads it. Standard library only: usable
without the project's virtualenv.
"""
import argparse
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple, Optional
from urllib.parse import urlparse

DEFAULT_PRIMARY = "postgresql://postgres@127.0.0.1:5432"
FIRST_PORT = 5433
HBA_MARKER = "# registry_model tests/replicas/pg_replica.py: replication for the test replica"
STATE_FILE = "registry_model_replica.json"
START_TIMEOUT_S = 120
# Hot standby refuses to start with less of these than its primary has.
MATCHED_SETTINGS = ("max_connections", "max_worker_processes", "max_wal_senders",
                    "max_prepared_transactions", "max_locks_per_transaction")


class Primary(NamedTuple):
    host: str
    port: int
    user: str

    @classmethod
    def from_uri(cls, uri: str) -> "Primary":
        parsed = urlparse(uri)
        return cls(parsed.hostname or "127.0.0.1", parsed.port or 5432,
                   parsed.username or "postgres")

    def conninfo(self, **extra) -> str:
        fields = {"host": self.host, "port": self.port, "user": self.user,
                  "dbname": "postgres", **extra}
        return " ".join("%s=%s" % item for item in fields.items())


class Replica(NamedTuple):
    """A started replica: its port, data directory and the user its server runs as."""

    port: int
    data_dir: str
    bin_dir: str
    run_as: Optional[str]

    def uri(self, database: str = "postgres", user: str = "postgres") -> str:
        return "postgresql://%s@127.0.0.1:%d/%s" % (user, self.port, database)


def _as_user(command: list, run_as: Optional[str]) -> list:
    return ["runuser", "-u", run_as, "--"] + command if run_as else command


def _run(command: list, run_as: Optional[str] = None, check: bool = True,
         timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess:
    done = subprocess.run(_as_user(command, run_as), capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (
            " ".join(command), done.returncode, (done.stderr or done.stdout).strip()))
    return done


def psql(conninfo: str, sql: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run one statement with psql; its rows come back unaligned in ``stdout``."""
    return _run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo,
                 "-c", sql], check=check)


def _setting(primary: Primary, name: str) -> str:
    return psql(primary.conninfo(), "SHOW %s" % name).stdout.strip()


def _replication_allowed(primary: Primary) -> subprocess.CompletedProcess:
    return psql(primary.conninfo(replication="true"), "IDENTIFY_SYSTEM", check=False)


def ensure_replication_allowed(primary: Primary) -> None:
    """Let the primary's user make replication connections from 127.0.0.1 (idempotent)."""
    if _replication_allowed(primary).returncode == 0:
        return
    hba_file = _setting(primary, "hba_file")
    with open(hba_file, encoding="utf-8") as handle:
        lines = handle.read().splitlines(keepends=True)
    if not any(HBA_MARKER in line for line in lines):
        # Before the first rule: the first matching line decides, and a stock
        # pg_hba.conf asks replication connections for a password.
        first_rule = next((index for index, line in enumerate(lines)
                           if line.strip() and not line.lstrip().startswith("#")), len(lines))
        lines[first_rule:first_rule] = [
            HBA_MARKER + "\n", "host replication %s 127.0.0.1/32 trust\n" % primary.user]
        with open(hba_file, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
    psql(primary.conninfo(), "SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while True:  # the postmaster reloads asynchronously
        attempt = _replication_allowed(primary)
        if attempt.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("replication connections are still refused after adding a "
                               "line to %s: %s" % (hba_file, attempt.stderr.strip()))
        time.sleep(0.2)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the server binds: a port whose old connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(first: int = FIRST_PORT) -> int:
    """The first port from ``first`` on that nothing listens on."""
    for port in range(first, first + 200):
        if _port_free(port):
            return port
    raise RuntimeError("no free port in %d-%d" % (first, first + 199))


def _bin_dir(primary: Primary) -> str:
    major = int(_setting(primary, "server_version_num")) // 10000
    candidate = "/usr/lib/postgresql/%d/bin" % major
    if os.path.exists(os.path.join(candidate, "pg_ctl")):
        return candidate
    found = shutil.which("pg_ctl")
    if found is None:
        raise RuntimeError("pg_ctl of PostgreSQL %d not found" % major)
    return os.path.dirname(found)


def _server_user() -> Optional[str]:
    if os.geteuid() != 0:
        return None
    pwd.getpwnam("postgres")  # KeyError: PostgreSQL is not installed the usual way
    return "postgres"


def _write_configuration(data_dir: str, primary: Primary) -> None:
    settings = {name: _setting(primary, name) for name in MATCHED_SETTINGS}
    # A throw-away server: no fsync, which also spares the sync of the whole folder at start.
    lines = ["hot_standby = on", "fsync = off", "shared_buffers = '32MB'",
             "logging_collector = off",
             "hba_file = '%s'" % os.path.join(data_dir, "pg_hba.conf"),
             "ident_file = '%s'" % os.path.join(data_dir, "pg_ident.conf")]
    lines += ["%s = %s" % item for item in settings.items()]
    files = {
        "postgresql.conf": "\n".join(lines) + "\n",
        "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        "pg_ident.conf": "",
    }
    for name, text in files.items():
        with open(os.path.join(data_dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)


def start(primary_uri: str = DEFAULT_PRIMARY, data_dir: Optional[str] = None,
          port: Optional[int] = None) -> Replica:
    """Base-backup the primary into ``data_dir`` and start it as a streaming hot standby."""
    primary = Primary.from_uri(primary_uri)
    if _setting(primary, "wal_level") not in ("replica", "logical"):
        raise RuntimeError("the primary's wal_level must be replica or logical")
    ensure_replication_allowed(primary)
    run_as = _server_user()
    bin_dir = _bin_dir(primary)
    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix="registry_model_pg_replica_")
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    if os.listdir(data_dir):
        raise RuntimeError("%s is not empty" % data_dir)
    os.chmod(data_dir, 0o700)
    if run_as:
        shutil.chown(data_dir, run_as, run_as)
    port = port or free_port()
    replica = Replica(port, os.path.abspath(data_dir), bin_dir, run_as)
    _run([os.path.join(bin_dir, "pg_basebackup"), "-h", primary.host, "-p", str(primary.port),
          "-U", primary.user, "-D", replica.data_dir, "-R", "-X", "stream", "-c", "fast", "-N",
          "--no-password"], run_as)
    _write_configuration(replica.data_dir, primary)
    if run_as:
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            shutil.chown(os.path.join(replica.data_dir, name), run_as, run_as)
    # Command-line settings win over anything the primary's postgresql.auto.conf carried over.
    options = "-p %d -k %s -c listen_addresses=127.0.0.1" % (port, replica.data_dir)
    _run([os.path.join(bin_dir, "pg_ctl"), "-D", replica.data_dir, "-l",
          os.path.join(replica.data_dir, "server.log"), "-o", options, "-w", "-t",
          str(START_TIMEOUT_S), "start"], run_as)
    with open(os.path.join(replica.data_dir, STATE_FILE), "w", encoding="utf-8") as handle:
        json.dump(replica._asdict(), handle)
    _wait_for_hot_standby(replica)
    return replica


def _wait_for_hot_standby(replica: Replica) -> None:
    conninfo = "host=127.0.0.1 port=%d user=postgres dbname=postgres" % replica.port
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        answer = psql(conninfo, "SELECT pg_is_in_recovery()", check=False)
        if answer.returncode == 0 and answer.stdout.strip() == "t":
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the replica on port %d is not a hot standby: %s"
                               % (replica.port, (answer.stderr or answer.stdout).strip()))
        time.sleep(0.2)


def load(data_dir: str) -> Optional[Replica]:
    """The replica ``start`` left in ``data_dir``, or None when it has no state file."""
    try:
        with open(os.path.join(data_dir, STATE_FILE), encoding="utf-8") as handle:
            return Replica(**json.load(handle))
    except FileNotFoundError:
        return None


def running(replica: Replica) -> bool:
    """True while the replica's postmaster runs."""
    status = _run([os.path.join(replica.bin_dir, "pg_ctl"), "-D", replica.data_dir, "status"],
                  replica.run_as, check=False)
    return status.returncode == 0


def stop(data_dir: str, immediate: bool = False, remove: bool = True) -> None:
    """Stop the replica in ``data_dir`` (``immediate``: as a crash would); remove the folder."""
    replica = load(data_dir)
    if replica is not None and running(replica):
        _run([os.path.join(replica.bin_dir, "pg_ctl"), "-D", replica.data_dir, "-m",
              "immediate" if immediate else "fast", "-w", "stop"], replica.run_as)
    if remove:
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_command = commands.add_parser("start", help="base-backup the primary and start it")
    start_command.add_argument("--primary", default=DEFAULT_PRIMARY)
    start_command.add_argument("--dir", default=None, help="new or empty data directory")
    start_command.add_argument("--port", type=int, default=None)
    stop_command = commands.add_parser("stop", help="stop the replica and remove its folder")
    stop_command.add_argument("--dir", required=True)
    stop_command.add_argument("--immediate", action="store_true")
    stop_command.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args(argv)
    if args.command == "start":
        replica = start(args.primary, args.dir, args.port)
        print("port=%d dir=%s uri=%s" % (replica.port, replica.data_dir, replica.uri()))
    else:
        stop(args.dir, immediate=args.immediate, remove=not args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
