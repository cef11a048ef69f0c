// SPDX-License-Identifier: GPL-2.0
/* netq tc cost, one piece at a time. v_*: each program does one thing
 * netq's tc programs do (read .rodata, look up netq_ctl, read/add to the
 * counters, atomics or not, jiffies, clock helpers, per-CPU or kmalloc'd
 * maps), on maps of netq's layouts. n_*: whole shapes: n_cur is the
 * per-packet path before issue 8 (slot from .rodata, netq_ctl looked up
 * per packet), n_new the path now (slot as an immediate, probe word on the
 * stream's line), and n_new with the jiffies test or the atomics taken
 * out (the immediate is left at 0 here: slot 0). Measured by run.sh beside
 * the empty program; figures in docs/netq.md, "Per-packet cost". No RFC.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <dataline/netq_maps.h>
char LICENSE[] SEC("license") = "GPL";
#define READ_ONCE(x)     (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
const volatile __u32 netq_slot = 0;
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, NETQ_MAX_IFACES); __type(key, __u32); __type(value, struct netq_iface); } ifaces SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1); __type(key, __u32); __type(value, struct netq_ctl); } ctl SEC(".maps");
struct small { __u64 a, b, c, epoch, last_j, pad[3]; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 64); __type(key, __u32); __type(value, struct small); } kmal SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 64); __type(key, __u32); __type(value, struct small); } mmsmall SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 64); __type(key, __u32); __type(value, struct small); } pcpu SEC(".maps");
__u64 sink;

static __always_inline struct netq_stream *stream(struct __sk_buff *skb)
{ __u32 k = 0; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &k);
  if (!st) return 0; return skb->ingress_ifindex ? &st->rx : &st->tx; }

SEC("tc") int v_empty(struct __sk_buff *skb) { return -1; }
SEC("tc") int v_rodata(struct __sk_buff *skb) { if (netq_slot == 5) return 0; return -1; }
SEC("tc") int v_lookup_read(struct __sk_buff *skb)
{ struct netq_stream *s = stream(skb); if (s && READ_ONCE(s->a) == 12345) return 0; return -1; }
SEC("tc") int v_plain2(struct __sk_buff *skb)
{ struct netq_stream *s = stream(skb); if (s) { s->a += skb->len; s->b += 1; } return -1; }
/* the floor of counting: one plain add of the length, nothing else */
SEC("tc") int v_plain1(struct __sk_buff *skb)
{ __u32 k = 0; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &k);
  if (st) st->tx.a += skb->len; return -1; }
SEC("tc") int v_atomic1(struct __sk_buff *skb)
{ struct netq_stream *s = stream(skb); if (s) __sync_fetch_and_add(&s->a, skb->len); return -1; }
SEC("tc") int v_atomic2(struct __sk_buff *skb)
{ struct netq_stream *s = stream(skb); if (s) { __sync_fetch_and_add(&s->a, skb->len); __sync_fetch_and_add(&s->b, 1);} return -1; }
SEC("tc") int v_jiffies(struct __sk_buff *skb)
{ struct netq_stream *s = stream(skb); if (s) { __u64 j = bpf_jiffies64(); if (j != READ_ONCE(s->last_j)) WRITE_ONCE(s->last_j, j); } return -1; }
SEC("tc") int v_ctl(struct __sk_buff *skb)
{ __u32 k = 0; struct netq_ctl *c = bpf_map_lookup_elem(&ctl, &k); if (c && READ_ONCE(c->probe_train)) return 0; return -1; }
SEC("tc") int v_ktime(struct __sk_buff *skb) { sink = bpf_ktime_get_ns(); return -1; }
SEC("tc") int v_coarse(struct __sk_buff *skb) { sink = bpf_ktime_get_coarse_ns(); return -1; }
SEC("tc") int v_bss2(struct __sk_buff *skb) { __sync_fetch_and_add(&sink, skb->len); return -1; }
SEC("tc") int v_kmal_atomic2(struct __sk_buff *skb)
{ __u32 k = skb->ingress_ifindex ? 1 : 0; struct small *s = bpf_map_lookup_elem(&kmal, &k);
  if (s) { __sync_fetch_and_add(&s->a, skb->len); __sync_fetch_and_add(&s->b, 1);} return -1; }
SEC("tc") int v_mmsmall_atomic2(struct __sk_buff *skb)
{ __u32 k = skb->ingress_ifindex ? 1 : 0; struct small *s = bpf_map_lookup_elem(&mmsmall, &k);
  if (s) { __sync_fetch_and_add(&s->a, skb->len); __sync_fetch_and_add(&s->b, 1);} return -1; }
SEC("tc") int v_pcpu2(struct __sk_buff *skb)
{ __u32 k = skb->ingress_ifindex ? 1 : 0; struct small *s = bpf_map_lookup_elem(&pcpu, &k);
  if (s) { s->a += skb->len; s->b += 1; } return -1; }
SEC("tc") int v_skblen(struct __sk_buff *skb) { if (skb->len == 3) return 0; return -1; }
/* discriminating: one load vs two loads same page (other line) vs two loads other page */
SEC("tc") int v_one_line(struct __sk_buff *skb)
{ __u32 k = 0; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &k);
  if (st && READ_ONCE(st->tx.a) == 12345) return 0; return -1; }
SEC("tc") int v_two_lines_same_page(struct __sk_buff *skb)
{ __u32 k = 0; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &k);
  if (st && READ_ONCE(st->tx.a) + READ_ONCE(st->tx.marks[20].a) == 12345) return 0; return -1; }
SEC("tc") int v_two_pages(struct __sk_buff *skb)
{ __u32 k = 0; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &k);
  if (st && READ_ONCE(st->tx.a) + READ_ONCE(st->rx.a) == 12345) return 0; return -1; }
SEC("tc") int v_three_pages(struct __sk_buff *skb)
{ __u32 k = 0; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &k);
  if (st && READ_ONCE(st->tx.a) + READ_ONCE(st->rx.a) + READ_ONCE(st->tcp.a) == 12345) return 0; return -1; }
SEC("tc") int v_skbdata(struct __sk_buff *skb)
{ void *d = (void *)(long)skb->data, *e = (void *)(long)skb->data_end;
  if (d + 14 > e) return -1; if (*(__u8 *)d == 3) return 0; return -1; }
SEC("tc") int v_stack_only(struct __sk_buff *skb)
{ volatile __u32 k = skb->len; if (k == 3) return 0; return -1; }
SEC("tc") int v_bss_read(struct __sk_buff *skb)
{ if (READ_ONCE(sink) == 12345) return 0; return -1; }
SEC("tc") int v_bss_add(struct __sk_buff *skb)
{ sink += skb->len; return -1; }
SEC("tc") int v_kmal_read(struct __sk_buff *skb)
{ __u32 k = 0; struct small *s = bpf_map_lookup_elem(&kmal, &k);
  if (s && READ_ONCE(s->a) == 12345) return 0; return -1; }

/* ---------------------------------------------------- whole shapes */
static __noinline void mark(struct netq_stream *s, __u64 old, __u64 e)
{ if (!s) return; if (__sync_val_compare_and_swap(&s->epoch, old, e) != old) return;
  s->marks[e & 127].t_ns = bpf_ktime_get_ns(); }

/* current shape: rodata slot, jiffies, 2 atomics, ctl lookup */
static __always_inline int cur(struct __sk_buff *skb, int eg)
{ __u32 slot = netq_slot; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &slot);
  if (st) { struct netq_stream *s = eg ? &st->tx : &st->rx; __u64 j = bpf_jiffies64();
    if (j != READ_ONCE(s->last_j)) { __u64 now = bpf_ktime_get_coarse_ns(), e = now >> 27, old = READ_ONCE(s->epoch);
      WRITE_ONCE(s->last_j, j); if (e != old) mark(s, old, e); }
    __sync_fetch_and_add(&s->a, skb->len); __sync_fetch_and_add(&s->b, 1); }
  __u32 k = 0; struct netq_ctl *c = bpf_map_lookup_elem(&ctl, &k);
  if (c && READ_ONCE(c->probe_train)) return 0; return -1; }
SEC("tc") int n_cur(struct __sk_buff *skb) { return cur(skb, !skb->ingress_ifindex); }

/* no rodata: slot as an immediate (patched at load); probe word on the stream line */
#define IMM(v) ({ __u32 __x; asm volatile("%0 = 0" : "=r"(__x)); __x; })
static __always_inline int nw(struct __sk_buff *skb, int eg, int jif, int atom, int probe)
{ __u32 slot = IMM(0); struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &slot);
  if (!st) return -1;
  struct netq_stream *s = eg ? &st->tx : &st->rx;
  if (jif) { __u64 j = bpf_jiffies64();
    if (j != READ_ONCE(s->last_j)) { __u64 now = bpf_ktime_get_coarse_ns(), e = now >> 27, old = READ_ONCE(s->epoch);
      WRITE_ONCE(s->last_j, j); if (e != old) mark(s, old, e); } }
  if (atom) { __sync_fetch_and_add(&s->a, skb->len); __sync_fetch_and_add(&s->b, 1); }
  else { s->a += skb->len; s->b += 1; }
  if (probe && READ_ONCE(s->probe_train)) return 0;
  return -1; }
SEC("tc") int n_new(struct __sk_buff *skb) { return nw(skb, !skb->ingress_ifindex, 1, 1, 1); }
SEC("tc") int n_new_nojif(struct __sk_buff *skb) { return nw(skb, !skb->ingress_ifindex, 0, 1, 1); }
SEC("tc") int n_new_plain(struct __sk_buff *skb) { return nw(skb, !skb->ingress_ifindex, 1, 0, 1); }
SEC("tc") int n_new_noprobe(struct __sk_buff *skb) { return nw(skb, !skb->ingress_ifindex, 1, 1, 0); }
SEC("tc") int n_rodata_slot(struct __sk_buff *skb)
{ __u32 slot = netq_slot; struct netq_iface *st = bpf_map_lookup_elem(&ifaces, &slot);
  if (!st) return -1; struct netq_stream *s = !skb->ingress_ifindex ? &st->tx : &st->rx;
  __sync_fetch_and_add(&s->a, skb->len); __sync_fetch_and_add(&s->b, 1); return -1; }
SEC("tc") int n_empty(struct __sk_buff *skb) { return -1; }
