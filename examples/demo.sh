#!/bin/sh
# make demo: a coordinator with embedded defaults, a few tracked runs logged
# through the CLI the way a CI job would, then the runs ranked by AUC and the
# best one in detail. State lives in ./.cairn/demo (removed at the start).
set -eu
BUILD=${CAIRN_BUILD:-build}
BIN="$BUILD/bin"
STATE=.cairn/demo
rm -rf "$STATE"
mkdir -p "$STATE"

"$BIN/cairn-coordinator" --data-dir "$STATE/coordinator" --listen "ipc://$PWD/$STATE/coordinator.sock" \
    2>"$STATE/coordinator.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
export CAIRN_COORDINATOR="ipc://$PWD/$STATE/coordinator.sock"
for _ in $(seq 100); do "$BIN/cairn" --timeout 200ms ping >/dev/null 2>&1 && break; sleep 0.05; done

echo "== logging three training runs of experiment 'churn'"
for depth in 4 8 16; do
    run=$("$BIN/cairn" runs start --experiment churn --name "rf-depth-$depth" --tag team=growth)
    set -- --param model=random_forest --param max_depth=$depth
    for step in 1 2 3 4 5; do
        loss=$(awk -v d=$depth -v s=$step 'BEGIN { printf "%.4f", 0.7 / (s * (1 + d / 16)) }')
        set -- "$@" --metric "loss=$loss@$step"
    done
    auc=$(awk -v d=$depth 'BEGIN { printf "%.3f", 0.80 + 0.1 * (1 - 4 / d) - (d > 8 ? 0.03 : 0) }')
    printf 'depth=%s auc=%s\n' "$depth" "$auc" > "$STATE/model-$depth.txt"
    "$BIN/cairn" runs log "$run" "$@" --metric "auc=$auc@5" --artifact "$STATE/model-$depth.txt"
    "$BIN/cairn" runs end "$run"
    echo "run $run  max_depth=$depth  auc=$auc"
done

echo
echo "== cairn runs list --experiment churn --order-by 'metrics.auc DESC'"
"$BIN/cairn" runs list --experiment churn --order-by "metrics.auc DESC"
best=$("$BIN/cairn" runs list --experiment churn --order-by "metrics.auc DESC" --max 1 --json |
    sed -n 's/^ *"id": "\([0-9A-Z]*\)".*/\1/p' | head -n 1)
echo
echo "== cairn runs show $best"
"$BIN/cairn" runs show "$best"
echo
echo "== cairn metrics $best loss"
"$BIN/cairn" metrics "$best" loss
echo
echo "== cairn events (the audit log)"
"$BIN/cairn" events

kill -TERM $pid
wait $pid
trap - EXIT
echo
echo "coordinator stopped cleanly; its log is $STATE/coordinator.log"
