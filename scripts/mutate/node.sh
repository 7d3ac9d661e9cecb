#!/usr/bin/env bash
# The `node` that Stryker's tap runner starts for each test file (scripts/mutate.mjs puts this folder
# first on PATH). It runs the real node:
# - under the kernel lock (/tmp/rawbpf-kernel.lock), so a mutant's test never overlaps another
#   kernel test run on this machine, and only while that test file runs;
# - as a child, forwarding SIGTERM (the runner's bail-out) to it;
# - and when the child dies of a signal (a mutant in src/sys can crash the process), it reports a
#   failing test, so the crash counts as the mutant killed.
# The tap runner reads per-test coverage from stryker-output-<its child's pid>.json: the file the
# real node wrote is renamed to this script's pid.
set -u
# a test that starts `node` by name gets the real one (this process holds the lock already)
[ -n "${RAWBPF_MUTATE_LOCKED:-}" ] && exec "$RAWBPF_REAL_NODE" "$@"
export RAWBPF_MUTATE_LOCKED=1
exec 9>>"${RAWBPF_KERNEL_LOCK:-/tmp/rawbpf-kernel.lock}"
start=$SECONDS
flock 9
waited=$((SECONDS - start))
if [ "$waited" -gt 5 ] && [ -n "${RAWBPF_MUTATE_LOCKLOG:-}" ]; then
  echo "$waited ${*: -1}" >>"$RAWBPF_MUTATE_LOCKLOG"
fi
rm -f stryker-output-*.json
"$RAWBPF_REAL_NODE" "$@" 9>&- &
child=$!
# a mutant can make the test spin where no JavaScript handler runs: TERM, then KILL after 2 s
# (this script holds the kernel lock until the child is gone)
trap 'kill -TERM "$child" 2>/dev/null; (sleep 2; kill -KILL "$child" 2>/dev/null) &' TERM INT HUP
wait "$child"
rc=$?
# wait returns early (>128) when a trapped signal arrived: wait for the child to end
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
out=$(ls stryker-output-*.json 2>/dev/null | head -n 1)
if [ -n "$out" ]; then
  [ "$out" = "stryker-output-$$.json" ] || mv "$out" "stryker-output-$$.json"
else
  echo '{}' >"stryker-output-$$.json"
fi
if [ "$rc" -gt 128 ]; then
  echo "not ok 1000000 - the test process died of signal $((rc - 128)) (the mutant crashed it)"
fi
exit "$rc"
