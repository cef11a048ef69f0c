// SPDX-License-Identifier: GPL-2.0
/* empty_tc: a tc program that does nothing, the floor for the per-packet
 * cost benchmark (tests/bench/netq_tc_cost.sh). Attached beside netq's tc
 * programs on the same interface and direction, it sees the same packets,
 * so run_time_ns/run_cnt of the two are compared under the same traffic.
 * No RFC.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC: let the stack continue */
}

char LICENSE[] SEC("license") = "GPL";
