#!/bin/sh
# Runs a compile command and fails when it takes more CPU time (user + system of the
# compiler, as `times` reports it) than the budget, so that a change which makes the
# templates expensive to compile shows up. CPU time, not wall time: a busy machine runs
# slower but does not spend much more CPU.
#   compile_budget.sh SECONDS compiler args...
budget=$1
shift
"$@" || exit 1
report=$(mktemp)
times > "$report"  # in this shell: a pipe would run it in a subshell that has no children
awk -v budget="$budget" '
  function seconds(t) { split(t, p, "m"); sub("s", "", p[2]); return p[1] * 60 + p[2] }
  NR == 2 {
    cpu = seconds($1) + seconds($2)
    printf "compile: %.1f s CPU (budget %d s)\n", cpu, budget
    exit cpu > budget
  }' "$report"
status=$?
rm -f "$report"
exit $status
