"""Serve a council's portal over HTTPS with the node's own certificate, beside its node's gRPC servers.

`start_portal(runtime, servers, address)` is what `whoelse node serve --portal-port` calls for each council;
tests call it with port 0. The WSGI server is cheroot (CherryPy's production server, which speaks TLS itself),
with the certificate and key of the node's `tls` configuration: the same certificate its gRPC ports present.
Plain HTTP (`plain_http`, `--portal-plain-http`) is for the demo on this machine: it MUST listen on loopback
unless `allow_remote` says a TLS-terminating proxy is in front.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from whoelse.federation.errors import ConfigError
from whoelse.node.portal.app import PortalConfig, create_app
from whoelse.node.portal.node_api import NodeApi, NodeServices
from whoelse.node.portal.records_team import RecordsTeam
from whoelse.node.recording import Recorder
from whoelse.node.records_api.service import RecordsService

if TYPE_CHECKING:
    from whoelse.node.runtime import NodeRuntime, Servers

log = logging.getLogger(__name__)


@dataclass
class PortalServer:
    host: str
    port: int
    scheme: str  # "https", or "http" for the demo on loopback
    _server: Any
    _thread: threading.Thread
    _node: NodeApi

    @property
    def url(self) -> str:
        # "localhost" for loopback: the name the node's certificate carries, which a browser checks
        host = "localhost" if self.scheme == "https" and _loopback(self.host) else self.host
        return f"{self.scheme}://{host}:{self.port}/"

    def stop(self) -> None:
        self._server.stop()
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
    plain_http: bool = False,
    allow_remote: bool = False,
    config: PortalConfig | None = None,
) -> PortalServer:
    """Start the portal for a started node; it calls the node's practitioner port like any client."""
    if plain_http and not allow_remote and not _loopback(host):
        raise ConfigError(
            f"portal: {host} is not a loopback address; plain HTTP is for this machine only, so serve HTTPS "
            "(leave out --portal-plain-http) or put it behind a TLS-terminating proxy and pass "
            "--portal-allow-remote"
        )
    council = runtime.settings.council
    node = NodeApi(f"localhost:{servers.practitioner_port}", runtime.config.tls.ca)
    services = NodeServices(runtime.accounts, Recorder(runtime.db, runtime.settings), runtime.db)
    desk = RecordsTeam(
        runtime.accounts,
        runtime.db,
        runtime.audit,
        RecordsService(runtime.db, runtime.settings),
        runtime.settings.signing_key.verify_key_bytes,
    )
    config = config or PortalConfig(council.name, council.code, council.records_team_contact)
    app = create_app(config, node, services, desk)
    server = wsgi.Server((host, port), app, numthreads=8, server_name="whoelse-portal")
    if not plain_http:
        tls = runtime.config.tls
        try:
            adapter = BuiltinSSLAdapter(str(tls.cert), str(tls.key))
        except (OSError, ssl.SSLError) as exc:
            node.close()
            raise ConfigError(f"portal: cannot use the node's certificate {tls.cert} ({exc})") from exc
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
        server.ssl_adapter = adapter
    try:
        server.prepare()  # binds now, so a port in use is reported here and port 0 is resolved
    except OSError as exc:
        node.close()
        raise ConfigError(f"portal: cannot listen on {host}:{port} ({exc.strerror or exc})") from exc
    thread = threading.Thread(target=server.serve, name=f"portal-{council.code}", daemon=True)
    thread.start()
    bound = server.bind_addr
    assert isinstance(bound, tuple)  # a TCP address, not a Unix socket
    return PortalServer(host, int(bound[1]), "http" if plain_http else "https", server, thread, node)


def portal_starter(
    host: str,
    first_port: int,
    allow_remote: bool = False,
    plain_http: bool = False,
) -> Callable[[int, NodeRuntime, Servers], Callable[[], None]]:
    """For `whoelse node serve --portal-port P`: council i of this process gets port P + i (or any, for 0)."""

    def start(index: int, runtime: NodeRuntime, servers: Servers) -> Callable[[], None]:
        port = first_port + index if first_port else 0
        portal = start_portal(
            runtime,
            servers,
            host,
            port,
            plain_http=plain_http,
            allow_remote=allow_remote,
        )
        print(f"portal {runtime.settings.council.code}: {portal.url}", flush=True)
        return portal.stop

    return start
