#!/usr/bin/env bash
# Makes sure Graphviz's `dot` is on PATH: installs Debian's graphviz with apt-get when it is
# missing (root or sudo needed), as scripts/pg-start.sh does for PostgreSQL. Used by `make graph`
# and scripts/test.sh (the graph test parses `deploy graph` with dot).
#
# Usage: scripts/ensure-graphviz.sh      (prints the path of dot)
set -euo pipefail

say() { printf 'ensure-graphviz.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if ! command -v dot >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 ||
        die "Graphviz's dot was not found and there is no apt-get: install graphviz"
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "graphviz is not installed, and installing it needs root or sudo"
        sudo=(sudo)
    fi
    say "dot not found: apt-get install graphviz (Debian's package)"
    # Another apt run (a parallel test setup) may hold the lock for a while: wait for it.
    for attempt in 1 2 3 4 5 6; do
        if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends graphviz >&2 ||
            { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
                "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends graphviz >&2; }; then
            break
        fi
        ((attempt == 6)) && die "apt-get install graphviz failed"
        say "apt-get failed (another apt run holding the lock?); retrying in 10 s"
        sleep 10
    done
    command -v dot >/dev/null 2>&1 || die "apt-get installed graphviz, but dot is not on PATH"
fi
command -v dot
