#!/bin/sh
# Starts a coordinator in a temporary directory, runs each benchmark against
# it, stops it. Benchmarks print figures; nothing here asserts on time.
set -eu
BUILD=${CAIRN_BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
    return 0
}
trap cleanup EXIT
"$BUILD/bin/cairn-coordinator" --data-dir "$dir/coord" --listen "tcp://127.0.0.1:*" \
    2>"$dir/coord.log" &
pid=$!
for _ in $(seq 200); do
    endpoint=$(sed -n 's/.*event=listening endpoint=\([^ ]*\).*/\1/p' "$dir/coord.log")
    [ -n "$endpoint" ] && break
    sleep 0.05
done
[ -n "$endpoint" ] || { cat "$dir/coord.log"; exit 1; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); date: $(date -u +%Y-%m-%d)"
for b in "$@"; do
    echo "== $(basename "$b")"
    "$b" "$endpoint" "$dir/coord"
done
kill -TERM $pid
wait $pid
pid=
grep 'event=stats' "$dir/coord.log" | tail -n 1
