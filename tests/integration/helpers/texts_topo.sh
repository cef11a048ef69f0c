# helpers/texts_topo.sh: the topology of the texts tests (sourced).
#
#   A (sender)   a0 198.18.30.2/24 --- s0 198.18.30.1/24  S (server)
#   R (router)  r0 198.18.31.2/24 --- s1 198.18.31.1/24  S
#   B (recipient) b0 10.77.0.2/24 --- r1 10.77.0.1/24     R, masquerade
#
# B sits behind R's NAT (nftables masquerade on r0): the server sees B's
# requests from 198.18.31.2 with a port R chose, and reaches B only back
# through that mapping (its flow). RFC 2544's benchmarking range and a
# private /24, inside namespaces named $TP-*; nothing in the root
# namespace. tt_up PREFIX / tt_down PREFIX; tt_exec NS CMD...
TT_S= TT_A= TT_R= TT_B=

tt_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

tt_down() {
  local p=$1 ns pids
  for ns in "$p-a" "$p-s" "$p-r" "$p-b"; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  return 0
}

tt_up() {
  local p=$1
  TT_S=$p-s TT_A=$p-a TT_R=$p-r TT_B=$p-b
  tt_down "$p"
  ip netns add "$TT_S" && ip netns add "$TT_A" && ip netns add "$TT_R" &&
    ip netns add "$TT_B" || return 1
  # ifindexes unique across the namespaces: netq's BPF programs key by
  # ifindex and see every namespace (TCP retransmissions on B's link
  # would count against A's a0 if the two shared an ifindex)
  local ix=$(( 3000 + ($(printf '%s' "$p" | cksum | cut -d' ' -f1) % 5000) * 8 ))
  ip link add "${p}a0" index $ix type veth peer name "${p}s0" index $((ix + 1)) || return 1
  ip link add "${p}r0" index $((ix + 2)) type veth peer name "${p}s1" index $((ix + 3)) || return 1
  ip link add "${p}b0" index $((ix + 4)) type veth peer name "${p}r1" index $((ix + 5)) || return 1
  ip link set "${p}a0" netns "$TT_A" name a0
  ip link set "${p}s0" netns "$TT_S" name s0
  ip link set "${p}s1" netns "$TT_S" name s1
  ip link set "${p}r0" netns "$TT_R" name r0
  ip link set "${p}r1" netns "$TT_R" name r1
  ip link set "${p}b0" netns "$TT_B" name b0
  tt_exec "$TT_A" ip addr add 198.18.30.2/24 dev a0
  tt_exec "$TT_S" ip addr add 198.18.30.1/24 dev s0
  tt_exec "$TT_S" ip addr add 198.18.31.1/24 dev s1
  tt_exec "$TT_R" ip addr add 198.18.31.2/24 dev r0
  tt_exec "$TT_R" ip addr add 10.77.0.1/24 dev r1
  tt_exec "$TT_B" ip addr add 10.77.0.2/24 dev b0
  local ns
  for ns in "$TT_A" "$TT_S" "$TT_R" "$TT_B"; do
    tt_exec "$ns" sh -c 'for d in $(ls /sys/class/net); do ip link set "$d" up; done'
  done
  tt_exec "$TT_A" ip route add default via 198.18.30.1
  tt_exec "$TT_B" ip route add default via 10.77.0.1
  tt_exec "$TT_R" sysctl -qw net.ipv4.ip_forward=1
  tt_exec "$TT_R" nft -f - <<'NFT' || return 1
table ip nat {
  chain post { type nat hook postrouting priority 100; oifname "r0" masquerade; }
}
NFT
  # B's flows through the NAT must not outlive a cut link by much in the
  # tests; the default UDP mapping timeout (30 s) is kept
  return 0
}
