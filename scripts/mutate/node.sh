#!/usr/bin/env bash
# The `node` that Stryker's tap runner starts for each test file (scripts/mutate.mjs puts this folder
# first on PATH). It runs the real node:
# - under the kernel lock (/tmp/rawbpf-kernel.lock), so a mutant's test never overlaps another
#   kernel test run on this machine, unless the test file is one of $RAWBPF_MUTATE_NOLOCK (files
#   that only create their own maps and programs and run BPF_PROG_TEST_RUN: nothing another
#   session's tests can see; scripts/mutate.mjs decides which). The lock is taken by a keeper
#   process that holds it for a slot of at most $RAWBPF_MUTATE_SLOT seconds (default 60) of
#   consecutive test files, then lets it go (and when no test file has run for 3 s): a mutant's
#   test file takes a second or two, and waiting for the lock before each one (while other
#   sessions run whole suites) would make a run take many hours. Other sessions wait at most one
#   slot and a test file.
# - as a child, forwarding SIGTERM (the runner's bail-out) to it;
# - and when the child dies of a signal (a mutant in src/sys can crash the process), it reports a
#   failing test, so the crash counts as the mutant killed.
# The tap runner reads per-test coverage from stryker-output-<its child's pid>.json: the file the
# real node wrote (stryker-output-<node's pid>.json) is renamed to this script's pid.
# During the initial run, the node processes the test file starts (children) report their coverage
# too, added to the file's (child-coverage.cjs, merge-coverage.cjs).
# Stryker may run several of these at once (concurrency 2): they share one keeper
# ($RAWBPF_MUTATE_KEEPER, a folder per run), each marking the keeper busy with its own file.
set -u
# a test that starts `node` by name gets the real one (this process holds the lock already)
[ -n "${RAWBPF_MUTATE_LOCKED:-}" ] && exec "$RAWBPF_REAL_NODE" "$@"
export RAWBPF_MUTATE_LOCKED=1
lock="${RAWBPF_KERNEL_LOCK:-/tmp/rawbpf-kernel.lock}"
K="${RAWBPF_MUTATE_KEEPER:-/tmp/rawbpf-mutate-keeper.$PPID}"
slot="${RAWBPF_MUTATE_SLOT:-60}"
mkdir -p "$K"

# The keeper: takes the kernel lock, writes its pid to $K/held, and keeps the lock while test
# files run, until its slot is over or it has been idle 3 s. $K/busy.PID names a test file's script
# and its node while one runs (a script killed by the runner leaves it behind: dead pids do not count).
keeper() {
  exec 9>>"$lock"
  flock 9
  local start=$SECONDS
  exec 7>>"$K/mutex"
  flock 7
  echo "$BASHPID" >"$K/held"
  date +%s >"$K/last"
  flock -u 7
  while :; do
    sleep 0.2
    flock 7
    local busy="" b
    for b in "$K"/busy.*; do
      # shellcheck disable=SC2046
      [ -e "$b" ] && kill -0 $(cat "$b" 2>/dev/null) 2>/dev/null && busy=1 && break
    done
    if [ $((SECONDS - start)) -ge "$slot" ]; then
      rm -f "$K/held" # no new test file in this slot
      if [ -z "$busy" ]; then
        flock -u 7
        exit 0
      fi
    elif [ -z "$busy" ] && [ $(($(date +%s) - $(cat "$K/last"))) -ge 3 ]; then
      rm -f "$K/held"
      flock -u 7
      exit 0
    fi
    flock -u 7
  done
}

testfile="${*: -1}"
needlock=1
while IFS= read -r free; do
  [ -n "$free" ] && [ "$free" = "$testfile" ] && needlock=""
done <<<"${RAWBPF_MUTATE_NOLOCK:-}"

exec 7>>"$K/mutex"
if [ -n "$needlock" ]; then
  waitstart=$SECONDS
  while :; do
    flock 7
    held=$(cat "$K/held" 2>/dev/null)
    if [ -n "$held" ] && kill -0 "$held" 2>/dev/null; then
      echo $$ >"$K/busy.$$"
      flock -u 7
      break
    fi
    keeperpid=$(cat "$K/keeper" 2>/dev/null)
    if [ -z "$keeperpid" ] || ! kill -0 "$keeperpid" 2>/dev/null; then
      (keeper) 7>&- </dev/null >/dev/null 2>&1 &
      echo $! >"$K/keeper"
    fi
    flock -u 7
    sleep 0.2
  done
  waited=$((SECONDS - waitstart))
  if [ "$waited" -gt 5 ] && [ -n "${RAWBPF_MUTATE_LOCKLOG:-}" ]; then
    echo "$waited $testfile" >>"$RAWBPF_MUTATE_LOCKLOG"
  fi
fi

# the initial run: the coverage of the node processes the test file starts is added to its own
# (child-coverage.cjs, merge-coverage.cjs), or Stryker would never run the mutants only they reach
childcov=""
if [ "${STRYKER_DRY_RUN:-}" = "true" ]; then
  childcov="${TMPDIR:-/tmp}/rawbpf-mutate-childcov.$$"
  rm -rf "$childcov"
  export RAWBPF_MUTATE_CHILDCOV="$childcov"
  export NODE_OPTIONS="--require $(dirname "$0")/child-coverage.cjs ${NODE_OPTIONS:-}"
fi
"$RAWBPF_REAL_NODE" "$@" 7>&- &
child=$!
[ -n "$needlock" ] && echo "$$ $child" >"$K/busy.$$"
# a mutant can make the test spin where no JavaScript handler runs: TERM, then KILL after 2 s
# (the keeper holds the kernel lock until the child is gone)
trap 'kill -TERM "$child" 2>/dev/null; (sleep 2; kill -KILL "$child" 2>/dev/null) &' TERM INT HUP
wait "$child"
rc=$?
# wait returns early (>128) when a trapped signal arrived: wait for the child to end
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
if [ -n "$needlock" ]; then
  flock 7
  rm -f "$K/busy.$$"
  date +%s >"$K/last"
  flock -u 7
fi
if [ -e "stryker-output-$child.json" ]; then
  mv "stryker-output-$child.json" "stryker-output-$$.json"
else
  echo '{}' >"stryker-output-$$.json"
fi
if [ -n "$childcov" ]; then
  NODE_OPTIONS="" "$RAWBPF_REAL_NODE" "$(dirname "$0")/merge-coverage.cjs" "stryker-output-$$.json" "$childcov" "$testfile"
fi
if [ "$rc" -gt 128 ]; then
  echo "not ok 1000000 - the test process died of signal $((rc - 128)) (the mutant crashed it)"
fi
exit "$rc"
