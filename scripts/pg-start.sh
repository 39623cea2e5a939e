#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the tests, listening on 127.0.0.1
# only, on a free port, with `trust` authentication for the superuser `postgres`.
#
# Usage: scripts/pg-start.sh DIR          (e.g. target/pg)
#
# Prints exactly one line on stdout, the URL
#     postgresql://postgres@127.0.0.1:PORT/postgres
# and writes it to DIR/url too. Everything else goes to stderr; the server's
# log is DIR/postgres.log. Stop it with scripts/pg-stop.sh DIR.
#
# If the cluster in DIR is already running, the script only prints its URL. If
# DIR holds a stopped cluster, it is started again (initdb is skipped).
#
# The server binaries are looked for in $PG_BINDIR, /usr/lib/postgresql/*/bin
# (newest first) and $PATH; if there are none, Debian's `postgresql` package is
# installed with apt-get (root or sudo needed).
#
# initdb and postgres refuse to run as root. As root, the cluster runs as the
# system user $PG_TEST_USER (default deploytest, created when missing), which
# owns DIR/data. If that user cannot reach DIR (a parent directory such as
# /root is not searchable by others), the data directory is made under /tmp and
# DIR/data is a symlink to it; pg-stop.sh removes it.
#
# With PG_TLS_DIR set (a folder holding server.crt and server.key), the
# cluster also accepts TLS (ssl = on) with that certificate.
#
# Nothing here is meant for real data: fsync is off.
set -euo pipefail

log() { printf 'pg-start: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if (($# != 1)) || [[ -z $1 ]]; then die "usage: $0 DIR"; fi
mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
DATA_LINK=$DIR/data
URL_FILE=$DIR/url
LOGFILE=$DIR/postgres.log
PG_TEST_USER=${PG_TEST_USER:-deploytest}

# One pg-start.sh / pg-stop.sh at a time per DIR. (Every command run through
# as_pg closes fd 9: a postmaster that inherited it would hold the lock forever.)
exec 9>"$DIR/.lock"
command -v flock >/dev/null 2>&1 && flock 9

as_root=0
[[ $(id -u) == 0 ]] && as_root=1

# --- the server binaries ------------------------------------------------------

has_server() { [[ -x $1/initdb && -x $1/pg_ctl && -x $1/postgres ]]; }

find_bindir() {
    local d
    if [[ -n ${PG_BINDIR:-} ]]; then
        has_server "$PG_BINDIR" && { printf '%s\n' "$PG_BINDIR"; return 0; }
        die "PG_BINDIR=$PG_BINDIR has no initdb, pg_ctl and postgres"
    fi
    # Debian keeps them out of $PATH, one folder per major version.
    while IFS= read -r d; do
        has_server "$d" && { printf '%s\n' "$d"; return 0; }
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -t/ -k5,5 -V -r)
    if command -v initdb >/dev/null 2>&1; then
        d=$(dirname "$(readlink -f "$(command -v initdb)")")
        has_server "$d" && { printf '%s\n' "$d"; return 0; }
    fi
    return 1
}

install_postgresql() {
    command -v apt-get >/dev/null 2>&1 ||
        die "PostgreSQL's initdb was not found and there is no apt-get: install a PostgreSQL server, or set PG_BINDIR"
    local sudo=()
    if ((!as_root)); then
        command -v sudo >/dev/null 2>&1 || die "PostgreSQL is not installed, and installing it needs root or sudo"
        sudo=(sudo)
    fi
    log "PostgreSQL server not found: apt-get install postgresql (Debian's package)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
}

if ! BINDIR=$(find_bindir); then
    install_postgresql
    BINDIR=$(find_bindir) || die "apt-get installed postgresql, but no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin"
fi
log "using $BINDIR ($("$BINDIR/postgres" --version))"

# --- who runs the server --------------------------------------------------------

if ((as_root)); then
    if ! id -u "$PG_TEST_USER" >/dev/null 2>&1; then
        log "creating system user $PG_TEST_USER to run the cluster (initdb refuses root)"
        nologin=/usr/sbin/nologin
        [[ -x $nologin ]] || nologin=/bin/false
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell "$nologin" "$PG_TEST_USER" >&2 ||
            die "useradd $PG_TEST_USER failed"
    fi
    if command -v runuser >/dev/null 2>&1; then
        as_pg() { (cd / && runuser -u "$PG_TEST_USER" -- "$@" 9>&-); }
    else
        as_pg() {
            local q
            printf -v q '%q ' "$@"
            (cd / && su -s /bin/sh "$PG_TEST_USER" -c "$q" 9>&-)
        }
    fi
else
    as_pg() { "$@" 9>&-; }
fi

# --- the data directory --------------------------------------------------------

# The real data directory (DIR/data, or where its symlink points).
data_dir() { readlink -f "$DATA_LINK"; }

running() {
    [[ -e $DATA_LINK ]] || return 1
    as_pg "$BINDIR/pg_ctl" status -D "$(data_dir)" >/dev/null 2>&1
}

# port=N from our settings file, if there is one.
conf_port() {
    local f
    f="$(data_dir)/deploy-test.conf"
    [[ -r $f ]] && sed -n 's/^port = \([0-9][0-9]*\)$/\1/p' "$f"
}

url_for() { printf 'postgresql://postgres@127.0.0.1:%s/postgres\n' "$1"; }

publish_url() {
    local url
    url=$(url_for "$1")
    printf '%s\n' "$url" >"$URL_FILE.tmp"
    mv -f "$URL_FILE.tmp" "$URL_FILE"
    printf '%s\n' "$url"
}

if running; then
    port=$(conf_port || true)
    [[ -n $port ]] || die "a server runs on $(data_dir), but not one this script started (no deploy-test.conf)"
    log "already running in $DIR (port $port)"
    publish_url "$port"
    exit 0
fi
rm -f "$URL_FILE"

# A data directory left half-made by an interrupted initdb, or made by another
# major version of PostgreSQL, is thrown away: it only ever holds test data.
remove_data() {
    log "removing the data directory $(data_dir) ($1)"
    if [[ -L $DATA_LINK ]]; then
        local real
        real=$(readlink "$DATA_LINK")
        # Only a directory pg-start.sh made under /tmp (see below).
        if [[ $real == /tmp/deploy-pg.*/data ]]; then rm -rf -- "$(dirname "$real")"; fi
    fi
    rm -rf -- "$DATA_LINK"
}
major=$("$BINDIR/postgres" --version | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p')
if [[ -L $DATA_LINK || -e $DATA_LINK ]]; then
    if [[ ! -f $(data_dir)/PG_VERSION ]]; then
        remove_data "incomplete"
    elif [[ $(cat "$(data_dir)/PG_VERSION") != "$major" ]]; then
        remove_data "made by PostgreSQL $(cat "$(data_dir)/PG_VERSION"), the server is $major"
    fi
fi

if [[ ! -e $DATA_LINK ]]; then
    if ((as_root)); then
        chown "$PG_TEST_USER:" "$DIR"
        if as_pg test -w "$DIR" -a -x "$DIR"; then
            mkdir -m 700 "$DATA_LINK"
            chown "$PG_TEST_USER:" "$DATA_LINK"
        else
            real=$(mktemp -d /tmp/deploy-pg.XXXXXX)
            chmod 711 "$real"
            mkdir -m 700 "$real/data"
            chown "$PG_TEST_USER:" "$real" "$real/data"
            ln -s "$real/data" "$DATA_LINK"
            log "$PG_TEST_USER cannot reach $DIR; the data directory is $real/data"
        fi
    else
        mkdir -m 700 "$DATA_LINK"
    fi
    log "initdb $(data_dir)"
    as_pg "$BINDIR/initdb" -D "$(data_dir)" -U postgres --auth=trust \
        --encoding=UTF8 --no-locale --no-sync --no-instructions >&2 ||
        die "initdb failed"
    # Our settings live in their own file, rewritten at every start.
    printf "\ninclude_if_exists = 'deploy-test.conf'\n" >>"$(data_dir)/postgresql.conf"
fi
DATA=$(data_dir)

# The server writes its log; DIR/postgres.log unless DIR is out of its reach.
if ! as_pg test -w "$DIR"; then
    LOGFILE=$DATA/postgres.log
fi
touch "$LOGFILE"
if ((as_root)); then chown "$PG_TEST_USER:" "$LOGFILE"; fi

pick_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    else
        printf '%s\n' $((20000 + RANDOM % 40000))
    fi
}

ssl_setting=off
if [[ -n ${PG_TLS_DIR:-} ]]; then
    for f in server.crt server.key; do
        install -m 600 "$PG_TLS_DIR/$f" "$DATA/$f" || die "PG_TLS_DIR=$PG_TLS_DIR: cannot copy $f"
        if ((as_root)); then chown "$PG_TEST_USER:" "$DATA/$f"; fi
    done
    ssl_setting=on
fi

write_conf() {
    cat >"$DATA/deploy-test.conf" <<EOF
# Written by scripts/pg-start.sh at every start: a throwaway test cluster.
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = ''
ssl = $ssl_setting
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    ((as_root)) && chown "$PG_TEST_USER:" "$DATA/deploy-test.conf"
    return 0
}

# Prefer the port of the last run; a clash (the kernel gave the free port to
# someone else in the meantime) is retried with another port.
port=$(conf_port || true)
[[ -n $port ]] || port=$(pick_port)
for attempt in 1 2 3 4 5; do
    write_conf "$port"
    log "starting on 127.0.0.1:$port (log: $LOGFILE)"
    if as_pg "$BINDIR/pg_ctl" start -D "$DATA" -l "$LOGFILE" -w -t 60 -s >&2; then
        publish_url "$port"
        exit 0
    fi
    if tail -n 20 "$LOGFILE" | grep -q -e 'could not bind' -e 'could not create any TCP/IP sockets' -e 'already in use'; then
        log "port $port is taken; trying another (attempt $attempt)"
        port=$(pick_port)
        continue
    fi
    tail -n 20 "$LOGFILE" >&2 || true
    die "pg_ctl start failed; see $LOGFILE"
done
die "could not find a free port in 5 attempts"
