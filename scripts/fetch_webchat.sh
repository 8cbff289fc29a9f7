#!/usr/bin/env bash
# Fetch the rasa-webchat chat widget (standalone browser bundle) from the npm
# registry, without a node_modules tree.
#
#   scripts/fetch_webchat.sh          # fetch if missing or another version
#   scripts/fetch_webchat.sh --force  # fetch again
#
# The tarball is checked against the sha512 integrity pinned below (the value
# of `npm view rasa-webchat@VERSION dist.integrity`) before anything is
# extracted. Only lib/index.js (the self-contained UMD bundle: React, the
# socket.io client and the styles are inside it) and the licence are kept, in
# bot/web/static/vendor/rasa-webchat/ (git-ignored). See bot/web/README.md.
set -euo pipefail

WEBCHAT_VERSION="1.0.1"
WEBCHAT_INTEGRITY="sha512-Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS+YqIqo0x8w=="

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/bot/web/static/vendor/rasa-webchat"
STAMP="$DEST/VERSION"
WANT="rasa-webchat@$WEBCHAT_VERSION $WEBCHAT_INTEGRITY"

if [[ "${1:-}" != "--force" && -s "$DEST/index.js" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "rasa-webchat $WEBCHAT_VERSION already present in ${DEST#"$ROOT"/}"
    exit 0
fi

for tool in npm node tar; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: '$tool' is needed to fetch the chat widget (install Node.js and npm)" >&2
        exit 1
    fi
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "Fetching rasa-webchat@$WEBCHAT_VERSION from the npm registry..."
# `npm pack` of a registry package only downloads its tarball: no dependency
# is installed and no package script runs.
(cd "$TMP" && npm pack "rasa-webchat@$WEBCHAT_VERSION" --ignore-scripts --silent >/dev/null)
TARBALL="$TMP/rasa-webchat-$WEBCHAT_VERSION.tgz"
if [[ ! -f "$TARBALL" ]]; then
    echo "error: npm pack did not produce $(basename "$TARBALL")" >&2
    exit 1
fi

GOT="sha512-$(node -e '
const fs = require("fs"), crypto = require("crypto");
process.stdout.write(crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
' "$TARBALL")"
if [[ "$GOT" != "$WEBCHAT_INTEGRITY" ]]; then
    echo "error: integrity mismatch for rasa-webchat@$WEBCHAT_VERSION" >&2
    echo "  expected $WEBCHAT_INTEGRITY" >&2
    echo "  got      $GOT" >&2
    exit 1
fi

tar -xzf "$TARBALL" -C "$TMP" package/lib/index.js package/LICENSE
if [[ ! -s "$TMP/package/lib/index.js" ]]; then
    echo "error: package/lib/index.js missing from the tarball" >&2
    exit 1
fi

# Assemble next to the destination, then swap it in whole.
mkdir -p "$(dirname "$DEST")"
STAGE="$(mktemp -d "$(dirname "$DEST")/.rasa-webchat.XXXXXX")"
trap 'rm -rf "$TMP" "$STAGE"' EXIT
cp "$TMP/package/lib/index.js" "$STAGE/index.js"
cp "$TMP/package/LICENSE" "$STAGE/LICENSE"
printf '%s\n' "$WANT" > "$STAGE/VERSION"
chmod 755 "$STAGE"
chmod 644 "$STAGE"/*
rm -rf "$DEST"
mv "$STAGE" "$DEST"

echo "rasa-webchat $WEBCHAT_VERSION installed in ${DEST#"$ROOT"/} (integrity verified)"
