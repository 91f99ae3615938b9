#!/usr/bin/env bash
# clang-format over every C and C++ source the project owns (.clang-format at the root).
#   scripts/format.sh          rewrites files in place (make format)
#   scripts/format.sh --check  lists the files that differ and fails if any does (make format-check,
#                              and the format_check test of make test)
# Left alone: tests/fixtures/ (frozen copies of released SDK headers, byte for byte) and the
# scaffold's *.in templates (not C++ until the scaffold fills them in).
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
command -v "$CLANG_FORMAT" >/dev/null || { echo "format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2; exit 2; }

files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -co --exclude-standard -- '*.c' '*.h' '*.cpp' '*.hpp'
  else
    find kernel plugins tests bench -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp'
  fi | grep -v '^tests/fixtures/' | sort -u
}

if [ "${1:-}" = "--check" ]; then
  bad=0
  while IFS= read -r f; do
    [ -f "$f" ] || continue
    if ! "$CLANG_FORMAT" --dry-run -Werror "$f" >/dev/null 2>&1; then
      echo "format: $f differs from .clang-format"
      bad=$((bad + 1))
    fi
  done < <(files)
  if [ "$bad" -gt 0 ]; then
    echo "format: $bad file(s) differ; run 'make format'" >&2
    exit 1
  fi
  echo "format: every source file matches .clang-format"
else
  files | while IFS= read -r f; do [ -f "$f" ] && "$CLANG_FORMAT" -i "$f"; done
fi
