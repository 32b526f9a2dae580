# Sourced by test.sh and schema-snapshot.sh: stops the private test cluster
# under $OCHRE_TEST_PG_DIR if one runs (fast shutdown, waits up to 5 s).
stop_cluster() {
  local pidfile="$OCHRE_TEST_PG_DIR/pg/data/postmaster.pid"
  if [ -f "$pidfile" ]; then
    kill -INT "$(head -1 "$pidfile")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$pidfile" ] || break; sleep 0.1; done
  fi
}
