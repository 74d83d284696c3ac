#!/bin/sh
# Compile-time budgets, in CPU time (user + system of the compiler, as `times` reports
# it): a busy machine runs slower but does not spend much more CPU. So that a change which
# makes the templates expensive to compile shows up.
#   compile_budget.sh SECONDS compiler args...   compile, and fail past SECONDS
#   compile_budget.sh --record compiler args...  compile, and write the CPU time beside
#                                                the object (-o OBJECT) as OBJECT.cpu: a
#                                                compiler launcher (tests/compile_fail.cmake)
#   compile_budget.sh --check SECONDS OBJECT...  fail when the OBJECT.cpu records add up
#                                                to more than SECONDS
cpu_seconds() {  # of the children of this shell so far
  report=$(mktemp)
  times > "$report"  # in this shell: a pipe would run it in a subshell that has no children
  awk 'function seconds(t) { split(t, p, "m"); sub("s", "", p[2]); return p[1] * 60 + p[2] }
       NR == 2 { printf "%.2f\n", seconds($1) + seconds($2) }' "$report"
  rm -f "$report"
}
over_budget() {  # seconds budget what
  printf "%s: %.1f s CPU (budget %d s)\n" "$3" "$1" "$2"
  awk -v cpu="$1" -v budget="$2" 'BEGIN { exit cpu > budget }'
}

case $1 in
--record)
  shift
  object=
  previous=
  for arg in "$@"; do
    [ "$previous" = -o ] && object=$arg
    previous=$arg
  done
  "$@" || exit
  [ -z "$object" ] || cpu_seconds > "$object.cpu"
  ;;
--check)
  budget=$2
  shift 2
  total=0
  for object in "$@"; do
    [ -f "$object.cpu" ] || { echo "no compile time recorded for $object" >&2; exit 1; }
    total=$(awk -v a="$total" '{ printf "%.2f\n", a + $1 }' "$object.cpu")
  done
  over_budget "$total" "$budget" "compile of $# objects"
  ;;
*)
  budget=$1
  shift
  "$@" || exit 1
  over_budget "$(cpu_seconds)" "$budget" compile
  ;;
esac
