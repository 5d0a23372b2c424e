#!/usr/bin/env bash
# A council node container: wait for its PostgreSQL, load its synthetic records on first start, create
# the demo practitioner accounts, then run `whoelse node serve` with every setting taken from the
# WHOELSE_NODE_* variables (node/config.py). The init job has already run `whoelse node init` against
# this database and enrolled the council at the directory.
set -euo pipefail

: "${WHOELSE_NODE_DATABASE:?}" "${WHOELSE_NODE_STATE_DIR:?}" "${WHOELSE_NODE_TLS_CA:?}"
: "${WHOELSE_NODE_LISTEN_PRACTITIONER:?}" "${WHOELSE_SYNTH_DIR:?}"
# `whoelse node serve` reads its settings from a file; this one is empty, so the variables supply them all
# (the name avoids the WHOELSE_NODE_ prefix, which node/config.py reserves for its own keys).
here=$(dirname "${BASH_SOURCE[0]}")
config="${WHOELSE_CONFIG_FILE:-$here/node-env-only.yaml}"
db="$WHOELSE_NODE_DATABASE"

# depends_on already waits for the database's health check; this covers a database restarting under us.
for attempt in $(seq 1 30); do
    if whoelse node migrate --db "$db" >/dev/null; then
        break
    fi
    if [[ "$attempt" == 30 ]]; then
        echo "whoelse: error: database not reachable after 30 attempts" >&2
        exit 1
    fi
    sleep 2
done

code=$(whoelse node keys --db "$db" | python3 -c 'import json, sys; print(json.load(sys.stdin)["council"])')
mkdir -p "$WHOELSE_NODE_STATE_DIR"
imported="$WHOELSE_NODE_STATE_DIR/synthetic-records-imported"
if [[ ! -e "$imported" ]]; then
    # The first load of a council's records is not news to anyone: no alerts.
    whoelse node import "$WHOELSE_SYNTH_DIR/$code.jsonl" --db "$db" --quiet --no-alerts
    touch "$imported"
fi

credentials="$WHOELSE_NODE_STATE_DIR/practitioners.json"
if [[ ! -e "$credentials" ]]; then
    whoelse node seed-practitioners --db "$db" --from "$WHOELSE_SYNTH_DIR/practitioners.jsonl" \
        --out "$credentials"
fi
# STATE_DIR/federation.json lets `whoelse search --dir STATE_DIR --as USER` run inside this container.
python3 "$here/federation_file.py" --credentials "$credentials" --ca "$WHOELSE_NODE_TLS_CA" \
    --endpoint "localhost:${WHOELSE_NODE_LISTEN_PRACTITIONER##*:}" --data "$WHOELSE_SYNTH_DIR" \
    --out "$WHOELSE_NODE_STATE_DIR/federation.json"

# The web portal (docs/portal.md) on WHOELSE_PORTAL_PORT, over HTTPS with the node's own certificate.
portal=()
if [[ -n "${WHOELSE_PORTAL_PORT:-}" ]]; then
    portal=(--portal-port "$WHOELSE_PORTAL_PORT" --portal-host 0.0.0.0)
fi
exec whoelse node serve --config "$config" "${portal[@]}"
