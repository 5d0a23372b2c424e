"""A running council node: its two gRPC servers and its background upkeep, assembled from a NodeConfig.

- federation port (mutual TLS, only the directory calls it): FederationNode.Deliver / Ping;
- practitioner port (TLS): Practitioner (log in, search, alerts);
- both with gRPC health and reflection (federation/standard_services.py);
- upkeep every few seconds: join the directory, refresh the signed council list, tokenise new records under
  the current match-token key, publish the audit log's tree head;
- alerts sent as soon as the change that queued them commits (node/alerts/wakeup.py), polled as a fallback.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2

from whoelse.federation import closed_sets
from whoelse.federation.council_list import CouncilListCache, load_verify_key
from whoelse.federation.database import private_folder
from whoelse.federation.errors import ConfigError, Refused, WhoElseError
from whoelse.federation.malformed_requests import new_server
from whoelse.federation.metrics_endpoint import serve_metrics
from whoelse.federation.purposes import Purpose
from whoelse.federation.query import VerifiedQuery
from whoelse.federation.serving import wait_for_stop, write_ports
from whoelse.federation.standard_services import add_health_and_reflection
from whoelse.federation.transport import (
    SERVER_OPTIONS,
    MtlsIdentity,
    add_secure_port,
    council_list_fetcher,
    secure_channel,
)
from whoelse.federation.tree_head_wire import head_to_wire
from whoelse.node import retention
from whoelse.node.accounts.credentials import Passwords
from whoelse.node.accounts.lockout import LoginThrottled
from whoelse.node.accounts.service import AccountService, Practitioner
from whoelse.node.alerts import store as alert_store
from whoelse.node.alerts.events import to_proto
from whoelse.node.alerts.wakeup import OutboxWaker
from whoelse.node.audit import AuditLog
from whoelse.node.config import NodeConfig
from whoelse.node.federation.accountability import Alerts, FederationAudit
from whoelse.node.federation.held_filter import HeldTagFilter
from whoelse.node.federation.holder import Answered, Holder
from whoelse.node.federation.searcher import FederatedSearch, Outcome, Searcher, evaluator
from whoelse.node.federation.servicer import FederationNodeServicer
from whoelse.node.federation.tokenise import drop_schemes_except, tokenise_pending
from whoelse.node.federation.witness import RoutingWitness
from whoelse.node.matching import identity_of
from whoelse.node.metrics import NodeMetrics
from whoelse.node.practitioner_servicer import PractitionerServicer
from whoelse.node.settings import NodeSettings, load
from whoelse.node.storage.database import Database
from whoelse.node.storage.record_store import ensure_tag_indexes, records_by_record_id
from whoelse.v1 import (
    federation_pb2,
    federation_pb2_grpc,
    practitioner_pb2,
    practitioner_pb2_grpc,
)

log = logging.getLogger(__name__)
WITNESS_INTERVAL_S = 60.0  # co-sign the routing log at most this often: 153 councils, under 3 calls a second
RETRY_S = 1.0  # after a failed round (e.g. the directory is restarting), try again soon
PORTS_FILE = "ports.json"  # in the state dir: the ports `whoelse node serve` bound (port 0 picks any)
SYSTEM_SENDER = Searcher("records-system", "Records system", "Automatic alert")


@dataclass
class Servers:
    federation: grpc.Server
    federation_port: int
    practitioner: grpc.Server
    practitioner_port: int
    records: grpc.Server | None = None  # the records API, when `listen_records` is configured
    records_port: int = 0


class NodeRuntime:
    def __init__(self, config: NodeConfig, *, workers: int = 32) -> None:
        self.config = config
        self._workers = workers
        self.db = Database.open_initialised(config.database, config.keys or None)
        with self.db.session() as session:
            self.settings: NodeSettings = load(session)
        self.identity = MtlsIdentity.from_files(config.tls.ca, config.tls.cert, config.tls.key)
        self.identity.check()
        if self.identity.common_name != self.settings.council.code:
            raise ConfigError(
                f"config key tls.cert: the certificate names {self.identity.common_name}, "
                f"but this node is {self.settings.council.code}"
            )
        private_folder(config.state_dir)
        directory_key = load_verify_key(config.directory_verify_key)
        self.councils = CouncilListCache(config.state_dir / "council-list.bin", directory_key)
        self.channel = secure_channel(config.directory, self.identity)
        self.directory = federation_pb2_grpc.DirectoryStub(self.channel)
        self.routing_witness = RoutingWitness(
            self.directory, directory_key, self.settings.signing_key, config.state_dir
        )
        self._witnessed_at = -WITNESS_INTERVAL_S
        self.fetch_councils = council_list_fetcher(self.channel)
        self.metrics = NodeMetrics()
        self.accounts = AccountService(
            self.db, passwords=Passwords.named(config.password_cost), on_throttled=self._throttled
        )
        self.audit = AuditLog(self.db, self.settings.council.code, self.settings.signing_key)
        self.federation_audit = FederationAudit(self.audit, self.council_name, batched=True)
        self.alerts = Alerts(self.db)
        self.held_tags = HeldTagFilter(self.db)
        self.holder = Holder(
            self.db,
            self.settings,
            self.councils,
            on_received=self._received,
            on_notification=self.alerts.deliver,
            held=self.held_tags,
        )
        self.search = FederatedSearch(
            self.settings,
            self.councils,
            self.directory,
            self.fetch_councils,
            deadline_ms=config.search_deadline_ms,
        )
        self._stop = threading.Event()
        self._outbox: OutboxWaker | None = None  # started with the alert loop
        self._ready = threading.Event()
        self._sending = threading.Lock()
        self._joined = False
        self._published_size = -1
        self.advertise = config.advertise_federation or config.listen_federation

    # ---- what the operators see -----------------------------------------------------------------------

    def _searched(self, practitioner: Practitioner, purpose: str, outcome: Outcome) -> None:
        self.federation_audit.sent(practitioner, purpose, outcome)
        self.metrics.searched(purpose, outcome)

    def _received(self, query: VerifiedQuery, answered: Answered) -> None:
        self.federation_audit.received(query, answered)
        self.metrics.queries_received.inc()

    def _throttled(self, refusal: LoginThrottled) -> None:
        self.metrics.login_refusals.labels("locked" if refusal.locked else "slowed").inc()

    def _alerts_queued(self) -> int:
        with self.db.session() as session:
            return alert_store.count_queued(session)

    def _head_timestamp_ms(self) -> int | None:
        head = self.audit.latest_head()
        return head.timestamp_ms if head is not None else None

    # ---- servers ---------------------------------------------------------------------------------------

    def _directory_certificate(self) -> str:
        """The directory's certificate as the signed council list names it ("" before the first list)."""
        current = self.councils.current
        return current.directory_certificate_fingerprint if current else ""

    def council_name(self, code: str) -> str:
        current = self.councils.current
        entry = current.find(code) if current else None
        return entry.name if entry else code

    def start(self, *, background: bool = True) -> Servers:
        """Bind and start both servers; `background=False` leaves upkeep to the caller (tests)."""
        ensure_tag_indexes(self.db.engine)  # a first load killed mid-way leaves them to be built
        fed = new_server(self._workers, SERVER_OPTIONS)
        servicer = FederationNodeServicer(
            self.holder,
            answer_floor_ms=self.config.answer_floor_ms,
            directory_certificate=self._directory_certificate,
        )
        federation_pb2_grpc.add_FederationNodeServicer_to_server(servicer, fed)
        add_health_and_reflection(
            fed, [federation_pb2.DESCRIPTOR.services_by_name["FederationNode"].full_name]
        )
        fed_port = add_secure_port(fed, self.config.listen_federation, self.identity)

        prac = new_server(self._workers, SERVER_OPTIONS)
        practitioner_pb2_grpc.add_PractitionerServicer_to_server(
            PractitionerServicer(
                self.accounts,
                self.search,
                self.council_name,
                alerts=self.alerts,
                on_search=self._searched,
            ),
            prac,
        )
        practitioner = practitioner_pb2.DESCRIPTOR.services_by_name["Practitioner"].full_name
        # Federated search is ready once the node has joined and tokenised its records (first upkeep).
        health_servicer = add_health_and_reflection(prac, [practitioner], serving=False)
        # Practitioners authenticate with password + TOTP, so this port is server-authenticated TLS only.
        credentials = grpc.ssl_server_credentials([(self.identity.key_pem, self.identity.cert_pem)])
        try:
            prac_port = prac.add_secure_port(self.config.listen_practitioner, credentials)
        except RuntimeError as exc:
            raise ConfigError(
                f"config key listen_practitioner: cannot bind {self.config.listen_practitioner}"
            ) from exc
        self._health = health_servicer
        self._practitioner_service = practitioner
        if self.config.listen_federation.endswith(":0") and not self.config.advertise_federation:
            host = self.config.listen_federation.rsplit(":", 1)[0]
            self.advertise = f"{host}:{fed_port}"
        records, records_port = None, 0
        if self.config.listen_records:
            from whoelse.node.records_api.server import create_records_server
            from whoelse.node.records_api.service import RecordsService

            service = RecordsService(self.db, self.settings)
            records, records_port = create_records_server(self.config.listen_records, service, self.identity)
            records.start()
        self._metrics_server = None
        if self.config.listen_metrics:
            self.metrics.watch(self.audit.size, self._head_timestamp_ms, self._alerts_queued)
            self._metrics_server, self.metrics_port = serve_metrics(
                self.config.listen_metrics, self.metrics.registry, "config key listen_metrics"
            )
        fed.start()
        prac.start()
        if background:
            self._outbox = outbox = OutboxWaker(self.db)
            threading.Thread(target=self._upkeep_loop, name="upkeep", daemon=True).start()
            threading.Thread(target=self._alert_loop, args=(outbox,), name="alerts", daemon=True).start()
        else:
            self._health.set(self._practitioner_service, health_pb2.HealthCheckResponse.SERVING)
        return Servers(fed, fed_port, prac, prac_port, records, records_port)

    def stop(self, servers: Servers) -> None:
        self._stop.set()
        if self._outbox is not None:
            self._outbox.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        self.alerts.broker.close()
        self.federation_audit.flush()
        servers.federation.stop(grace=1)
        if servers.records is not None:
            servers.records.stop(grace=1)
        servers.practitioner.stop(grace=1).wait()
        self.channel.close()
        self.db.dispose()

    # ---- upkeep ----------------------------------------------------------------------------------------

    def _upkeep_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            interval = self.config.upkeep_interval_ms / 1000
            try:
                self.upkeep()
                self._health.set(self._practitioner_service, health_pb2.HealthCheckResponse.SERVING)
                self._ready.set()
                self.keep_held_filter()  # after readiness: a large council's first build takes seconds
                failures = 0
            except Exception as exc:
                if isinstance(exc, WhoElseError):
                    log.warning("upkeep: %s", exc)
                elif isinstance(exc, grpc.RpcError):
                    code = exc.code() if isinstance(exc, grpc.Call) else exc
                    log.warning("upkeep: directory call failed: %s", code)
                else:
                    log.exception("upkeep failed")
                # Soon after a failed round (the directory restarting), then backing off while it stays down.
                failures += 1
                interval = min(interval, RETRY_S * 2 ** min(failures - 1, 6)) * random.uniform(0.5, 1.0)
            self._stop.wait(interval)

    def _alert_loop(self, outbox: OutboxWaker) -> None:
        """Send queued alerts as soon as the change that queued them commits (node/alerts/wakeup.py), and
        otherwise every `alert_poll_ms`: the fallback that also sends retries once their backoff is past."""
        while not self._stop.is_set():
            outbox.wait(self.config.alert_poll_ms / 1000)
            if self._stop.is_set():
                return
            try:
                self.federation_audit.flush()
                if not self._ready.is_set():
                    continue  # not joined and tokenised yet: the upkeep loop comes first
                self.send_alerts()
            except Exception:
                log.exception("sending alerts failed")

    def join(self) -> str:
        reply = self.directory.Join(
            federation_pb2.JoinRequest(
                council_code=self.settings.council.code,
                council_name=self.settings.council.name,
                endpoint=self.advertise,
                signing_key=self.settings.signing_key.verify_key_bytes,
                sealing_key=self.settings.sealing_key.public_key_bytes,
            ),
            timeout=5,
        )
        return closed_sets.COUNCIL_STATUS.read(reply)

    def keep_held_filter(self) -> None:
        """Build (or rebuild) the in-memory filter of held tags for the current OPRF key id and drop those
        of retired ones (node/federation/held_filter.py). Runs in the upkeep thread, as tokenisation does,
        so that no tag is written while the filter reads them."""
        current = self.councils.current
        if current is None or not current.oprf_key_id:
            return
        self.held_tags.retain({current.oprf_key_id})
        self.held_tags.ensure(current.oprf_key_id)

    def upkeep(self) -> None:
        """One round of background work; safe to call repeatedly (tests call it directly)."""
        self.federation_audit.flush()
        self.run_retention()
        if not self._joined:
            status = self.join()
            self._joined = status == "active"
        try:
            councils = self.councils.refresh(self.fetch_councils)
        except WhoElseError:
            councils = self.councils.require()
        if not councils.oprf_key_id:
            return
        tokenise_pending(
            self.db,
            evaluator(self.directory, councils.oprf_key_id),
            councils.oprf_public_key,
            councils.oprf_key_id,
            held=self.held_tags,
        )
        drop_schemes_except(self.db, {councils.oprf_key_id, *councils.previous_oprf_key_ids})
        self.publish_tree_head()
        if time.monotonic() - self._witnessed_at >= WITNESS_INTERVAL_S:
            self.witness_routing_log()

    def witness_routing_log(self) -> None:
        """Check and co-sign the directory's routing-log head (node/federation/witness.py). A head that does
        not extend the last one witnessed is logged as an error and not co-signed; it never stops the node
        serving (the directory's misconduct is for auditors, who see the missing cosignatures)."""
        self._witnessed_at = time.monotonic()
        try:
            head = self.routing_witness.witness()
        except Refused as exc:
            self.metrics.routing_witness_refusals.inc()
            log.error("routing log not co-signed: %s", exc)
        except WhoElseError as exc:
            log.warning("routing log: %s", exc)
        else:
            if head is not None:
                log.info("routing log co-signed at size %d", head.tree_size)

    def run_retention(self, today: dt.date | None = None) -> None:
        """Archive and purge on the council's schedule, once a day (node/retention.py)."""
        day = today or dt.date.today()
        with self.db.session() as session:
            if not retention.due(session, day):
                return
        done = retention.run(self.db, self.audit, day, by="node upkeep")
        if done.archived or done.purged:
            log.info("retention: archived %d records, purged %d", done.archived, done.purged)

    def send_alerts(self, now: dt.datetime | None = None) -> int:
        """Send the alerts that are due (`now` lets tests step past a backoff). Returns how many were
        delivered to every council they were for."""
        with self._sending:  # one sender at a time, so an item is never sent twice
            return self._send_alerts(now or dt.datetime.now(dt.UTC))

    def _send_alerts(self, now: dt.datetime) -> int:
        """Send each due change as a signed notification to the councils that have not answered it yet
        (routed like a search); only the councils that answer are marked delivered.

        What leaves: the child's match tokens and demographics sealed as in a search, and an AlertEvent
        already filtered by this council's disclosure rules (node/alerts/events.py)."""
        council = self.settings.council
        with self.db.session() as session:
            items = alert_store.pending(session, limit=50, now=now)
            records = records_by_record_id(session, [i.record_id for i in items])
        delivered = 0
        for item in items:
            record = records.get(item.record_id)
            if record is None:
                with self.db.session() as session:
                    alert_store.give_up(session, item.id, f"record {item.record_id} no longer exists", now)
                continue
            waiting: list[str] | None
            try:
                outcome = self.search.send(
                    SYSTEM_SENDER,
                    identity_of(record),
                    Purpose.NOTIFICATION,
                    event=to_proto(item.event, council),
                    only=item.waiting_for,
                )
                self.metrics.answered("alert", outcome)
                if outcome.asked:
                    self.audit.search_sent(
                        outcome.query_id,
                        SYSTEM_SENDER.username,
                        Purpose.NOTIFICATION.value,
                        outcome.asked,
                        outcome.answered,
                    )
                waiting = sorted({code for code, _, _ in outcome.unanswered} - set(outcome.answered))
                error = "; ".join(
                    f"{code}: {reason} ({detail})" for code, reason, detail in outcome.unanswered
                )
            except WhoElseError as exc:
                waiting, error = None, str(exc)  # no council was asked: the same ones wait
            with self.db.session() as session:
                result = alert_store.record_attempt(
                    session, item.id, waiting, self.config.alert_retry, error=error, now=now
                )
            self.metrics.alerts.labels(result.value).inc()
            if result is alert_store.Attempt.DELIVERED:
                delivered += 1
            elif result is alert_store.Attempt.UNDELIVERED:
                log.warning("alert %s undelivered, retries given up: %s", item.id, error)
            else:
                log.info("alert %s will be retried: %s", item.id, error)
        return delivered

    def publish_tree_head(self) -> None:
        """Sign the audit log head and publish it to the directory with a consistency proof from the head the
        directory last accepted: history cannot be rewritten unseen. An idle log signs and publishes nothing
        new."""
        head = self.audit.checkpoint_if_grown()
        if head is None or head.tree_size == self._published_size:
            return
        if self._published_size < 0:  # since start: ask which head the directory holds for this log
            held = self.directory.GetTreeHeads(federation_pb2.TreeHeadsRequest(), timeout=5).heads
            sizes = [h.tree_size for h in held if h.log_id == head.log_id]
            if sizes and sizes[0] == head.tree_size:
                self._published_size = head.tree_size
                return
            self._published_size = sizes[0] if sizes else 0
        with self.db.session() as session:
            proof = self.audit.log.consistency_proof(session, self._published_size, head.tree_size)
        self.directory.PublishTreeHead(
            head_to_wire(head, proof),
            timeout=5,
        )
        self._published_size = head.tree_size


StartPortal = Callable[[int, "NodeRuntime", Servers], Callable[[], None]]


def serve_forever(runtimes: list[NodeRuntime], portal: StartPortal | None = None) -> None:
    """Run one or more councils' nodes in this process until SIGINT or SIGTERM; `portal(i, runtime,
    servers)` starts the i-th council's web portal (node/portal/server.py) and returns how to stop it."""
    started = []
    stops: list[Callable[[], None]] = []
    for runtime in runtimes:
        servers = runtime.start()
        started.append((runtime, servers))
        write_ports(
            runtime.config.state_dir / PORTS_FILE,
            {"federation": servers.federation_port, "practitioner": servers.practitioner_port},
        )
        print(
            f"node {runtime.settings.council.code} ({runtime.settings.council.name}): federation port "
            f"{servers.federation_port}, practitioner port {servers.practitioner_port}",
            flush=True,
        )
        if portal is not None:
            stops.append(portal(len(started) - 1, runtime, servers))
    wait_for_stop()
    for stop in stops:
        stop()
    for runtime, servers in started:
        runtime.stop(servers)
