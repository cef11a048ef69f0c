/*
 * rtp_int.h: network byte order reads and writes shared by the RTP and
 * RTCP parsers and builders. Private to lib/rtp/.
 */
#ifndef DATALINE_RTP_INT_H
#define DATALINE_RTP_INT_H

#include <stdint.h>

static inline uint16_t rtp_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rtp_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void rtp_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rtp_wr32(uint8_t *p, uint32_t v)
{
	rtp_wr16(p, (uint16_t)(v >> 16));
	rtp_wr16(p + 2, (uint16_t)v);
}

#endif /* DATALINE_RTP_INT_H */
