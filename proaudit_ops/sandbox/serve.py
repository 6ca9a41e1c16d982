"""`proaudit sandbox serve`: the simulator and the billing app on one loopback port.

A threaded wsgiref server (one daemon thread per connection, quiet). Paystack routes
(`/transaction...`, `/refund...`) go to the simulator, `/api/...` and `/health` to the billing
app; both use the sandbox file. Network faults are real here: a timeout keeps the connection
open without a byte for `timeout_s` (past the client's timeout), a dropped response closes
the connection without an answer after the side effect is committed.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from proaudit_ops.errors import UsageError
from proaudit_ops.sandbox.billing_app import BillingApp
from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
from proaudit_ops.sandbox.faults import AppFaultConfig, FaultConfig
from proaudit_ops.sandbox.home import ensure_sandbox
from proaudit_ops.sandbox.simulator import Simulator, request_log_from_env
from proaudit_ops.sandbox.wsgi import (
    DroppedResponse,
    SimulatedTimeout,
    StartResponse,
    WSGIApp,
    WSGIEnviron,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], stop_event: threading.Event) -> None:
        self.stop_event = stop_event
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: clients go away
        return


class _FaultAwareServerHandler(ServerHandler):
    """wsgiref's handler, except that our fault signals escape instead of becoming a 500."""

    def run(self, application: WSGIApp) -> None:
        try:
            self.setup_environ()
            environ: WSGIEnviron = self.environ  # type: ignore[attr-defined]
            self.result = application(environ, self.start_response)
            self.finish_response()
        except (SimulatedTimeout, DroppedResponse):
            raise
        except (ConnectionAbortedError, BrokenPipeError, ConnectionResetError):
            return
        except Exception:
            try:
                self.handle_error()
            except Exception:
                self.close()
                raise

    def log_exception(self, exc_info: Any) -> None:  # quiet
        return


class _Handler(WSGIRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _FaultAwareServerHandler(
            self.rfile,
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
            multiprocess=False,
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        try:
            handler.run(self.server.get_app())  # type: ignore[arg-type]
        except SimulatedTimeout as exc:
            self.server.stop_event.wait(exc.wait_s)  # hold the connection, say nothing
            self._hang_up()
        except DroppedResponse:
            self._hang_up()

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def dispatcher(simulator: WSGIApp, billing_app: WSGIApp) -> WSGIApp:
    def app(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith("/api/") or path.rstrip("/") == "/health":
            return billing_app(environ, start_response)
        return simulator(environ, start_response)

    return app


def _check_host(host: str) -> str:
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the sandbox serves on loopback only (127.0.0.1), not {host!r}")
    return "127.0.0.1"


def _build(
    host: str,
    port: int,
    db_path: Path,
    faults: FaultConfig | None,
    app_faults: AppFaultConfig | None,
    secret_key: str,
) -> tuple[_Server, threading.Event, Callable[[], None]]:
    bind_host = _check_host(host)
    engine = ensure_sandbox(db_path)
    simulator = Simulator(engine, faults, request_log=request_log_from_env())
    billing_app = BillingApp(engine, secret_key, app_faults, script_engine=engine)
    stop_event = threading.Event()
    try:
        server = _Server((bind_host, port), stop_event)
    except OSError:
        engine.dispose()
        raise
    server.set_app(dispatcher(simulator, billing_app))
    return server, stop_event, engine.dispose


@dataclass(frozen=True)
class ServeResult:
    url: str
    db_path: Path
    faults: FaultConfig
    app_faults: AppFaultConfig


def fault_configs(
    sim_overrides: Mapping[str, Any],
    app_overrides: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> tuple[FaultConfig, AppFaultConfig]:
    """PROAUDIT_SIM_* / PROAUDIT_APP_* from the environment, then the flags given (not None)."""
    try:
        sim = replace(
            FaultConfig.from_env(environ),
            **{k: v for k, v in sim_overrides.items() if v is not None},
        )
        app = replace(
            AppFaultConfig.from_env(environ),
            **{k: v for k, v in app_overrides.items() if v is not None},
        )
    except ValueError as exc:
        raise UsageError(f"bad fault setting: {exc}") from None
    return sim, app


def serve_sandbox(
    db_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    sim_overrides: Mapping[str, Any] | None = None,
    app_overrides: Mapping[str, Any] | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> ServeResult:
    """`proaudit sandbox serve`: serve until Ctrl-C, then say what was served."""
    faults, app_faults = fault_configs(sim_overrides or {}, app_overrides or {})
    urls: list[str] = []

    def ready(url: str) -> None:
        urls.append(url)
        if on_ready is not None:
            on_ready(url)

    try:
        serve(host, port, db_path, faults, app_faults, on_ready=ready)
    except ValueError as exc:
        raise UsageError(str(exc), hint="use --host 127.0.0.1") from None
    except OSError as exc:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", hint="pick another --port"
        ) from None
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server stops: a clean shutdown already happened
    return ServeResult(urls[0] if urls else f"http://127.0.0.1:{port}", Path(db_path), faults, app_faults)


def serve(
    host: str,
    port: int,
    db_path: Path,
    faults: FaultConfig | None = None,
    app_faults: AppFaultConfig | None = None,
    *,
    secret_key: str = SANDBOX_SECRET_KEY,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted (KeyboardInterrupt propagates after a clean shutdown).

    Raises ValueError for a non-loopback host, OSError when the port cannot be bound."""
    server, stop_event, dispose = _build(host, port, db_path, faults, app_faults, secret_key)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    previous = _sigterm_as_interrupt()
    try:
        if on_ready is not None:
            on_ready(url)
        server.serve_forever(poll_interval=0.2)
    finally:
        stop_event.set()
        server.server_close()
        dispose()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_as_interrupt() -> Any:
    """SIGTERM stops the server like Ctrl-C does (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def start_background_server(
    db_path: Path,
    *,
    faults: FaultConfig | None = None,
    app_faults: AppFaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    secret_key: str = SANDBOX_SECRET_KEY,
) -> tuple[str, Callable[[], None]]:
    """Serve in a daemon thread (tests, benches): returns (base URL, stop). Port 0 = any free."""
    server, stop_event, dispose = _build(host, port, db_path, faults, app_faults, secret_key)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        stop_event.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        dispose()

    return f"http://127.0.0.1:{server.server_address[1]}", stop
