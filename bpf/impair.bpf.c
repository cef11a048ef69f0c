// SPDX-License-Identifier: GPL-2.0
/* impair: a tc program that drops a chosen fraction of packets, for tests.
 *
 * netem is not built into the kernels we test on, so packet loss is made
 * with this program instead (scripts/netns.sh impair, loader
 * tests/tools/impair.c). Each packet is dropped with probability
 * loss_ppm / 1e6, drawn from bpf_get_prandom_u32(); everything else goes on
 * (TC_ACT_UNSPEC). No RFC: a test instrument only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT 2

/* Set by the loader through rodata before load: parts per million dropped. */
const volatile __u32 loss_ppm = 0;

/* Packets seen and dropped, so a test can read what the program did. */
struct impair_stats {
	__u64 seen;
	__u64 dropped;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct impair_stats);
} impair_stats SEC(".maps");

SEC("tc")
int impair_drop(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct impair_stats *st = bpf_map_lookup_elem(&impair_stats, &k);
	int drop = bpf_get_prandom_u32() % 1000000 < loss_ppm;

	if (st) {
		__sync_fetch_and_add(&st->seen, 1);
		if (drop)
			__sync_fetch_and_add(&st->dropped, 1);
	}
	return drop ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
