"""This council witnesses the directory's routing log (federation/witness.py): it fetches the routing log's
newest head with a consistency proof from the last head it witnessed, checks both, co-signs the new head
and keeps it as the next starting point.

What leaves the node: its cosignature (a signature over the head's size and root), to the directory. What
it keeps: the last head witnessed, in the node's state folder (`routing-head.json`, 0600), so a rewritten
or forked routing log is caught across restarts too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import grpc

from whoelse.federation.errors import InvalidInput, Refused, Unavailable
from whoelse.federation.merkle import SignedTreeHead
from whoelse.federation.signing import SigningKey
from whoelse.federation.transparency_log import head_from_json, head_to_json
from whoelse.federation.tree_head_wire import head_from_wire
from whoelse.federation.witness import ROUTING_LOG_ID, check_extends, cosign
from whoelse.v1 import federation_pb2, federation_pb2_grpc

STATE_FILE = "routing-head.json"


class RoutingWitness:
    def __init__(
        self,
        directory: federation_pb2_grpc.DirectoryStub,
        directory_key: bytes,
        signing_key: SigningKey,
        state_dir: Path,
    ) -> None:
        self._directory = directory
        self._directory_key = directory_key
        self._signing_key = signing_key
        self._state = state_dir / STATE_FILE

    def last_witnessed(self) -> SignedTreeHead | None:
        """The last routing-log head this council co-signed, or None before the first."""
        try:
            text = self._state.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return head_from_json(json.loads(text), str(self._state))
        except (ValueError, InvalidInput) as exc:
            raise InvalidInput(
                f"{self._state}: not a routing-log head; move it aside to start again"
            ) from exc

    def witness(self) -> SignedTreeHead | None:
        """Check and co-sign the routing log's newest head; returns it, or None if it has not grown.

        Raises Refused, naming why, if the directory's head is not signed by the pinned directory key, is
        smaller than the last one witnessed or does not extend it (nothing is co-signed, and the last head
        witnessed stays the starting point); Unavailable if the directory cannot be reached."""
        previous = self.last_witnessed()
        request = federation_pb2.TreeHeadsRequest(routing_from_size=previous.tree_size if previous else 0)
        try:
            response = self._directory.GetTreeHeads(request, timeout=10)
        except grpc.RpcError as exc:
            raise Unavailable(
                f"routing-log head: directory said {exc.code().name}: {exc.details()}"
            ) from None
        found = [h for h in response.heads if h.log_id == ROUTING_LOG_ID]
        if not found:
            raise Refused("the directory returned no routing-log head")
        message = found[-1]
        head = head_from_wire(message)
        if previous is not None and (head.tree_size, head.root_hash) == (
            previous.tree_size,
            previous.root_hash,
        ):
            return None
        check_extends(previous, head, [bytes(h) for h in message.consistency_proof], self._directory_key)
        signature = cosign(head, self._signing_key)
        try:
            self._directory.CosignRoutingHead(
                federation_pb2.Cosignature(
                    tree_size=head.tree_size, root_hash=head.root_hash, signature=signature
                ),
                timeout=10,
            )
        except grpc.RpcError as exc:
            raise Unavailable(
                f"routing-log cosignature: directory said {exc.code().name}: {exc.details()}"
            ) from None
        self._keep(head)
        return head

    def _keep(self, head: SignedTreeHead) -> None:
        partial = self._state.with_suffix(".tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(head_to_json(head), out)
        os.replace(partial, self._state)
