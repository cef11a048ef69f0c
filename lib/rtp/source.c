/*
 * source: per-source receiver statistics, after the reference code of
 * RFC 3550 appendix A: A.1 (source validation with probation, extended
 * sequence numbers over wrap-around, dropouts and restarts), A.3 (packets
 * lost, cumulative and as a fraction per interval) and A.8 (interarrival
 * jitter in its integer form, scaled by 16). Pure: the caller supplies
 * arrival times in RTP timestamp units.
 */
#include <string.h>

#include "dataline/rtp.h"

#define RTP_SEQ_MOD (1u << 16)

static void init_seq(struct rtp_source *s, uint16_t seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RTP_SEQ_MOD + 1;	/* so seq == bad_seq is false */
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
}

void rtp_source_init(struct rtp_source *s, uint16_t seq)
{
	memset(s, 0, sizeof(*s));
	init_seq(s, seq);
	s->max_seq = (uint16_t)(seq - 1);
	s->probation = RTP_MIN_SEQUENTIAL;
}

int rtp_source_update(struct rtp_source *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	/* Source is not valid until RTP_MIN_SEQUENTIAL packets with
	 * sequential sequence numbers have been received. */
	if (s->probation) {
		if (seq == (uint16_t)(s->max_seq + 1)) {
			s->probation--;
			s->max_seq = seq;
			if (s->probation == 0) {
				init_seq(s, seq);
				s->received++;
				return 1;
			}
		} else {
			s->probation = RTP_MIN_SEQUENTIAL - 1;
			s->max_seq = seq;
		}
		return 0;
	}
	if (udelta < RTP_MAX_DROPOUT) {
		/* in order, with permissible gap */
		if (seq < s->max_seq)
			s->cycles += RTP_SEQ_MOD;	/* wrapped */
		s->max_seq = seq;
	} else if (udelta <= RTP_SEQ_MOD - RTP_MAX_MISORDER) {
		/* the sequence number made a very large jump */
		if (seq == s->bad_seq) {
			/* Two sequential packets -- assume that the other
			 * side restarted without telling us so just re-sync
			 * (i.e., pretend this was the first packet). */
			init_seq(s, seq);
		} else {
			s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
			return 0;
		}
	}
	/* else: duplicate or reordered packet */
	s->received++;
	return 1;
}

uint32_t rtp_source_ext_max(const struct rtp_source *s)
{
	return s->cycles + s->max_seq;
}

void rtp_source_loss(struct rtp_source *s, int32_t *cumulative,
		     uint8_t *fraction)
{
	uint32_t expected = rtp_source_ext_max(s) - s->base_seq + 1;
	int64_t lost = (int64_t)expected - s->received;
	uint32_t expected_interval = expected - s->expected_prior;
	uint32_t received_interval = s->received - s->received_prior;
	int64_t lost_interval = (int64_t)expected_interval - received_interval;

	s->expected_prior = expected;
	s->received_prior = s->received;
	/* the report block's field is 24-bit signed (s.6.4.1) */
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	else if (lost < -0x800000)
		lost = -0x800000;
	*cumulative = (int32_t)lost;
	if (expected_interval == 0 || lost_interval <= 0) {
		*fraction = 0;
	} else {
		/* all lost would be 256/256: the field tops out at 255 */
		uint64_t f = ((uint64_t)lost_interval << 8) / expected_interval;
		*fraction = (uint8_t)(f > 255 ? 255 : f);
	}
}

uint32_t rtp_source_jitter(struct rtp_source *s, uint32_t arrival,
			   uint32_t rtp_ts)
{
	uint32_t transit = arrival - rtp_ts;
	int32_t d;

	if (!s->have_transit) {
		s->have_transit = 1;
		s->transit = transit;
		return s->jitter >> 4;
	}
	d = (int32_t)(transit - s->transit);
	s->transit = transit;
	if (d < 0)
		d = d == INT32_MIN ? INT32_MAX : -d;
	/* J += (|D| - J) / 16, with J kept scaled by 16 (A.8) */
	s->jitter += (uint32_t)d - ((s->jitter + 8) >> 4);
	return s->jitter >> 4;
}
