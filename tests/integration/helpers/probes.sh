# helpers/probes.sh: a handset daemon's probes and publications as its log
# shows them (`hpres: probe to ...: N kbit/s`, `hpres: publishing ...`,
# `agent: PUBLISH (...) answered 200`). Sourced by handset_calls.sh and
# scripts/demo_calls.sh; LOG is the daemon's --log-file.
#   nprobes LOG                how many probes have ended in a rate
#   probe_kbps LOG N           the rate of the Nth (1-based), or ""
#   probe_after LOG N OP V     a probe after the Nth whose rate OP V
#                              (OP: -lt, -gt, ... as for test)
#   published_after LOG L OP V after line L of LOG, figures whose rate OP V
#                              were published and the server answered 2xx
nprobes() { grep -c "hpres: probe to .*kbit/s" "$1"; }
probe_kbps() { grep "hpres: probe to .*kbit/s" "$1" | sed -n "${2}p" | grep -Eo '[0-9]+ kbit/s' | grep -Eo '[0-9]+'; }
probe_after() {
  local i k
  for ((i = $2 + 1; i <= $(nprobes "$1"); i++)); do
    k=$(probe_kbps "$1" $i); [ -n "$k" ] && [ "$k" "$3" "$4" ] && return 0
  done
  return 1
}
published_after() {
  awk -v l0="$2" -v op="$3" -v v="$4" '
    NR <= l0 { next }
    /hpres: publishing/ && match($0, /rate [0-9]+ kbit/) {
      k = substr($0, RSTART + 5, RLENGTH - 10) + 0
      want = (op == "-lt" && k < v) || (op == "-gt" && k > v) ||
             (op == "-le" && k <= v) || (op == "-ge" && k >= v)
    }
    want && /agent: PUBLISH \([a-z]+\) answered 2[0-9][0-9]/ { found = 1 }
    END { exit !found }' "$1"
}
