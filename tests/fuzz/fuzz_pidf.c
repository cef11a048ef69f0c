/*
 * fuzz_pidf: libFuzzer target for application/pidf+xml (RFC 3863) with
 * the netq extension element. Properties: a parsed document rebuilt with
 * pidf_build parses back to the same entity, tuples and netq figures,
 * and parsing needs no more scratch than the document's size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/pidf.h"

static int same(struct sip_str a, struct sip_str b)
{
	return a.p == NULL ? b.p == NULL :
	       (b.p && a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
}

static int netq_same(const struct pidf_netq *a, const struct pidf_netq *b)
{
	return a->present == b->present && a->have == b->have &&
	       a->link == b->link && a->rate_kbps == b->rate_kbps &&
	       (!(a->have & PIDF_NETQ_PROBED) || a->probed == b->probed) &&
	       a->rtt_ms == b->rtt_ms && a->loss_ppm == b->loss_ppm &&
	       a->age_s == b->age_s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char scratch[70000], scratch2[200000], out[200000];
	static struct pidf_doc d, r;
	size_t len;

	if (size > 65535)
		return 0;
	if (pidf_parse((const char *)data, size, scratch, size ? size : 1, &d) != 0)
		return 0;
	if (pidf_build(&d, out, sizeof(out), &len))
		abort();
	if (pidf_parse(out, len, scratch2, sizeof(scratch2), &r) ||
	    !same(d.entity, r.entity) || d.ntuples != r.ntuples ||
	    !same(d.note, r.note) || !netq_same(&d.netq, &r.netq))
		abort();
	for (unsigned i = 0; i < d.ntuples; i++) {
		const struct pidf_tuple *a = &d.tuples[i], *b = &r.tuples[i];
		if (!same(a->id, b->id) || a->basic != b->basic ||
		    !same(a->contact, b->contact) || !same(a->priority, b->priority) ||
		    !same(a->note, b->note) || !same(a->timestamp, b->timestamp) ||
		    !netq_same(&a->netq, &b->netq))
			abort();
	}
	return 0;
}
