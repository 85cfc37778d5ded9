#!/usr/bin/env bash
# The reference server's numbers (issue 11): enrollments/s, resident memory with N devices
# enrolled, peak idle check-ins/s, p50/p99 at 80 % of the peak (open loop), the check-in with
# 5 queued commands, statements per session, full and resumed TLS handshakes apart, and the
# transport floor (examples/reference-server/examples/transport_floor.rs) with the same
# sessions, connection pattern and sizes, in the same run: SQLite, then PostgreSQL (a private
# cluster on 127.0.0.1, stopped at exit). Loopback only. Method and results:
# docs/benchmarks.md, "Reference server".
#
# The resumed-TLS runs (peak search, open loop at 80 %, 5 Gets, and their floor runs) use
# 1,000 of the devices (--quick: all 500) and `load --warmup`: every device makes one
# session first, not counted, because the load generator keeps its TLS tickets in memory
# and each device's first session of a run would otherwise be a full handshake (with
# 1,000 devices those make a backlog at the start that dominates p99). The full-handshake
# runs use all devices with --no-resume, after a warm-up too (every device's first
# check-in after enrollment, which delivers the commands queued at enrollment: its rate
# is reported on its own row). The open loop's p50 / p99 count
# from each session's scheduled start (start delays included: no coordinated omission).
# The server's CPU and statements per session of a warmed-up run are sampled after its
# warm-up (load --ready-file).
#
#   benches/server/run.sh            # 10,000 devices (9 min 15 s before the warm-ups were
#                                    # added; they add 9 x 1,000 untimed sessions per store)
#   benches/server/run.sh --quick    # 500 devices, short runs (about 70 s once built before
#                                    # the warm-ups; about 2 minutes with them on a shared machine)
#   benches/server/run.sh --out DIR  # where the raw JSON lines and the table go
#                                    # (default: $CARGO_TARGET_DIR or target, bench-server/)
#   benches/server/run.sh --sqlite-only | --postgres-only
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the run too
cd "$(dirname "$0")/../.."

quick=0; out=; stores="sqlite postgres"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="$2"; shift ;;
    --sqlite-only) stores=sqlite ;;
    --postgres-only) stores=postgres ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$quick" = 1 ]; then
  devices=500         # enrolled per store
  warm=500            # devices of the resumed-TLS runs, each warmed up (--warmup: one
                      # untimed session first, so that the timed ones all resume TLS)
  dur=3               # seconds per closed-loop run
  rate_dur=4          # seconds per open-loop run
  levels="8 32"       # concurrency of the peak search
else
  devices=10000
  warm=1000
  dur=8
  rate_dur=15
  levels="4 8 16 32 64"
fi
enroll_c=32           # enrollments in progress at once
# The resumed-TLS runs and their floor runs: the load generator on one runtime thread
# (load --threads 1), which leaves the server more of the 2 cores at the same peak. The
# full-handshake runs keep one per core: the client's RSA signing needs them.
T1=(--threads 1)

target="${CARGO_TARGET_DIR:-target}"
out="${out:-$target/bench-server/$(date -u +%Y%m%dT%H%M%SZ)$(if [ "$quick" = 1 ]; then echo -quick; fi)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
raw="$out/runs.jsonl"; : >"$raw"

# Everything started below is stopped at exit.
work=; server_pid=; floor_pid=; sampler_pid=; pg_bin=; pg_dir=
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
stop() { # PID: SIGTERM, then wait
  if [ -n "${1:-}" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi
}
cleanup() {
  stop "$sampler_pid"; stop "$floor_pid"; stop "$server_pid"
  if [ -n "$work" ] && [ -f "$work/floor.pid" ]; then stop "$(cat "$work/floor.pid")"; fi
  if [ -n "$pg_dir" ]; then
    as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast -w stop" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "== load average at the start: $(uptime | sed 's/.*load average: //') (figures mean something only on an otherwise idle machine)"
echo "== output: $out"
{ echo "started: $(date -u +%FT%TZ)"; echo "uptime at start: $(uptime)"; echo "quick: $quick"; } >"$out/conditions.txt"

echo "== building (release)"
cargo build -q --release -p winmdm-reference-server --bin winmdm-server --example transport_floor
cargo build -q --release -p winmdm-device-emulator --bin winmdm-device
server_bin="$target/release/winmdm-server"
floor_bin="$target/release/examples/transport_floor"
device_bin="$target/release/winmdm-device"
work="$(mktemp -d)"
chmod 755 "$work"

# --- helpers ---------------------------------------------------------------------------

wait_listening() { # LOGFILE PID
  for _ in $(seq 1 600); do
    if grep -q "listening on" "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then echo "exited before listening:" >&2; cat "$1" >&2; return 1; fi
    sleep 0.2
  done
  echo "not listening after 120 s" >&2; return 1
}

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
cpu_s() { # user + system seconds of PID
  local t; t=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}')
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}

# PostgreSQL's own CPU: "PID ticks" of the postmaster and its children (the backends, the
# WAL writer, ...) into FILE; nothing for SQLite. db_cpu_delta F0 F1: the seconds between
# two samples (a process new in F1 counts whole; one gone by F1 is left out, which the
# server's pool of kept connections makes rare).
db_cpu_sample() { # FILE
  : >"$1"
  if [ "$store" != postgres ] || [ ! -f "$pg_dir/data/postmaster.pid" ]; then return 0; fi
  local pm p; pm=$(head -1 "$pg_dir/data/postmaster.pid")
  for p in "$pm" $(pgrep -P "$pm" || true); do
    if [ -r "/proc/$p/stat" ]; then echo "$p $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')" >>"$1" || true; fi
  done
}
db_cpu_delta() { # F0 F1
  awk -v hz="$(getconf CLK_TCK)" 'NR == FNR {t0[$1] = $2; next} {d += $2 - ($1 in t0 ? t0[$1] : 0)} END {printf "%.2f", d / hz}' "$1" "$2"
}

start_sampler() { # PID FILE: VmRSS every 0.5 s
  ( while kill -0 "$1" 2>/dev/null; do rss_mb "$1" >>"$2" 2>/dev/null || true; echo >>"$2"; sleep 0.5; done ) &
  sampler_pid=$!
}
stop_sampler() { stop "$sampler_pid"; sampler_pid=; }

metrics() { # the server's /api/v1/metrics as one line of JSON, or null (404 before it exists)
  local code
  code=$(curl -s -o "$work/metrics.json" -w '%{http_code}' --cacert "$data/ca.pem" \
    -H "Authorization: Bearer $(cat "$data/admin-token")" "$url/api/v1/metrics" || true)
  if [ "$code" = 200 ] && jq -e . "$work/metrics.json" >/dev/null 2>&1; then jq -c . "$work/metrics.json"; else echo null; fi
}

# run LABEL TARGET_PID ARGS...: one load generator run; its summary plus the label, the
# server's CPU time and /api/v1/metrics before and after go to runs.jsonl; prints the line.
# With --warmup the "before" is sampled after the warm-up (load --ready-file: the load
# generator waits for the file to be removed before its timed check-ins), so that the
# warm-up's sessions are not in the per-session CPU and statement figures.
run() {
  local label=$1 pid=$2; shift 2
  local m0 m1 c0 c1 line a lp warmup=0 ready="$work/ready"
  for a in "$@"; do if [ "$a" = --warmup ]; then warmup=1; fi; done
  if [ "$warmup" = 1 ]; then
    rm -f "$ready"
    "$device_bin" load --quiet --ca "$data/ca.pem" --state-dir "$state" "$@" --ready-file "$ready" >"$work/line" &
    lp=$!
    while [ ! -e "$ready" ] && kill -0 "$lp" 2>/dev/null; do sleep 0.02; done
    m0=$(metrics); c0=$(cpu_s "$pid"); db_cpu_sample "$work/db0"
    rm -f "$ready"
    wait "$lp"
    line=$(cat "$work/line")
  else
    m0=$(metrics); c0=$(cpu_s "$pid"); db_cpu_sample "$work/db0"
    line=$("$device_bin" load --quiet --ca "$data/ca.pem" --state-dir "$state" "$@")
  fi
  c1=$(cpu_s "$pid"); m1=$(metrics); db_cpu_sample "$work/db1"
  line=$(jq -c --arg lbl "$label" --arg store "$store" --argjson c0 "$c0" --argjson c1 "$c1" \
    --argjson m0 "$m0" --argjson m1 "$m1" --argjson db "$(db_cpu_delta "$work/db0" "$work/db1")" \
    '. + {"label": $lbl, "store": $store, "server_cpu_s": ($c1 - $c0), "db_cpu_s": $db, "metrics_before": $m0, "metrics_after": $m1}' <<<"$line")
  echo "$line" >>"$raw"
  echo "$line"
}
field() { jq -r "$1" <<<"$2"; }
# Server CPU milliseconds per completed session.
cpu_ms() { jq -r 'if .sessions > 0 then (.server_cpu_s * 1000 / .sessions * 100 | round / 100) else "n/a" end' <<<"$1"; }
# PostgreSQL's CPU milliseconds per completed session (n/a for SQLite: in the server).
db_ms() { jq -r 'if .store == "postgres" and .sessions > 0 then ((.db_cpu_s // 0) * 1000 / .sessions * 100 | round / 100) else "n/a" end' <<<"$1"; }
# The load generator's CPU milliseconds per completed session.
client_ms() { jq -r '(.client_cpu_s // 0) * 1000 / ([.sessions,1] | max) * 100 | round / 100' <<<"$1"; }
# Database statements per completed session from the metrics counters (n/a without the
# endpoint, which answers 404 on a server that does not have it yet).
stmts() {
  jq -r 'if (.metrics_before | type) == "object" and (.metrics_after | type) == "object"
           and (.metrics_before.db_statements | type) == "number" and .sessions > 0 then
           ((.metrics_after.db_statements - .metrics_before.db_statements) / .sessions * 10 | round / 10)
         else "n/a" end' <<<"$1"
}
r1() { awk -v x="$1" 'BEGIN {printf "%.1f", x}'; }
r0() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }

declare -A R  # results: R[store.key]

start_server() {
  data="$work/$store-data"; state="$work/$store-devices"
  port=$(free_port); url="https://localhost:$port"
  local db=()
  if [ "$store" = postgres ]; then db=(--db "$pg_url"); fi
  "$server_bin" --data-dir "$data" --listen "127.0.0.1:$port" --max-sessions 4096 "${db[@]}" \
    >"$out/$store-server.log" 2>&1 &
  server_pid=$!
  wait_listening "$out/$store-server.log" "$server_pid"
}

start_floor() { # BODY_BYTES
  local fport; fport=$(free_port); floor_url="https://localhost:$fport"
  "$floor_bin" --data-dir "$data" --listen "127.0.0.1:$fport" --body-bytes "$1" >"$out/$store-floor.log" 2>&1 &
  floor_pid=$!
  echo "$floor_pid" >"$work/floor.pid"  # for cleanup: started in a subshell of floor_run
  wait_listening "$out/$store-floor.log" "$floor_pid"
}

start_postgres() {
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  pg_dir="$(mktemp -d)"
  if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; fi
  local pg_port; pg_port=$(free_port)
  as_pg "'$pg_bin/initdb' -D '$pg_dir/data' -A trust -U postgres -E UTF8 --locale=C.UTF-8" >/dev/null
  as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/log' -w -o \"-c listen_addresses=127.0.0.1 -p $pg_port -k '$pg_dir'\" start" >/dev/null
  pg_url="postgres://postgres@127.0.0.1:$pg_port/postgres"
  echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port (default settings)"
}

# --- one store ---------------------------------------------------------------------------

measure_store() {
  echo; echo "== $store"
  if [ "$store" = postgres ]; then start_postgres; fi
  start_server
  local secret; secret=$(cat "$data/enrollment-secret")
  local token; token=$(cat "$data/admin-token")
  local S=(--server "$url" "--secret=$secret")  # "=": a secret may start with "-"
  # The key pool (RSA key generation, not timed) is shared by the stores.
  if [ -d "$work/key-pool" ]; then mkdir -p "$state"; cp -r "$work/key-pool" "$state/"; fi

  echo "-- enrolling $devices devices, $enroll_c at a time"
  local j; j=$(run enroll "$server_pid" "${S[@]}" --devices "$devices" --concurrency "$enroll_c" --duration 0)
  R[$store.enroll]=$(r0 "$(field .enrollments_per_s "$j")")
  R[$store.enroll_n]=$(field .enrollments "$j")
  R[$store.enroll_err]=$(field '.errors | length' "$j")
  [ -d "$work/key-pool" ] || cp -r "$state/key-pool" "$work/"
  sleep 2
  R[$store.rss_idle]=$(rss_mb "$server_pid")
  echo "enrollments/s ${R[$store.enroll]} ($(field .enrollments "$j") enrolled), RSS idle ${R[$store.rss_idle]} MB"

  start_sampler "$server_pid" "$work/$store-rss"
  echo "-- peak search: idle check-ins of $warm devices after a warm-up, TLS resumed, ${dur} s per level"
  local best=0 best_c=0 best_j=
  for c in $levels; do
    j=$(run "idle_resumed_c$c" "$server_pid" "${S[@]}" "${T1[@]}" --devices "$warm" --concurrency "$c" --duration "$dur" --warmup)
    echo "  concurrency $c: $(r0 "$(field .sessions_per_s "$j")") sessions/s, p50 $(field .p50_ms "$j") ms, p99 $(field .p99_ms "$j") ms, errors $(field '.errors' "$j" | jq -c .)"
    if awk -v a="$(field .sessions_per_s "$j")" -v b="$best" 'BEGIN {exit !(a > b)}'; then
      best=$(field .sessions_per_s "$j"); best_c=$c; best_j=$j
    fi
  done
  R[$store.peak]=$(r0 "$best"); R[$store.peak_c]=$best_c
  R[$store.peak_cpu]=$(cpu_ms "$best_j"); R[$store.peak_stmts]=$(stmts "$best_j"); R[$store.peak_db]=$(db_ms "$best_j")
  R[$store.peak_resumed]=$(field .tls_resumed "$best_j"); R[$store.peak_full]=$(field .tls_full "$best_j")
  R[$store.peak_client_cpu]=$(client_ms "$best_j")
  local mps rqb rsb
  mps=$(field .messages_per_session "$best_j"); rqb=$(r0 "$(field .request_bytes_mean "$best_j")"); rsb=$(r0 "$(field .response_bytes_mean "$best_j")")
  R[$store.idle_sizes]="$(r1 "$mps") msg, $rqb B up, $rsb B down"
  # The arguments of the runs at the peak's concurrency (again after their floor runs).
  local idle_args=("${S[@]}" "${T1[@]}" --devices "$warm" --concurrency "$best_c" --duration "$dur" --warmup)
  local full_args=("${S[@]}" --devices "$devices" --concurrency "$best_c" --duration "$dur" --no-resume)
  local cmd_args=("${S[@]}" "${T1[@]}" --devices "$warm" --concurrency "$best_c" --duration "$dur"
                  --commands-per-session 5 --admin-token "$token" --warmup)

  echo "-- full handshakes: all $devices devices, no TLS resumption, concurrency $best_c"
  j=$(run idle_full "$server_pid" "${full_args[@]}" --warmup 180)
  local full_j=$j
  # Its warm-up is every device's first check-in after enrollment, full handshakes too:
  # the session that delivers the commands queued at enrollment.
  R[$store.first]=$(jq -r 'if .warmup_s > 0 then (.warmup_sessions / .warmup_s | round) else "n/a" end' <<<"$j")
  R[$store.full]=$(r0 "$(field .sessions_per_s "$j")"); R[$store.full_cpu]=$(cpu_ms "$j"); R[$store.full_stmts]=$(stmts "$j"); R[$store.full_db]=$(db_ms "$j")
  echo "  $(r0 "$(field .sessions_per_s "$j")") sessions/s, p50 $(field .p50_ms "$j") ms, p99 $(field .p99_ms "$j") ms"

  local rate; rate=$(awk -v p="$best" 'BEGIN {printf "%.0f", 0.8 * p}')
  echo "-- open loop at 80 % of the peak: $rate sessions/s, ${rate_dur} s, $warm devices after a warm-up, TLS resumed"
  j=$(run "rate80_resumed" "$server_pid" "${S[@]}" "${T1[@]}" --devices "$warm" --concurrency 1024 --duration "$rate_dur" --rate "$rate" --warmup)
  R[$store.r80]="$(field .p50_ms "$j") / $(field .p99_ms "$j")"
  R[$store.r80_rate]="$rate offered, $(r0 "$(field .achieved_rate "$j")") achieved; session alone $(field .service_p50_ms "$j") / $(field .service_p99_ms "$j") ms"
  R[$store.r80_kinds]="resumed $(field .sessions_resumed "$j"): $(field .p50_resumed_ms "$j") / $(field .p99_resumed_ms "$j"); full $(field .sessions_full "$j"): $(field .p50_full_ms "$j") / $(field .p99_full_ms "$j")"
  R[$store.r80_p99]=$(field .p99_ms "$j")
  echo "  p50 / p99 ${R[$store.r80]} ms (${R[$store.r80_rate]})"

  local frate; frate=$(awk -v p="$(field .sessions_per_s "$full_j")" 'BEGIN {printf "%.0f", 0.8 * p}')
  echo "-- open loop at 80 % of the full-handshake rate: $frate sessions/s, ${rate_dur} s, $devices devices, no resumption"
  j=$(run "rate80_full" "$server_pid" "${S[@]}" --devices "$devices" --concurrency 1024 --duration "$rate_dur" --rate "$frate" --no-resume)
  R[$store.r80f]="$(field .p50_ms "$j") / $(field .p99_ms "$j")"
  R[$store.r80f_rate]="$frate offered, $(r0 "$(field .achieved_rate "$j")") achieved; session alone $(field .service_p50_ms "$j") / $(field .service_p99_ms "$j") ms"
  echo "  p50 / p99 ${R[$store.r80f]} ms (${R[$store.r80f_rate]})"

  echo "-- check-in with 5 queued Gets: $warm devices after a warm-up, concurrency $best_c, TLS resumed"
  j=$(run cmd5 "$server_pid" "${cmd_args[@]}")
  local cmd_j=$j
  R[$store.cmd]=$(r0 "$(field .sessions_per_s "$j")"); R[$store.cmd_lat]="$(field .p50_ms "$j") / $(field .p99_ms "$j")"
  R[$store.cmd_cpu]=$(cpu_ms "$j"); R[$store.cmd_stmts]=$(stmts "$j"); R[$store.cmd_db]=$(db_ms "$j"); R[$store.cmd_client_cpu]=$(client_ms "$j")
  R[$store.cmd_queue]="$(field .queue_requests "$j") requests, $(field .queue_p50_ms "$j") / $(field .queue_p99_ms "$j") ms"
  R[$store.cmd_answered]="$(field .commands_answered "$j") of $(field .commands_queued "$j")"
  R[$store.cmd_sizes]="$(r1 "$(field .messages_per_session "$j")") msg, $(r0 "$(field .request_bytes_mean "$j")") B up, $(r0 "$(field .response_bytes_mean "$j")") B down"
  echo "  $(r0 "$(field .sessions_per_s "$j")") sessions/s, p50 / p99 ${R[$store.cmd_lat]} ms, Gets answered ${R[$store.cmd_answered]}"
  stop_sampler
  R[$store.rss_load]=$(sort -n "$work/$store-rss" | tail -1)

  # The transport floor: the same devices, sessions, connection pattern and sizes.
  floor_run() { # LABEL MEASURED_JSON DEVICES EXTRA...
    local label=$1 m=$2 n=$3; shift 3
    local mp rq
    mp=$(awk -v x="$(field .messages_per_session "$m")" 'BEGIN {printf "%.0f", x}')
    rq=$(r0 "$(field .request_bytes_mean "$m")")
    stop "$floor_pid"; floor_pid=
    start_floor "$(r0 "$(field .response_bytes_mean "$m")")"
    run "$label" "$floor_pid" --floor "$floor_url" --devices "$n" --concurrency "$(field .concurrency "$m")" \
      --duration $((dur * 4)) --sessions "$(field .sessions "$m")" --messages-per-session "$mp" --request-bytes "$rq" "$@"
    # floor_run runs in $(...): its floor_pid is not the caller's, so the floor stops here.
    stop "$floor_pid"; floor_pid=; rm -f "$work/floor.pid"
  }
  echo "-- transport floor, same sessions / pattern / sizes; each floor run is followed by the"
  echo "   measured pattern again, and the ratio divides the mean of the two server runs by"
  echo "   the floor between them (this machine's speed drifts by 10-20 % over minutes)"
  ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN {printf "%.2f", (a + b) / 2 / f}'; }
  j=$(floor_run floor_idle_resumed "$best_j" "$warm" "${T1[@]}" --warmup)
  R[$store.f_peak]=$(r0 "$(field .sessions_per_s "$j")"); R[$store.f_peak_cpu]=$(cpu_ms "$j")
  local again
  again=$(run idle_resumed_again "$server_pid" "${idle_args[@]}")
  R[$store.peak_again]=$(r0 "$(field .sessions_per_s "$again")")
  R[$store.f_peak_ratio]=$(ratio "$best" "$(field .sessions_per_s "$again")" "$(field .sessions_per_s "$j")")
  echo "  idle, resumed: $(r0 "$(field .sessions_per_s "$j")") sessions/s; server again ${R[$store.peak_again]} (server/floor ${R[$store.f_peak_ratio]}x)"
  j=$(floor_run floor_idle_full "$full_j" "$devices" --no-resume --warmup 180)
  R[$store.f_full]=$(r0 "$(field .sessions_per_s "$j")"); R[$store.f_full_cpu]=$(cpu_ms "$j")
  again=$(run idle_full_again "$server_pid" "${full_args[@]}")
  R[$store.full_again]=$(r0 "$(field .sessions_per_s "$again")")
  R[$store.f_full_ratio]=$(ratio "$(field .sessions_per_s "$full_j")" "$(field .sessions_per_s "$again")" "$(field .sessions_per_s "$j")")
  echo "  idle, full handshakes: $(r0 "$(field .sessions_per_s "$j")") sessions/s; server again ${R[$store.full_again]} (server/floor ${R[$store.f_full_ratio]}x)"
  # The 5-Get pattern's queueing request goes to the floor too (201 and ids, nothing queued):
  # the floor makes every HTTPS request the measured run makes.
  j=$(floor_run floor_cmd5 "$cmd_j" "$warm" "${T1[@]}" --warmup --commands-per-session 5 --admin-token floor)
  R[$store.f_cmd]=$(r0 "$(field .sessions_per_s "$j")"); R[$store.f_cmd_cpu]=$(cpu_ms "$j"); R[$store.f_cmd_client]=$(client_ms "$j")
  again=$(run cmd5_again "$server_pid" "${cmd_args[@]}")
  R[$store.cmd_again]=$(r0 "$(field .sessions_per_s "$again")")
  R[$store.f_cmd_ratio]=$(ratio "$(field .sessions_per_s "$cmd_j")" "$(field .sessions_per_s "$again")" "$(field .sessions_per_s "$j")")
  echo "  5 Gets pattern: $(r0 "$(field .sessions_per_s "$j")") sessions/s; server again ${R[$store.cmd_again]} (server/floor ${R[$store.f_cmd_ratio]}x)"
  # Timed and warm-up errors (the latter as warmup_KIND) of every run of this store, the
  # floor runs' included (they were left out before the warm-ups were added).
  R[$store.errors]=$(jq -s -c --arg s "$store" '[.[] | select(.store == $s) | (.errors | to_entries[]), ((.warmup_errors // {}) | to_entries[] | .key |= "warmup_" + .)] | group_by(.key) | map({(.[0].key): (map(.value) | add)}) | add // {}' "$raw")
  stop "$floor_pid"; floor_pid=
  stop "$server_pid"; server_pid=
  if [ "$store" = postgres ]; then
    as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast -w stop" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"; pg_dir=
  fi
}

for store in $stores; do measure_store; done

# --- the table ---------------------------------------------------------------------------

col() { for s in $stores; do printf ' %s |' "${R[$s.$1]:-n/a}"; done; }
{
  echo "| figure |$(for s in $stores; do printf ' %s |' "$s"; done) target |"
  echo "|---|$(for _ in $stores; do printf -- '---:|'; done)---|"
  echo "| enrollments/s ($enroll_c at a time) |$(col enroll) >= 300 |"
  echo "| resident memory, idle, $devices devices enrolled (MB) |$(col rss_idle) < 200 |"
  echo "| resident memory under load, max (MB) |$(col rss_load) |"
  echo "| peak idle check-ins/s, TLS resumed ($warm devices, warmed up) |$(col peak) >= 1,000 |"
  echo "| concurrency of that peak |$(col peak_c) |"
  echo "| its handshakes, resumed / full |$(for s in $stores; do printf ' %s / %s |' "${R[$s.peak_resumed]}" "${R[$s.peak_full]}"; done) |"
  echo "| idle check-ins/s, full handshakes ($devices devices, after their first check-in) |$(col full) |"
  echo "| first check-ins after enrollment/s, full handshakes (the enrollment's queued commands; that run's warm-up) |$(col first) |"
  echo "| p50 / p99 ms at 80 % of the peak, resumed ($warm devices, warmed up; from the scheduled starts) |$(col r80) p99 < 50 |"
  echo "| that run's rate, sessions/s; its sessions alone (from their actual starts), p50 / p99 ms |$(col r80_rate) |"
  echo "| that run by handshake, n: p50 / p99 ms |$(col r80_kinds) |"
  echo "| p50 / p99 ms at 80 % of the full-handshake rate ($devices devices; from the scheduled starts) |$(col r80f) |"
  echo "| that run's rate, sessions/s; its sessions alone (from their actual starts), p50 / p99 ms |$(col r80f_rate) |"
  echo "| check-ins/s with 5 queued Gets ($warm devices, warmed up) |$(col cmd) |"
  echo "| their p50 / p99 ms |$(col cmd_lat) |"
  echo "| their queueing requests, p50 / p99 ms (not in the session time) |$(col cmd_queue) |"
  echo "| Gets answered in those sessions |$(col cmd_answered) |"
  echo "| idle session: messages, bytes per message |$(col idle_sizes) |"
  echo "| 5-Get session: messages, bytes per message |$(col cmd_sizes) |"
  echo "| DB statements per session: idle / full / 5 Gets |$(for s in $stores; do printf ' %s / %s / %s |' "${R[$s.peak_stmts]}" "${R[$s.full_stmts]}" "${R[$s.cmd_stmts]}"; done) |"
  echo "| server CPU ms per session: idle / full / 5 Gets |$(for s in $stores; do printf ' %s / %s / %s |' "${R[$s.peak_cpu]}" "${R[$s.full_cpu]}" "${R[$s.cmd_cpu]}"; done) |"
  echo "| PostgreSQL's CPU ms per session (its processes): idle / full / 5 Gets |$(for s in $stores; do printf ' %s / %s / %s |' "${R[$s.peak_db]}" "${R[$s.full_db]}" "${R[$s.cmd_db]}"; done) |"
  echo "| load generator CPU ms per session: idle (resumed) / 5 Gets |$(for s in $stores; do printf ' %s / %s |' "${R[$s.peak_client_cpu]}" "${R[$s.cmd_client_cpu]}"; done) |"
  echo "| floor sessions/s: idle resumed / full / 5-Get pattern |$(for s in $stores; do printf ' %s / %s / %s |' "${R[$s.f_peak]}" "${R[$s.f_full]}" "${R[$s.f_cmd]}"; done) |"
  echo "| server sessions/s again, after each floor run: idle resumed / full / 5-Get pattern |$(for s in $stores; do printf ' %s / %s / %s |' "${R[$s.peak_again]}" "${R[$s.full_again]}" "${R[$s.cmd_again]}"; done) |"
  echo "| server / floor (mean of the server runs before and after the floor): idle resumed / full / 5-Get pattern |$(for s in $stores; do printf ' %sx / %sx / %sx |' "${R[$s.f_peak_ratio]}" "${R[$s.f_full_ratio]}" "${R[$s.f_cmd_ratio]}"; done) >= 0.5x |"
  echo "| floor server CPU ms per session: idle resumed / full / 5-Get |$(for s in $stores; do printf ' %s / %s / %s |' "${R[$s.f_peak_cpu]}" "${R[$s.f_full_cpu]}" "${R[$s.f_cmd_cpu]}"; done) |"
  echo "| floor client CPU ms per 5-Get-pattern session |$(col f_cmd_client) |"
  echo "| errors (all runs; warm-ups' as warmup_KIND) |$(col errors) none |"
} >"$out/results.md"
echo "uptime at the end: $(uptime)" >>"$out/conditions.txt"
echo
echo "== results ($(date -u +%FT%TZ); load average at the start: $(sed -n 's/.*load average: //p' "$out/conditions.txt" | head -1), now: $(uptime | sed 's/.*load average: //'))"
cat "$out/results.md"
echo
echo "raw JSON lines: $raw"
