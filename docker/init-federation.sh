#!/usr/bin/env bash
# One-off job run before anything serves (the compose `init` service): builds the federation's PKI and
# keys, writes the synthetic records, and enrols every council at the directory. Safe to run again: each
# step is skipped when its output already exists, and re-enrolling a council only refreshes its entry.
#
# Every file goes to a volume that only its users mount, so a council never sees the CA key, the
# directory's secrets or another council's private key:
#   $WHOELSE_CA_DIR          ca.key, ca.crt                                  (this job only)
#   $WHOELSE_DIRECTORY_DIR   directory.sqlite, keys/ (signing + match-token secrets), tls/
#   $WHOELSE_SYNTH_DIR       synthetic records, one file per council, and practitioners.jsonl
#   $WHOELSE_COUNCILS_DIR/<service>   tls/ (ca.crt, CODE.crt, CODE.key), directory.pub, state/
#
# $WHOELSE_COUNCILS lists one council a line: SERVICE CODE FEDERATION_ENDPOINT DATABASE_URL NAME…
# Councils are enrolled with `whoelse directory add` rather than Join + approve: this job can read each
# node's public keys straight from its database (`whoelse node init` creates them), so no operator step
# is needed. The endpoint must be the node's own WHOELSE_NODE_LISTEN_FEDERATION, because a node re-joins
# with that address on start and the directory keeps the latest one.
set -euo pipefail

: "${WHOELSE_CA_DIR:?}" "${WHOELSE_DIRECTORY_DIR:?}" "${WHOELSE_SYNTH_DIR:?}" "${WHOELSE_COUNCILS_DIR:?}"
: "${WHOELSE_COUNCILS:?}" "${WHOELSE_DIRECTORY_HOST:?}"
children="${WHOELSE_SYNTH_CHILDREN:-600}"
seed="${WHOELSE_SYNTH_SEED:-7}"
directory_db="$WHOELSE_DIRECTORY_DIR/directory.sqlite"
directory_keys="$WHOELSE_DIRECTORY_DIR/keys"

json_field() {  # json_field FIELD: one field of the JSON object on stdin
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# issue NAME OUT_DIR HOST: a certificate for NAME reachable as HOST (and localhost, for health checks and
# practitioners on the host's published ports), plus the CA certificate it chains to.
issue() {
    local name=$1 out=$2 host=$3
    mkdir -p "$out"
    if [[ ! -e "$out/$name.crt" ]]; then
        whoelse ca issue --dir "$WHOELSE_CA_DIR" --name "$name" --dns "$host" --dns localhost \
            --ip 127.0.0.1 --out "$out"
    fi
    cp "$WHOELSE_CA_DIR/ca.crt" "$out/ca.crt"
}

mkdir -p "$WHOELSE_CA_DIR" "$WHOELSE_DIRECTORY_DIR" "$WHOELSE_SYNTH_DIR"
if [[ ! -e "$WHOELSE_CA_DIR/ca.key" ]]; then
    whoelse ca init --dir "$WHOELSE_CA_DIR"
fi
issue directory "$WHOELSE_DIRECTORY_DIR/tls" "$WHOELSE_DIRECTORY_HOST"
if [[ ! -e "$directory_keys/directory.pub" ]]; then
    whoelse directory init --db "$directory_db" --dir "$directory_keys"
fi

codes=$(awk 'NF { printf "%s%s", sep, $2; sep = "," }' <<<"$WHOELSE_COUNCILS")
if [[ ! -e "$WHOELSE_SYNTH_DIR/manifest.json" ]]; then
    whoelse synth --councils "$codes" --children "$children" --seed "$seed" --out "$WHOELSE_SYNTH_DIR"
fi

while read -r service code endpoint database name; do
    [[ -n "$service" ]] || continue
    node_dir="$WHOELSE_COUNCILS_DIR/$service"
    mkdir -p "$node_dir/state"
    # The node's keys go on its own volume (/node/keys in its container), never into its database.
    export WHOELSE_NODE_KEYS="$node_dir/keys"
    whoelse node init --db "$database" --council "$code" --name "$name" \
        --records-contact "$name children's records team, records@${code,,}.whoelse.test"
    issue "$code" "$node_dir/tls" "$service"
    cp "$directory_keys/directory.pub" "$node_dir/directory.pub"
    keys=$(whoelse node keys --db "$database")
    whoelse directory add "$code" --db "$directory_db" --name "$name" --endpoint "$endpoint" \
        --signing-key "$(json_field signing_key <<<"$keys")" \
        --sealing-key "$(json_field sealing_key <<<"$keys")" \
        --cert "$node_dir/tls/$code.crt"
    unset WHOELSE_NODE_KEYS
done <<<"$WHOELSE_COUNCILS"

# This job runs as root so it can write to fresh volumes; the services run as an unprivileged user.
if [[ -n "${WHOELSE_OWNER:-}" ]]; then
    chown -R "$WHOELSE_OWNER" "$WHOELSE_DIRECTORY_DIR" "$WHOELSE_SYNTH_DIR" "$WHOELSE_COUNCILS_DIR"/*/
fi
echo "federation ready: directory and councils $codes enrolled"
