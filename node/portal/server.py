"""Serve a council's portal with waitress (a production WSGI server) beside its node's gRPC servers.

`start_portal(runtime, servers, address)` is what `whoelse node serve --portal-port` calls for each council;
tests call it with port 0. Plain HTTP: bind it to loopback behind the council's TLS-terminating proxy (or,
in the demo, use it on this machine only); `allow_remote` must be set to listen on any other address.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waitress.server import create_server

from federation.errors import ConfigError
from node.portal.app import PortalConfig, create_app
from node.portal.node_api import NodeApi, OwnRecords
from node.recording import Recorder

if TYPE_CHECKING:
    from node.runtime import NodeRuntime, Servers

log = logging.getLogger(__name__)


@dataclass
class PortalServer:
    host: str
    port: int
    _server: Any
    _thread: threading.Thread
    _node: NodeApi

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def stop(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)
        self._node.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_portal(
    runtime: NodeRuntime,
    servers: Servers,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
    config: PortalConfig | None = None,
) -> PortalServer:
    """Start the portal for a started node; it calls the node's practitioner port like any client."""
    if not allow_remote and not _loopback(host):
        raise ConfigError(
            f"portal: {host} is not a loopback address; the portal speaks plain HTTP, so put it behind a "
            "TLS-terminating proxy and pass --portal-allow-remote"
        )
    council = runtime.settings.council
    node = NodeApi(f"localhost:{servers.practitioner_port}", runtime.config.tls.ca)
    records = OwnRecords(runtime.accounts, Recorder(runtime.db, runtime.settings))
    config = config or PortalConfig(council.name, council.code, council.records_team_contact)
    app = create_app(config, node, records)
    try:
        server = create_server(app, host=host, port=port, threads=8, ident="whoelse-portal")
    except OSError as exc:
        node.close()
        raise ConfigError(f"portal: cannot listen on {host}:{port} ({exc.strerror})") from exc
    thread = threading.Thread(target=server.run, name=f"portal-{council.code}", daemon=True)
    thread.start()
    return PortalServer(host, int(server.effective_port), server, thread, node)


def portal_starter(
    host: str, first_port: int, allow_remote: bool = False
) -> Callable[[int, NodeRuntime, Servers], Callable[[], None]]:
    """For `whoelse node serve --portal-port P`: council i of this process gets port P + i (or any, for 0)."""

    def start(index: int, runtime: NodeRuntime, servers: Servers) -> Callable[[], None]:
        port = first_port + index if first_port else 0
        portal = start_portal(runtime, servers, host, port, allow_remote=allow_remote)
        print(f"portal {runtime.settings.council.code}: {portal.url}", flush=True)
        return portal.stop

    return start
