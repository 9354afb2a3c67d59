#!/usr/bin/env bash
# supervise.sh NAME CMD...: runs CMD and runs it again whenever it exits, as
# systemd's Restart=always does for the installed units: a daemon that
# exits (the scheduler or the controller-manager losing its leader lease
# while the apiserver is down, a crash) comes back by itself. Each restart
# is logged on stderr ("supervise: NAME exited ..."); the wait before it
# doubles from 1s up to 10s while CMD keeps failing, and starts again at 1s
# once CMD has run for 30s. SIGTERM or SIGINT stops CMD (SIGTERM) and
# ends the loop once CMD has exited. hack/lib/daemons.sh starts it as a
# session leader, so that its pid is also the process group of CMD.
set -u
name=$1
shift
child=
stopping=

stop() {
  stopping=1
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null
    wait "$child"
  fi
  exit 0
}
trap stop TERM INT

delay=1
while :; do
  started=$SECONDS
  "$@" &
  child=$!
  # wait returns early when a trapped signal arrives: the trap then ends
  # the script.
  wait "$child"
  status=$?
  child=
  [ -z "$stopping" ] || exit 0
  if [ $((SECONDS - started)) -ge 30 ]; then delay=1; fi
  echo "supervise: $name exited (status $status); restarting in ${delay}s" >&2
  sleep "$delay" &
  child=$!
  wait "$child"
  child=
  delay=$((delay * 2 > 10 ? 10 : delay * 2))
done
