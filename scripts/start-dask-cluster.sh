#!/usr/bin/env bash
# Start a Dask scheduler and two worker processes on loopback, as separate processes (the way
# another machine's workers would join); prints the scheduler's address once both workers joined.
# Usage: export STORYTHREADS_TEST_DASK_CLUSTER=$(scripts/start-dask-cluster.sh)
# Stop them with: kill $(cat /tmp/storythreads-dask/pids)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
PORT="${DASK_PORT_TEST:-48786}"
LOGS="${DASK_LOGS_TEST:-/tmp/storythreads-dask}"
ADDRESS="tcp://127.0.0.1:$PORT"
mkdir -p "$LOGS"
# the tests send functions of their own (tests/) to the workers: the checkout is on their path
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -f "$LOGS/pids" ]; then kill $(cat "$LOGS/pids") 2>/dev/null || true; sleep 1; fi
: > "$LOGS/pids"
setsid "$BIN/dask" scheduler --host 127.0.0.1 --port "$PORT" --no-dashboard >"$LOGS/scheduler.log" 2>&1 &
echo $! >> "$LOGS/pids"
for name in worker-1 worker-2; do
    setsid "$BIN/dask" worker "$ADDRESS" --name "$name" --nworkers 1 --nthreads 1 --no-dashboard \
        --host 127.0.0.1 >"$LOGS/$name.log" 2>&1 &
    echo $! >> "$LOGS/pids"
done
"$BIN/python" - "$ADDRESS" <<'PY'
import sys
from distributed import Client
with Client(sys.argv[1], timeout=60) as client:
    client.wait_for_workers(2, timeout=120)
PY
echo "$ADDRESS"
