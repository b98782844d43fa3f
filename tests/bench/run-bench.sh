#!/bin/sh
# Starts a coordinator and a cairn-agent forwarding to it, in a temporary
# directory, reports the agent's idle footprint, runs each benchmark against
# them, stops them. Benchmarks print figures; nothing here asserts on time.
# Each benchmark gets the coordinator's endpoint and data directory as
# arguments and the agent's SDK endpoint as $CAIRN_BENCH_AGENT.
set -eu
BUILD=${CAIRN_BUILD:-build}
IDLE_S=${CAIRN_BENCH_IDLE_S:-10}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-XXXXXX")
pid=
agent_pid=
cleanup() {
    for p in $agent_pid $pid; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$dir"
    return 0
}
trap cleanup EXIT

# wait_log FILE REGEX: the first match's group 1, once FILE has it (10 s at most).
wait_log() {
    for _ in $(seq 200); do
        v=$(sed -n "s/$2/\\1/p" "$1" | head -n 1)
        [ -n "$v" ] && { echo "$v"; return 0; }
        sleep 0.05
    done
    cat "$1" >&2
    return 1
}

# mem PID: resident memory from smaps_rollup, in MiB.
mem() {
    awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Shared_/ {s+=$2} /^Private_/ {v+=$2}
         END {printf "RSS %.2f MiB (private %.2f MiB, shared %.2f MiB, PSS %.2f MiB)", r/1024, v/1024, s/1024, p/1024}' \
        "/proc/$1/smaps_rollup"
}

# mem_top PID: the mappings holding the most resident memory, in KiB, the way
# smaps shows them: the libraries the process maps, its heap, its stacks.
mem_top() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / {n = ($6 == "") ? "[anon]" : $6; sub(".*/", "", n)}
         /^Rss:/ {r[n] += $2} /^Private_/ {v[n] += $2}
         END {for (n in r) if (r[n]) printf "%d %d %s\n", r[n], v[n], n}' "/proc/$1/smaps" |
        sort -rn | head -n 8 | awk '{printf "%s%s %d KiB (%d private)", (NR > 1 ? ", " : ""), $3, $1, $2} END {print ""}'
}

# cpu PID: "ticks wakeups": utime+stime of the process and the context switches
# (voluntary and not) of all its threads, so far.
cpu() {
    t=$(awk '{print $14 + $15}' "/proc/$1/stat")
    w=$(cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}')
    echo "$t $w"
}

"$BUILD/bin/cairn-coordinator" --data-dir "$dir/coord" --listen "tcp://127.0.0.1:*" \
    2>"$dir/coord.log" &
pid=$!
endpoint=$(wait_log "$dir/coord.log" '.*event=listening endpoint=\([^ ]*\).*')

: >"$dir/agent.conf"
"$BUILD/bin/cairn-agent" -c "$dir/agent.conf" --data-dir "$dir/agent" \
    --sdk-endpoint "ipc://$dir/agent.sock" --coordinator "$endpoint" 2>"$dir/agent.log" &
agent_pid=$!
wait_log "$dir/agent.log" '.*event=\(connected\).*' >/dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); date: $(date -u +%Y-%m-%d)"
echo "== cairn-agent, idle"
sleep 1
echo "idle after start: $(mem $agent_pid)"
echo "largest: $(mem_top $agent_pid)"
before=$(cpu $agent_pid)
sleep "$IDLE_S"
after=$(cpu $agent_pid)
echo "$before $after" | awk -v s="$IDLE_S" -v hz="$(getconf CLK_TCK)" \
    '{printf "idle over %d s: %d CPU ticks of 1/%d s, %d wake-ups (context switches of all threads)\n", s, $3 - $1, hz, $4 - $2}'

export CAIRN_BENCH_AGENT="ipc://$dir/agent.sock"
export CAIRN_BENCH_COORDINATOR_PID=$pid
hz=$(getconf CLK_TCK)
for b in "$@"; do
    echo "== $(basename "$b")"
    c0=$(cpu $pid) a0=$(cpu $agent_pid)
    "$b" "$endpoint" "$dir/coord"
    echo "$c0 $(cpu $pid) $a0 $(cpu $agent_pid)" | awk -v hz="$hz" \
        '{printf "CPU used meanwhile: coordinator %.2f s, agent %.2f s\n", ($3 - $1) / hz, ($7 - $5) / hz}'
done

echo "== cairn-agent, after the benchmarks"
echo "after the load: $(mem $agent_pid)"
echo "largest: $(mem_top $agent_pid)"
kill -TERM $agent_pid
wait $agent_pid
agent_pid=
grep 'event=stats' "$dir/agent.log" | tail -n 1
kill -TERM $pid
wait $pid
pid=
grep 'event=stats' "$dir/coord.log" | tail -n 1
