/*
 * hmap: one intrusive chained hash table for the whole tree (transactions,
 * nonce counts, device and binding caches, connection counts), plus the
 * keyed hash (SipHash-1-3) its users feed it.
 *
 * Intrusive: the caller embeds a struct hmap_node in its own struct and
 * gets back from a node with container_of-style HMAP_ENTRY(). The table
 * owns only its bucket array; nodes stay the caller's (hmap_destroy frees
 * no node). Buckets are a power of two, picked by the low bits of the
 * 64-bit hash; the table doubles when it holds more nodes than buckets
 * and halves only when asked (hmap_shrink), so removing while iterating
 * never rehashes. No locking: callers keep their own locks and shards.
 *
 * Keys strangers choose (SIP branches, Call-IDs, nonces, addresses) must
 * be hashed with hmap_hash(), keyed by 128 random bits drawn once per
 * process, so that nobody outside can compute which keys share a chain
 * and turn every lookup into a walk of one long chain (hash flooding).
 * docs/decisions.md, "One hash table, one host:port parser".
 */
#ifndef DATALINE_HMAP_H
#define DATALINE_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_node {
	struct hmap_node *next;   /* chain; the table's */
	uint64_t hash;            /* full hash, kept so growing reads no key */
};

struct hmap {
	struct hmap_node **buckets; /* owned array of borrowed chains */
	size_t mask;                /* buckets - 1 */
	size_t count;
	size_t min_buckets;         /* hmap_shrink() stops here */
};

/* The struct of type TYPE whose MEMBER node is NODE (NULL stays NULL). */
#define HMAP_ENTRY(node, type, member)                                    \
	((node) ? (type *)(void *)((char *)(node) - offsetof(type, member))   \
		: (type *)NULL)

/* BUCKETS rounded up to a power of two (at least 1). -ENOMEM or 0. */
int hmap_init(struct hmap *m, size_t buckets);
/* Frees the bucket array, not the nodes (remove or free those first). */
void hmap_destroy(struct hmap *m);

static inline size_t hmap_count(const struct hmap *m)
{
	return m->count;
}

static inline size_t hmap_buckets(const struct hmap *m)
{
	return m->mask + 1;
}

/* Links N with HASH (duplicates allowed: the caller looks first). May
 * double the buckets; if that allocation fails the chains get longer,
 * still correct. */
void hmap_insert(struct hmap *m, struct hmap_node *n, uint64_t hash);
/* Unlinks N (a node in M) in O(its chain). Returns 0, or -ENOENT. */
int hmap_remove(struct hmap *m, struct hmap_node *n);
/* Halves the buckets while there are fewer nodes than an eighth of them,
 * down to the size given to hmap_init(). Not during an iteration. */
void hmap_shrink(struct hmap *m);

/* The first node with HASH, then the next one with the same hash in its
 * chain; the caller compares keys. */
static inline struct hmap_node *hmap_first(const struct hmap *m,
					   uint64_t hash)
{
	struct hmap_node *n = m->buckets[hash & m->mask];

	while (n && n->hash != hash)
		n = n->next;
	return n;
}

static inline struct hmap_node *hmap_next(const struct hmap_node *n)
{
	uint64_t hash = n->hash;

	for (n = n->next; n && n->hash != hash; n = n->next)
		;
	return (struct hmap_node *)n;
}

/* Every node with HASH; SAFE: the current node may be removed. */
#define hmap_for_each_hash(m, pos, hash)                                  \
	for ((pos) = hmap_first((m), (hash)); (pos); (pos) = hmap_next(pos))
#define hmap_for_each_hash_safe(m, pos, tmp, hash)                        \
	for ((pos) = hmap_first((m), (hash)),                             \
	     (tmp) = (pos) ? hmap_next(pos) : NULL;                       \
	     (pos); (pos) = (tmp), (tmp) = (pos) ? hmap_next(pos) : NULL)

/* The node with HASH for which EQ(node, key) is true, or NULL. */
struct hmap_node *hmap_find(const struct hmap *m, uint64_t hash,
			    int (*eq)(const struct hmap_node *n,
				      const void *key),
			    const void *key);

/* Every node, in no order. The node hmap_iter_next() returned may be
 * removed (and freed) before the next call; nothing may be inserted. */
struct hmap_iter {
	const struct hmap *m;
	size_t bucket;
	struct hmap_node *next;
};

void hmap_iter_init(struct hmap_iter *it, const struct hmap *m);
struct hmap_node *hmap_iter_next(struct hmap_iter *it);

#define hmap_for_each(m, it, pos)                                         \
	for (hmap_iter_init(&(it), (m)); ((pos) = hmap_iter_next(&(it)));)

/* SipHash-1-3 of P[0..N) under the process's random 128-bit key (drawn
 * with getrandom() on first use). */
uint64_t hmap_hash(const void *p, size_t n);
/* The same under KEY (tests, or a table that wants its own key). */
uint64_t hmap_hash_seeded(const uint8_t key[16], const void *p, size_t n);

static inline uint64_t hmap_hash_str(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return hmap_hash(s, n);
}

#endif
