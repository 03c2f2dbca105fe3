#!/bin/sh
# A plain POSIX sh "IoT agent": drives an OCI runtime only through its command line, the way
# small device agents do (no engine, no Go library): create, state polling, start, list as
# JSON, kill, delete, and the error paths an agent meets (kill of a stopped container, state
# of a deleted one). Parses JSON with sed, as a busybox-only device would.
#
# usage: agent.sh [--tty RECEIVER] RUNTIME ROOT BUNDLE ID
#   RUNTIME  the runtime binary (reno or runc); ROOT its --root; BUNDLE a bundle whose
#            process traps TERM, prints "got-term" and exits 3 (see run.sh).
#   --tty RECEIVER  create with --console-socket: RECEIVER SOCKET OUTFILE is started first,
#            takes the pty master (SCM_RIGHTS) and copies what the container writes to OUTFILE.
# Prints one normalised line per step (no pids, no times), so two runtimes' transcripts can
# be compared verbatim. Exit status: 0 when the whole lifecycle went through.
set -u

TTY_RECV=""
if [ "${1:-}" = "--tty" ]; then TTY_RECV=$2; shift 2; fi
RT=$1 ROOT=$2 BUNDLE=$3 ID=$4
R() { "$RT" --root "$ROOT" "$@"; }
ok=0

# status_of [ID]: the "status" field of `state ID`, or "none" if the runtime doesn't know it.
status_of() {
    R state "${1:-$ID}" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' | grep . || echo none
}
# wait_for STATUS [ID]: poll state every 0.1 s, at most 10 s; print what it became.
wait_for() {
    i=0
    while [ $i -lt 100 ]; do
        s=$(status_of "${2:-}")
        [ "$s" = "$1" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    echo "$s"
}
# listed: the status of ID in `list --format json` ("absent" when not listed; an empty
# list may be [] or null).
listed() {
    R list --format json 2>/dev/null | tr -d ' \n' | sed 's/},{/}\n{/g' |
        grep "\"id\":\"$ID\"" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' | grep . || echo absent
}
step() { # NAME RC: one transcript line; a non-zero RC where 0 was wanted fails the agent
    echo "$1 rc=$2"
}

PIDFILE=$ROOT.$ID.pid
rm -f "$PIDFILE"
mkdir -p "$ROOT"
if [ -n "$TTY_RECV" ]; then
    SOCK=$ROOT.$ID.sock OUT=$ROOT.$ID.tty
    rm -f "$SOCK" "$OUT"
    "$TTY_RECV" "$SOCK" "$OUT" &
    RECV=$!
    i=0
    while [ ! -S "$SOCK" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    R create --bundle "$BUNDLE" --pid-file "$PIDFILE" --console-socket "$SOCK" "$ID"
else
    R create --bundle "$BUNDLE" --pid-file "$PIDFILE" "$ID" </dev/null >/dev/null 2>&1
fi
rc=$?; step create $rc; [ $rc = 0 ] || ok=1
echo "state=$(status_of) list=$(listed)"
# The pid file holds the init's pid, and state reports the same pid.
pid=$(cat "$PIDFILE" 2>/dev/null)
spid=$(R state "$ID" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
if [ -n "$pid" ] && [ "$pid" = "$spid" ] && [ -d "/proc/$pid" ]; then echo "pidfile=state-pid"; else echo "pidfile=mismatch($pid/$spid)"; ok=1; fi
R start "$ID"; rc=$?; step start $rc; [ $rc = 0 ] || ok=1
echo "state=$(wait_for running) list=$(listed)"
R start "$ID" 2>/dev/null; step start-again $?
sleep 0.3 # let the program install its trap
R kill "$ID" TERM; rc=$?; step kill-term $rc; [ $rc = 0 ] || ok=1
echo "state=$(wait_for stopped) list=$(listed)"
R kill "$ID" TERM 2>/dev/null; step kill-stopped $?
R delete "$ID"; rc=$?; step delete $rc; [ $rc = 0 ] || ok=1
echo "state=$(status_of) list=$(listed)"
R state "$ID" >/dev/null 2>&1; step state-deleted $?
R delete "$ID" 2>/dev/null; step delete-again $?
R delete --force "$ID" 2>/dev/null; step delete-force-unknown $?
if [ -z "$TTY_RECV" ]; then
    # `run` in the foreground, as a supervisor script keeps a service: the runtime forwards
    # the TERM it gets to the container and exits with the container's code, then deletes it.
    # (a simple command, not the R function: $! must be the runtime, not a subshell)
    "$RT" --root "$ROOT" run --bundle "$BUNDLE" "$ID-fg" </dev/null >/dev/null 2>&1 &
    RUN=$!
    echo "run-fg state=$(wait_for running "$ID-fg")"
    sleep 0.3
    kill -TERM $RUN
    wait $RUN; step run-fg-term-forwarded $?
    s=$(status_of "$ID-fg")
    echo "state=$s"
    [ "$s" = none ] || { R delete --force "$ID-fg" >/dev/null 2>&1; ok=1; }
fi
if [ -n "$TTY_RECV" ]; then
    wait "$RECV"
    # What the program wrote went through the pty (\r\n line ends).
    echo "tty=$(tr -d '\r' <"$OUT" | tr '\n' ' ')"
    rm -f "$SOCK" "$OUT"
fi
rm -f "$PIDFILE"
exit $ok
