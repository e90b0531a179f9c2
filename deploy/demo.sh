#!/usr/bin/env bash
# Sentia demo: builds and starts, on this machine, a simulated plant (plant-sim, Modbus TCP),
# the edge agent polling it, and the aggregator (embedded MQTT broker + SQLite + HTTP API).
# Ctrl-C stops everything. Data goes to data/demo/ (delete it for a fresh start).
#
# Environment overrides (defaults avoid the well-known ports 502/1883 that are often taken):
#   SENTIA_MACHINES=10            simulated machines (1..1000)
#   SENTIA_API=127.0.0.1:8470     HTTP API
#   SENTIA_BROKER=127.0.0.1:11883 embedded MQTT broker
#   SENTIA_MODBUS=127.0.0.1:15020 plant-sim Modbus TCP (first listener)
#   SENTIA_PROFILE=release        cargo profile (dev reuses the test build)
#   SENTIA_DATA_DIR=data/demo
set -euo pipefail
cd "$(dirname "$0")/.."

MACHINES=${SENTIA_MACHINES:-10}
API=${SENTIA_API:-127.0.0.1:8470}
BROKER=${SENTIA_BROKER:-127.0.0.1:11883}
MODBUS=${SENTIA_MODBUS:-127.0.0.1:15020}
PROFILE=${SENTIA_PROFILE:-release}
DATA=${SENTIA_DATA_DIR:-data/demo}
TARGET=${CARGO_TARGET_DIR:-target}
case "$PROFILE" in dev) BIN="$TARGET/debug" ;; *) BIN="$TARGET/$PROFILE" ;; esac

echo "Building ($PROFILE profile)..."
cargo build --profile "$PROFILE" -p simulators -p edge-agent -p aggregator -p tests --bins

mkdir -p "$DATA"
pids=()
cleanup() {
    trap - INT TERM EXIT
    echo "Stopping..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

# Starts "$@" with stdout in $DATA/<name>.out and stderr in $DATA/<name>.log, then waits
# for its "<name> ready" line.
start() {
    local name=$1; shift
    : > "$DATA/$name.out"
    "$@" > "$DATA/$name.out" 2> "$DATA/$name.log" &
    pids+=($!)
    for _ in $(seq 1 300); do
        if grep -q "^$name ready" "$DATA/$name.out"; then grep "^$name ready" "$DATA/$name.out"; return 0; fi
        if ! kill -0 "${pids[-1]}" 2>/dev/null; then
            echo "$name exited; its log ($DATA/$name.log):" >&2; tail -n 30 "$DATA/$name.log" >&2; exit 1
        fi
        sleep 0.2
    done
    echo "$name did not become ready in 60 s; see $DATA/$name.log" >&2
    exit 1
}

start aggregator "$BIN/aggregator" run --data-dir "$DATA/aggregator" --api-listen "$API" --broker-listen "$BROKER"
start plant-sim "$BIN/plant-sim" --machines "$MACHINES" --seed 42 --listen "$MODBUS" --map-out "$DATA/register-map.toml"
"$BIN/gen-agent-config" "$DATA/register-map.toml" --broker "mqtt://$BROKER" --data-dir "$DATA/edge-agent" > "$DATA/edge-agent.toml"
"$BIN/edge-agent" check-config "$DATA/edge-agent.toml" | tail -n 1
"$BIN/edge-agent" run --config "$DATA/edge-agent.toml" > /dev/null 2> "$DATA/edge-agent.log" &
pids+=($!)

cat <<MSG

Sentia demo is running ($MACHINES machines).
  Dashboard: http://$API/
  API:       http://$API/api/v1/assets
             http://$API/api/v1/latest?asset=demo/hall-1/line-1/motor-01
             http://$API/metrics
  Broker:    mqtt://$BROKER   (topics sentia/v1/#)
  Modbus:    $MODBUS          (register map: $DATA/register-map.toml)
  Logs:      $DATA/*.log
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
echo "A process exited unexpectedly; see the logs in $DATA." >&2
exit 1
