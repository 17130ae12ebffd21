#!/usr/bin/env bash
# check_format.sh: every C file tracked by git (or only the FILEs given) is as clang-format
# writes it (.clang-format); prints the files that are not and exits 1. Fix with
# `clang-format -i FILE`. .ci/run runs it on every file before the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check_format: clang-format is missing: run scripts/deps.sh" >&2; exit 1; }
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(git ls-files '*.c' '*.h'); fi
bad=()
for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
    echo "check_format: not as clang-format writes them (clang-format -i FILE):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
fi
echo "check_format: ${#files[@]} files formatted"
