#!/bin/sh
# make demo: a coordinator and an agent with embedded defaults; the scikit-learn churn example
# (examples/churn/train.py) training five models and logging them through the
# Python SDK (sdk/python); then, with the CLI, the runs ranked by AUC, the best
# one in detail, its per-step validation AUC and its model downloaded back.
# State lives in ./.cairn/demo (removed at the start); the daemons' sockets in a
# directory of their own under $TMPDIR (an ipc path has room for ~100 bytes,
# which a checkout deep in a file tree would pass).
set -eu
BUILD=${CAIRN_BUILD:-build}
BIN="$BUILD/bin"
STATE=.cairn/demo
rm -rf "$STATE"
mkdir -p "$STATE"
SOCKETS=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo-XXXXXX")

# ---- daemons: started in order, stopped in reverse order by stop_daemons ----

daemons="" # "name:pid" of each daemon started, newest first

start_daemon() { # NAME COMMAND [ARGS]: runs it in the background, stderr to $STATE/NAME.log
    name=$1
    shift
    "$@" 2>"$STATE/$name.log" &
    daemons="$name:$! $daemons"
}

wait_until() { # DESCRIPTION COMMAND [ARGS]: retries for up to 5 s
    what=$1
    shift
    for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "demo: $what did not come up; see $STATE/*.log" >&2
    return 1
}

stop_daemons() { # SIGTERM each, newest first; fails when one does not exit 0
    rc=0
    for d in $daemons; do
        name=${d%%:*}
        pid=${d#*:}
        kill -TERM "$pid" 2>/dev/null || true
        if wait "$pid"; then
            echo "$name stopped cleanly; its log is $STATE/$name.log"
        else
            echo "demo: $name exited with status $?; see $STATE/$name.log" >&2
            rc=1
        fi
    done
    daemons=""
    return $rc
}
trap 'stop_daemons >/dev/null 2>&1 || true; rm -rf "$SOCKETS"' EXIT
trap 'exit 130' INT TERM

# A python3 that has scikit-learn: Debian's python3-sklearn lives in /usr/bin/python3's
# dist-packages, which another python3 first on PATH (pyenv, a venv) does not see.
pick_python() {
    for py in ${PYTHON:-} python3 /usr/bin/python3; do
        if "$py" -c 'import sklearn, numpy' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    echo "demo: no python3 with scikit-learn and numpy found" \
        "(apt-get install python3-sklearn python3-numpy, or set PYTHON)" >&2
    return 1
}
PY=$(pick_python)

# ---- the coordinator ----

export CAIRN_COORDINATOR="ipc://$SOCKETS/coordinator.sock"
start_daemon coordinator "$BIN/cairn-coordinator" --data-dir "$STATE/coordinator" \
    --listen "$CAIRN_COORDINATOR"
wait_until "the coordinator" "$BIN/cairn" --timeout 200ms ping

# ---- the host agent: training code logs to it, it spools and forwards ----

export CAIRN_AGENT="ipc://$SOCKETS/agent.sock"
start_daemon agent "$BIN/cairn-agent" --data-dir "$STATE/agent" --sdk-endpoint "$CAIRN_AGENT" \
    --coordinator "$CAIRN_COORDINATOR" --label role=training --label demo=churn
wait_until "the agent" "$BIN/cairn" --coordinator "$CAIRN_AGENT" --timeout 200ms ping
wait_until "the agent's hello" sh -c "\"$BIN/cairn\" agents --json | grep -q '\"up\"'"
echo "== cairn agents"
"$BIN/cairn" agents
echo
# The SDK logs through the agent ($CAIRN_AGENT wins over $CAIRN_COORDINATOR for
# writes); the CLI reads the coordinator.

# ---- training, logged through the Python SDK ----

echo "== $PY examples/churn/train.py (experiment 'churn')"
case $BUILD in # the libcairn just built
/*) export CAIRN_LIBRARY="$BUILD/lib/libcairn.so" ;;
*) export CAIRN_LIBRARY="$PWD/$BUILD/lib/libcairn.so" ;;
esac
PYTHONPATH="$PWD/sdk/python${PYTHONPATH:+:$PYTHONPATH}" "$PY" examples/churn/train.py

# The agent acknowledged every write once it was in its spool; it forwards
# them in order, so once every run reads FINISHED at the coordinator all of
# their points have arrived.
all_finished() {
    out=$("$BIN/cairn" runs list --experiment churn --json)
    [ "$(echo "$out" | grep -c '"status": "FINISHED"')" -ge 5 ]
}
wait_until "the agent's forwarding" all_finished

# ---- reading it back with the CLI ----

echo
echo "== cairn runs list --experiment churn --order-by 'metrics.auc DESC'"
"$BIN/cairn" runs list --experiment churn --order-by "metrics.auc DESC"
best=$("$BIN/cairn" runs list --experiment churn --order-by "metrics.auc DESC" --max 1 --json |
    sed -n 's/^ *"id": "\([0-9A-Z]*\)".*/\1/p' | head -n 1)
echo
echo "== cairn runs show $best"
"$BIN/cairn" runs show "$best"
echo
echo "== cairn metrics $best val_auc (validation AUC as the model grew)"
"$BIN/cairn" metrics "$best" val_auc
echo
echo "== cairn datasets show churn-train (one version: every run trained on the same rows)"
"$BIN/cairn" datasets show churn-train
echo
echo "== cairn artifacts get $best model.pkl"
"$BIN/cairn" artifacts get "$best" model.pkl -o "$STATE/best-model.pkl"
"$PY" -c 'import pickle, sys
model = pickle.load(open(sys.argv[1], "rb"))
print("unpickled:", model)' "$STATE/best-model.pkl"
echo
echo "== cairn models register churn --run $best --artifact model.pkl"
version=$("$BIN/cairn" models register churn --run "$best" --artifact model.pkl \
    --description "best validation AUC of the demo's runs")
echo "registered churn version $version"
"$BIN/cairn" models alias churn champion "$version" --reason "best validation AUC"
"$BIN/cairn" models stage churn "$version" Production --reason "demo"
echo
echo "== cairn lineage churn@champion (the version, its run, data, code and history)"
"$BIN/cairn" lineage churn@champion
echo
echo "== cairn models history churn"
"$BIN/cairn" models history churn
echo
echo "== cairn events --max 5 (the start of the audit log)"
"$BIN/cairn" events --max 5

echo
stop_daemons
rm -rf "$SOCKETS"
trap - EXIT
