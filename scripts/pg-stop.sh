#!/usr/bin/env bash
# Stop the throwaway PostgreSQL cluster that scripts/pg-start.sh DIR started.
#
# Usage: scripts/pg-stop.sh DIR
#
# Stops the server (fast shutdown: open connections are cut) and removes
# DIR/url. The data directory is kept, so the next pg-start.sh skips initdb;
# `rm -rf DIR` afterwards discards it. A data directory that pg-start.sh had to
# put under /tmp (DIR/data is then a symlink) is removed here. Nothing running
# is not an error. Progress goes to stderr.
set -euo pipefail

log() { printf 'pg-stop: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if (($# != 1)) || [[ -z $1 ]]; then die "usage: $0 DIR"; fi
if [[ ! -d $1 ]]; then
    log "$1 does not exist: nothing to stop"
    exit 0
fi
DIR=$(cd "$1" && pwd -P)
DATA_LINK=$DIR/data

exec 9>"$DIR/.lock"
command -v flock >/dev/null 2>&1 && flock 9

rm -f "$DIR/url"

# Remove the /tmp data directory pg-start.sh made when DIR was out of reach of
# the server's user (only that: a symlink pointing anywhere else is left alone).
remove_tmp_data() {
    [[ -L $DATA_LINK ]] || return 0
    local real parent
    real=$(readlink "$DATA_LINK")
    parent=$(dirname "$real")
    if [[ $real == /tmp/deploy-pg.*/data && $(basename "$parent") == deploy-pg.* ]]; then
        log "removing $parent"
        rm -rf -- "$parent"
        rm -f -- "$DATA_LINK"
    fi
}

if [[ ! -e $DATA_LINK ]]; then
    log "no cluster in $DIR: nothing to stop"
    remove_tmp_data
    exit 0
fi
DATA=$(readlink -f "$DATA_LINK")
PIDFILE=$DATA/postmaster.pid
if [[ ! -f $PIDFILE ]]; then
    log "not running ($DIR)"
    remove_tmp_data
    exit 0
fi
alive() { kill -0 "$1" 2>/dev/null || [[ -d /proc/$1 ]]; }
pid=$(head -n 1 "$PIDFILE")
[[ $pid =~ ^[0-9]+$ ]] || die "$PIDFILE holds no process id"
if ! alive "$pid"; then
    log "not running (stale $PIDFILE)"
    remove_tmp_data
    exit 0
fi

# The server runs as the data directory's owner.
owner=$(stat -c %U "$DATA")
as_pg() {
    if [[ $(id -u) == 0 && $owner != root ]]; then
        (cd / && runuser -u "$owner" -- "$@" 9>&-)
    else
        "$@" 9>&-
    fi
}

# pg_ctl of the version that made the cluster.
BINDIR=
version=$(cat "$DATA/PG_VERSION" 2>/dev/null || true)
for d in ${PG_BINDIR:-} "/usr/lib/postgresql/$version/bin" "$(dirname "$(readlink -f "$(command -v pg_ctl || echo /nonexistent)")")"; do
    if [[ -x $d/pg_ctl ]]; then BINDIR=$d; break; fi
done

stopped=0
if [[ -n $BINDIR ]]; then
    log "stopping the server in $DATA (pid $pid)"
    if as_pg "$BINDIR/pg_ctl" stop -D "$DATA" -m fast -w -t 60 -s >&2; then
        stopped=1
    else
        log "fast shutdown failed; trying immediate shutdown"
        as_pg "$BINDIR/pg_ctl" stop -D "$DATA" -m immediate -w -t 30 -s >&2 && stopped=1
    fi
else
    # No pg_ctl (the package was removed?): signal the postmaster ourselves.
    # SIGINT is PostgreSQL's fast shutdown.
    log "pg_ctl not found; sending SIGINT to the postmaster (pid $pid)"
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        alive "$pid" || { stopped=1; break; }
        sleep 0.5
    done
fi
if ((!stopped)) && alive "$pid"; then
    log "the postmaster (pid $pid) did not stop; killing it"
    kill -KILL "$pid" 2>/dev/null || true
fi
remove_tmp_data
log "stopped"
