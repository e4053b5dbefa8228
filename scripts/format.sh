#!/usr/bin/env bash
# The repository's .clang-format (Google base, 100 columns) over every C++ source it tracks.
#   scripts/format.sh           rewrites the files in place
#   scripts/format.sh --check   changes nothing; lists each file that differs and exits 1 (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mapfile -t files < <(git ls-files '*.cpp' '*.h' ':!:tests/fuzz/corpus/*')
if [[ ${1:-} == --check ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'not formatted (run scripts/format.sh): %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files match .clang-format"
else
  clang-format -i "${files[@]}"
fi
