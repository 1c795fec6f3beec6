"""Run the app under gunicorn: each worker binds the database and opens the store itself.

Without accounts (auth off) the server is open to whoever can reach it, so
:func:`check_bind` then refuses anything but a loopback address (or a Unix socket); with
auth on it binds where it is told. Workers are gthread workers,
whose main thread keeps the heartbeat while a long blob upload streams in a request
thread, so a slow push is not mistaken for a hung worker.
"""
import ipaddress
import logging
from typing import Optional

logger = logging.getLogger(__name__)

THREADS_PER_WORKER = 4
# Seconds a worker may go without a heartbeat before gunicorn restarts it.
WORKER_TIMEOUT_S = 120


class NonLoopbackBindException(ValueError):
    """A bind address other than loopback, refused while the server runs without auth."""


def check_bind(bind: str, auth: bool = False) -> None:
    """Raise NonLoopbackBindException unless ``bind`` is a loopback ``host:port`` or a socket,
    or ``auth`` is on (any well-formed ``host:port``)."""
    if bind.startswith("unix:"):
        return
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or not host:
        raise NonLoopbackBindException("bind must be host:port, not %r" % bind)
    if host == "localhost" or auth:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NonLoopbackBindException(
            "refusing to listen on %s: without auth the server is open, so it binds only "
            "loopback addresses (127.0.0.1, ::1, localhost); add an account "
            "(registry-model user add) or pass --auth on" % host)


def run(database_uri: str, storage_path: str, bind: str = "127.0.0.1:5000", workers: int = 2,
        tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
        token_key_path: Optional[str] = None, service: Optional[str] = None,
        redirect_expiry_s: Optional[int] = None) -> None:
    """Serve the registry under gunicorn until it is stopped (SIGINT/SIGTERM).

    With ``token_key_path`` auth is on: every worker loads that key (create it first, so
    that all workers sign with the same one) and issues tokens for ``service``. With
    ``redirect_expiry_s`` blob GETs redirect to store URLs valid that long.
    """
    from gunicorn.app.base import BaseApplication

    check_bind(bind, auth=token_key_path is not None)
    options = {"bind": bind, "workers": workers, "worker_class": "gthread",
               "threads": THREADS_PER_WORKER, "timeout": WORKER_TIMEOUT_S,
               "certfile": tls_cert, "keyfile": tls_key}

    class RegistryApplication(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self):
            # Called in each worker after the fork: its own connection and store handle.
            from registry_model.server.app import create_app
            extra = {} if service is None else {"service": service}
            if redirect_expiry_s is not None:
                extra.update(storage_redirect=True, redirect_expiry_s=redirect_expiry_s)
            return create_app(database_uri=database_uri, storage_path=storage_path,
                              token_key_path=token_key_path, **extra)

    RegistryApplication().run()
