#!/usr/bin/env bash
# A real two-node Ray cluster on this machine, token authentication on: a sweep of 6 small cases
# with 2 processes each, and the second node's raylet killed (SIGKILL) while a case process runs
# on it. Every case should end ok, the lost process run again on the head node, its row saying
# so (retries, lost_nodes). Then a driver without the token: one line, exit status 2.
#
#   bash benchmarks/ray_node_loss.sh [RESULTS_DIR]
#
# Ray's sessions, its token and HOME live in a temporary folder, removed at the end with the
# cluster; nothing is left in ~/.ray or /tmp/ray. Needs `pip install -e .[ray]`.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
ray=$(dirname "$python")/ray
results=${1:-$(mktemp -d)/results}
scratch=$(mktemp -d /tmp/abray-loss-XXXX)  # short: Ray's socket paths must fit 107 characters
export HOME=$scratch RAY_TMPDIR=$scratch RAY_AUTH_MODE=token
port=$((6400 + RANDOM % 500))
cleanup() {  # this cluster's processes: those whose environment has its RAY_TMPDIR
    "$python" - "$scratch" <<'EOF'
import contextlib, sys, time, psutil
me = psutil.Process().pid
for _ in range(3):  # a raylet being killed may start an agent meanwhile
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.pid != me and process.environ().get("RAY_TMPDIR") == sys.argv[1]:
                process.kill()
    time.sleep(1)
EOF
    rm -rf "$scratch"
}
trap cleanup EXIT

"$ray" get-auth-token --generate >/dev/null 2>&1
"$ray" start --head --port "$port" --num-cpus 1 --node-ip-address 127.0.0.1 \
    --include-dashboard false --disable-usage-stats >/dev/null
"$ray" start --address "127.0.0.1:$port" --num-cpus 1 --node-ip-address 127.0.0.1 >/dev/null
second_raylet=$(pgrep -f "raylet/raylet .*sockets/raylet\.1" | head -1)
echo "cluster: head + 1 node on 127.0.0.1:$port, token auth; second node's raylet: pid $second_raylet"

# kill the second node's raylet as soon as a case process runs under it
"$python" - "$second_raylet" <<'EOF' &
import sys, time, psutil
raylet = psutil.Process(int(sys.argv[1]))
while True:
    workers = [p for p in raylet.children(recursive=True)
               if "harness.case.worker" in " ".join(p.cmdline())]
    if workers:
        time.sleep(1.0)  # mid-case
        raylet.kill()
        print(f"{time.strftime('%T')} killed the second node's raylet while case process "
              f"{workers[0].pid} ran on it", flush=True)
        break
    time.sleep(0.1)
EOF
killer=$!

start=$(date +%s)
"$python" -m harness.cli run --executor ray --ray-address "127.0.0.1:$port" \
    --suite cnn --suite rnn --suite transformer --size tiny --backend cpu-eager --backend ort-cpu \
    --phase infer --scenario latency --quick --processes 2 --no-progress \
    --results "$results" --run-id node-loss | tail -9
echo "sweep: $(( $(date +%s) - start )) s"
wait "$killer"
"$python" - "$results/node-loss" <<'EOF'
import sys
import pandas as pd
rows = pd.read_parquet(f"{sys.argv[1]}/results.parquet")
pd.set_option("display.width", 250, "display.max_colwidth", 120)
print(rows[["case_id", "status", "processes", "retries", "cluster_auth", "lost_nodes"]]
      .to_string(index=False))
EOF

echo "--- a driver without the cluster's token:"
set +e
HOME=$scratch/stranger RAY_AUTH_MODE= "$python" -m harness.cli run --executor ray \
    --ray-address "127.0.0.1:$port" --suite cnn --size tiny --quick --no-progress \
    --results "$results" 2>&1 | grep -v "gcs_client.cc"
echo "exit status: ${PIPESTATUS[0]}"
