#!/bin/sh
# Runs a command and checks its exit status and that its output (stdout and stderr
# together) contains each expected text.
#   cli_check.sh STATUS [--expect TEXT]... [--reject TEXT]... -- COMMAND [ARG]...
set -u
want=$1
shift
expects_file=$(mktemp) rejects_file=$(mktemp) out=$(mktemp)
trap 'rm -f "$expects_file" "$rejects_file" "$out"' EXIT
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case $1 in
    --expect) printf '%s\n' "$2" >> "$expects_file"; shift 2 ;;
    --reject) printf '%s\n' "$2" >> "$rejects_file"; shift 2 ;;
    *) echo "cli_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
shift  # --
"$@" > "$out" 2>&1
status=$?
cat "$out"
fail=0
if [ "$status" -ne "$want" ]; then
  echo "FAIL: exit status $status, expected $want" >&2
  fail=1
fi
while IFS= read -r text; do
  if ! grep -qF -- "$text" "$out"; then
    echo "FAIL: output lacks: $text" >&2
    fail=1
  fi
done < "$expects_file"
while IFS= read -r text; do
  if grep -qF -- "$text" "$out"; then
    echo "FAIL: output contains: $text" >&2
    fail=1
  fi
done < "$rejects_file"
exit $fail
