"""Live delivery of alerts to watching practitioners (the server-streaming WatchAlerts), within one process.

The servicer opens `broker.subscribe(display_name)` for the length of a stream and loops on `get(timeout)`,
checking between calls whether the client is still there; leaving the `with` block unsubscribes. Whoever
stores an alert (after its transaction commits) calls `broker.publish(alert)`.

Each subscriber has a bounded queue, so a stalled client cannot make the node hold alerts without limit: when
the queue is full the oldest alert is dropped and counted in `dropped`. Nothing is lost for good: every alert
is stored and `ListAlerts` shows it.
"""

from __future__ import annotations

import collections
import threading
from types import TracebackType

from whoelse.node.alerts.store import StoredAlert, practitioner_key

DEFAULT_QUEUE_SIZE = 256


class Subscription:
    """One watching stream. Use as a context manager; `get` waits for the next alert."""

    def __init__(self, broker: AlertBroker, key: str, maxsize: int) -> None:
        self._broker = broker
        self.key = key
        self._queue: collections.deque[StoredAlert] = collections.deque(maxlen=maxsize)
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0

    def _offer(self, alert: StoredAlert) -> None:
        with self._ready:
            if self._closed:
                return
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1  # the deque drops the oldest on append
            self._queue.append(alert)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> StoredAlert | None:
        """The next alert, or None after `timeout` seconds or once the subscription is closed."""
        with self._ready:
            self._ready.wait_for(lambda: bool(self._queue) or self._closed, timeout)
            return self._queue.popleft() if self._queue else None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Unsubscribe and wake any waiting `get` (idempotent)."""
        with self._ready:
            self._closed = True
            self._queue.clear()
            self._ready.notify_all()
        self._broker._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AlertBroker:
    """Publish/subscribe of stored alerts to the streams of the practitioners they are for (thread-safe)."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = {}

    def subscribe(self, practitioner_display_name: str) -> Subscription:
        subscription = Subscription(self, practitioner_key(practitioner_display_name), self._queue_size)
        with self._lock:
            self._subscribers.setdefault(subscription.key, set()).add(subscription)
        return subscription

    def publish(self, alert: StoredAlert) -> int:
        """Hand `alert` to every stream of its practitioner. Returns how many streams it reached."""
        with self._lock:
            targets = list(self._subscribers.get(practitioner_key(alert.practitioner_name), ()))
        for subscription in targets:
            subscription._offer(alert)
        return len(targets)

    def subscriber_count(self, practitioner_display_name: str | None = None) -> int:
        """How many streams are open (for one practitioner, or in all)."""
        with self._lock:
            if practitioner_display_name is not None:
                return len(self._subscribers.get(practitioner_key(practitioner_display_name), ()))
            return sum(len(subs) for subs in self._subscribers.values())

    def close(self) -> None:
        """Close every stream, e.g. when the server stops, so no `get` keeps a thread waiting."""
        with self._lock:
            everyone = [s for subs in self._subscribers.values() for s in subs]
        for subscription in everyone:
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(subscription.key)
            if subs is not None:
                subs.discard(subscription)
                if not subs:  # no empty entries left behind by practitioners who disconnected
                    del self._subscribers[subscription.key]
