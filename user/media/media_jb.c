/*
 * media_jb: the adaptive jitter buffer, pulled once per 20 ms tick.
 *
 * Packets are kept by RTP timestamp (with DTX the sequence number says
 * nothing about time). Each packet's relative transit time (arrival -
 * RTP timestamp, RFC 3550 s.6.4.1) is recorded over the last 64 packets:
 * the smallest is the fastest path, max - min the delay spread. The
 * playout point of a frame is its timestamp + the smallest transit + the
 * target delay, and the target follows the spread: spread + half a frame
 * (the phase between arrivals and our tick), at least one frame (two with
 * Opus, so that the next packet, which carries a lost one's FEC copy, is
 * usually there) and at most 200 ms.
 *
 * Once playing, play_ts advances one frame per tick whatever arrives, so
 * the delay stays put across DTX silences and the received audio keeps
 * its timing. It is steered only when the ideal playout timestamp (now -
 * min transit - target) is a frame or more away: a frame is skipped when
 * we are late, or held (concealed without advancing) when early, in
 * either case on a frame that is missing (silence, DTX), or at once when
 * three frames away. A frame that is missing at its turn is recovered from
 * the next packet's FEC if that is there, else concealed; a gap in
 * timestamps without a gap in sequence numbers is DTX, not loss, and is
 * concealed (comfort noise from the decoder). Packets older
 * than play_ts are late and dropped. Half a second away (a timestamp jump)
 * starts over.
 */
#include <errno.h>
#include <string.h>

#include "media_priv.h"

void me_jb_init(struct me_jb *jb, unsigned rate, unsigned frame, int fec)
{
	memset(jb, 0, sizeof(*jb));
	jb->rate = rate;
	jb->frame = frame;
	jb->fec = fec;
	jb->min_target = fec ? 2 * frame : frame;
	jb->max_target = rate / 5;	/* 200 ms */
	jb->target = jb->min_target;
}

double me_jb_target_ms(const struct me_jb *jb)
{
	return jb->rate ? jb->target * 1000.0 / jb->rate : 0;
}

static uint32_t ns_to_ts(const struct me_jb *jb, uint64_t ns)
{
	return (uint32_t)(ns / 1000 * jb->rate / 1000000);
}

static void jb_adapt(struct me_jb *jb, uint32_t transit)
{
	uint32_t lo, hi, t;

	jb->transit[jb->ti] = transit;
	jb->ti = (jb->ti + 1) % ME_JB_WIN;
	if (jb->ntransit < ME_JB_WIN)
		jb->ntransit++;
	lo = hi = jb->transit[0];
	for (unsigned i = 1; i < jb->ntransit; i++) {
		if (rtp_ts_diff(jb->transit[i], lo) < 0)
			lo = jb->transit[i];
		if (rtp_ts_diff(jb->transit[i], hi) > 0)
			hi = jb->transit[i];
	}
	t = (hi - lo) + jb->frame / 2;
	if (t < jb->min_target)
		t = jb->min_target;
	if (t > jb->max_target)
		t = jb->max_target;
	jb->target = t;
	jb->min_transit = lo;
}

static struct me_jb_slot *jb_find(struct me_jb *jb, uint32_t ts)
{
	for (unsigned i = 0; i < ME_JB_SLOTS; i++)
		if (jb->slot[i].used && jb->slot[i].ts == ts)
			return &jb->slot[i];
	return NULL;
}

/* The earliest buffered packet (NULL if none). */
static struct me_jb_slot *jb_earliest(struct me_jb *jb)
{
	struct me_jb_slot *best = NULL;

	for (unsigned i = 0; i < ME_JB_SLOTS; i++)
		if (jb->slot[i].used &&
		    (!best || rtp_ts_diff(jb->slot[i].ts, best->ts) < 0))
			best = &jb->slot[i];
	return best;
}

int me_jb_put(struct me_jb *jb, uint16_t seq, uint32_t ts,
	      uint64_t arrival_ns, const uint8_t *data, size_t len)
{
	struct me_jb_slot *free_slot = NULL;

	if (len > ME_JB_MAXPAY)
		return -E2BIG;
	jb_adapt(jb, ns_to_ts(jb, arrival_ns) - ts);
	if (jb->started && rtp_ts_diff(ts, jb->play_ts) < 0) {
		jb->late++;
		return -EALREADY;
	}
	for (unsigned i = 0; i < ME_JB_SLOTS; i++) {
		if (jb->slot[i].used && jb->slot[i].ts == ts)
			return -EALREADY;
		if (!jb->slot[i].used && !free_slot)
			free_slot = &jb->slot[i];
	}
	if (!free_slot)
		return -ENOSPC;
	free_slot->used = 1;
	free_slot->seq = seq;
	free_slot->ts = ts;
	free_slot->arrival_ns = arrival_ns;
	free_slot->len = (uint16_t)len;
	memcpy(free_slot->data, data, len);
	return 0;
}

static void jb_take(struct me_jb *jb, struct me_jb_slot *s,
		    struct me_jb_out *out)
{
	s->used = 0;	/* data stays valid until the next put */
	jb->have_last = 1;
	jb->last_seq = s->seq;
	out->data = s->data;
	out->len = s->len;
	out->arrival_ns = s->arrival_ns;
}

enum me_jb_act me_jb_get(struct me_jb *jb, uint64_t now_ns,
			 struct me_jb_out *out)
{
	uint32_t ideal = ns_to_ts(jb, now_ns) - jb->min_transit - jb->target;
	int32_t off, f = (int32_t)jb->frame;
	struct me_jb_slot *s, *e = jb_earliest(jb);

	if (!jb->started) {
		if (!e || rtp_ts_diff(ideal, e->ts) < -f / 2)
			return ME_JB_WAIT;
		jb->started = 1;
		jb->play_ts = e->ts;
	}
	off = rtp_ts_diff(ideal, jb->play_ts);	/* > 0: we are late */
	if (off > 25 * f || off < -25 * f) {
		jb->started = 0;
		return ME_JB_WAIT;
	}
	s = jb_find(jb, jb->play_ts);
	if (off >= f && (!s || off >= 3 * f)) {
		if (s)
			s->used = 0;
		jb->skipped++;
		jb->play_ts += jb->frame;
		s = jb_find(jb, jb->play_ts);
		e = jb_earliest(jb);
	} else if (off <= -f && (!s || off <= -3 * f)) {
		jb->plc++;	/* hold: the delay grows by a frame */
		return ME_JB_PLC;
	}
	if (s) {
		jb_take(jb, s, out);
		jb->played++;
		jb->wait_sum_ns += now_ns - s->arrival_ns;
		jb->play_ts += jb->frame;
		return ME_JB_PLAY;
	}
	jb->play_ts += jb->frame;
	if (!e) {
		jb->underruns++;
	} else if (jb->have_last && e->seq == (uint16_t)(jb->last_seq + 1)) {
		jb->dtx++;	/* nothing lost: the sender was silent (DTX) */
		jb->plc++;
		return ME_JB_PLC;
	}
	s = jb->fec && e ? jb_find(jb, jb->play_ts) : NULL;
	if (s) {
		/* the next packet stays buffered: it is played next tick */
		out->data = s->data;
		out->len = s->len;
		out->arrival_ns = s->arrival_ns;
		jb->fec_used++;
		return ME_JB_FEC;
	}
	jb->plc++;
	return ME_JB_PLC;
}
