#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and starts
# depositbot with the given arguments (default: the terminal chat) on the
# embedded defaults (./depositbot.db in the caller's directory).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-deps.sh"
(cd "$here" && scripts/build.sh >/dev/null)
exec "$here/build/depositbot" "${@:-chat}"
