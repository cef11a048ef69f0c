/*
 * stun: RFC 5389 Binding request/response for RFC 5626 s.4.4.2 keep-alives
 * -- detection on a port shared with SIP, a bounds-checked attribute walk,
 * XOR-MAPPED-ADDRESS (s.15.2) and FINGERPRINT (s.15.5). No
 * MESSAGE-INTEGRITY: keep-alives do not use it (see stun.h).
 */
#include <errno.h>
#include <string.h>

#include "dataline/stun.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Nibble-at-a-time CRC-32 (reflected polynomial 0xEDB88320): a 16-entry
 * table is plenty for messages of a few dozen bytes. */
uint32_t stun_crc32(const void *buf, size_t len)
{
	static const uint32_t tab[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac,
		0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
		0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
		0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	const uint8_t *p = buf;
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		c = (c >> 4) ^ tab[c & 15];
		c = (c >> 4) ^ tab[c & 15];
	}
	return c ^ 0xffffffffu;
}

int stun_is_stun(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!p || len < STUN_HDR_LEN || (p[0] & 0xc0) != 0)
		return 0;
	if (rd32(p + 4) != STUN_MAGIC_COOKIE)
		return 0;
	return (rd16(p + 2) & 3) == 0 && (size_t)rd16(p + 2) + STUN_HDR_LEN == len;
}

/* (XOR-)MAPPED-ADDRESS value: 0, family, port, address (s.15.1/15.2). */
static int addr_decode(const uint8_t *v, uint16_t vlen, const uint8_t *hdr,
		       int xor, struct stun_addr *a)
{
	size_t alen;

	if (vlen < 4 || v[0] != 0)
		return -EBADMSG;
	if (v[1] == STUN_AF_IPV4)
		alen = 4;
	else if (v[1] == STUN_AF_IPV6)
		alen = 16;
	else
		return -EBADMSG;
	if (vlen != 4 + alen)
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	a->family = v[1];
	a->port = rd16(v + 2);
	memcpy(a->ip, v + 4, alen);
	if (xor) {
		/* port ^ top 16 bits of the cookie; address ^ cookie|tid,
		 * which is exactly bytes 4..19 of the header */
		a->port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
		for (size_t i = 0; i < alen; i++)
			a->ip[i] ^= hdr[4 + i];
	}
	return 0;
}

int stun_parse(const void *buf, size_t len, struct stun_msg *out)
{
	const uint8_t *p = buf, *a, *end;
	struct stun_msg m;
	int have_xor = 0, after_mi = 0;

	if (!p || !out)
		return -EINVAL;
	if (len > STUN_MAX_MSG || !stun_is_stun(buf, len))
		return -EBADMSG;
	memset(&m, 0, sizeof(m));
	m.type = rd16(p);
	m.length = rd16(p + 2);
	memcpy(m.tid, p + 8, STUN_TID_LEN);

	end = p + len;
	for (a = p + STUN_HDR_LEN; a < end;) {
		uint16_t type, vlen;
		size_t padded;
		const uint8_t *v;

		if (end - a < 4)
			return -EBADMSG;
		type = rd16(a);
		vlen = rd16(a + 2);
		padded = ((size_t)vlen + 3) & ~(size_t)3;
		v = a + 4;
		if ((size_t)(end - v) < padded)
			return -EBADMSG;
		if (m.has_fingerprint)
			return -EBADMSG;	/* FINGERPRINT must be last */
		if (after_mi && type != STUN_ATTR_FINGERPRINT)
			return -EBADMSG;
		switch (type) {
		case STUN_ATTR_FINGERPRINT: {
			uint32_t want;
			if (vlen != 4 || v + 4 != end)
				return -EBADMSG;
			want = stun_crc32(p, (size_t)(a - p)) ^ STUN_FINGERPRINT_XOR;
			if (rd32(v) != want)
				return -EBADMSG;
			m.has_fingerprint = 1;
			break;
		}
		case STUN_ATTR_MESSAGE_INTEGRITY:
			if (vlen != 20)
				return -EBADMSG;
			m.has_integrity = 1;
			after_mi = 1;
			break;
		case STUN_ATTR_XOR_MAPPED_ADDRESS:
			if (addr_decode(v, vlen, p, 1, &m.mapped))
				return -EBADMSG;
			m.has_mapped = 1;
			have_xor = 1;
			break;
		case STUN_ATTR_MAPPED_ADDRESS: {
			struct stun_addr plain;
			if (addr_decode(v, vlen, p, 0, &plain))
				return -EBADMSG;
			if (!have_xor) {
				m.mapped = plain;
				m.has_mapped = 1;
			}
			break;
		}
		case STUN_ATTR_SOFTWARE:
			if (vlen > 763)	/* < 128 characters of UTF-8 */
				return -EBADMSG;
			m.software = v;
			m.software_len = vlen;
			break;
		case STUN_ATTR_USERNAME:
		case STUN_ATTR_ERROR_CODE:
		case STUN_ATTR_UNKNOWN_ATTRIBUTES:
			break;
		default:
			if (type < 0x8000) {
				if (m.n_unknown < STUN_MAX_UNKNOWN)
					m.unknown[m.n_unknown] = type;
				m.n_unknown++;
			}
			break;
		}
		a = v + padded;
	}
	*out = m;
	return 0;
}

int stun_binding_request_parse(const void *buf, size_t len,
			       struct stun_msg *out)
{
	struct stun_msg m;
	int rc = stun_parse(buf, len, &m);

	if (rc)
		return rc;
	if (m.type != STUN_BINDING_REQUEST)
		return -EBADMSG;
	*out = m;
	return 0;
}

/* Writes the 20-byte header with a zero length; fixed up at the end. */
static void put_header(uint8_t *p, uint16_t type,
		       const uint8_t tid[STUN_TID_LEN])
{
	wr16(p, type);
	wr16(p + 2, 0);
	wr32(p + 4, STUN_MAGIC_COOKIE);
	memcpy(p + 8, tid, STUN_TID_LEN);
}

/* Appends FINGERPRINT to a message of n bytes (room checked by the
 * caller), fixing the header length first since the CRC covers it. */
static size_t put_fingerprint(uint8_t *p, size_t n)
{
	wr16(p + 2, (uint16_t)(n + 8 - STUN_HDR_LEN));
	wr16(p + n, STUN_ATTR_FINGERPRINT);
	wr16(p + n + 2, 4);
	wr32(p + n + 4, stun_crc32(p, n) ^ STUN_FINGERPRINT_XOR);
	return n + 8;
}

int stun_binding_response_build(const uint8_t tid[STUN_TID_LEN],
				const struct stun_addr *mapped,
				const char *software, void *out, size_t cap,
				size_t *outlen)
{
	uint8_t *p = out;
	size_t alen, swlen = 0, swpad = 0, need, n;

	if (!tid || !mapped || !out || !outlen)
		return -EINVAL;
	if (mapped->family == STUN_AF_IPV4)
		alen = 4;
	else if (mapped->family == STUN_AF_IPV6)
		alen = 16;
	else
		return -EINVAL;
	if (software) {
		swlen = strlen(software);
		if (swlen > 763)
			return -EINVAL;
		swpad = (swlen + 3) & ~(size_t)3;
	}
	need = STUN_HDR_LEN + 4 + 4 + alen + (software ? 4 + swpad : 0) + 8;
	if (cap < need)
		return -ENOSPC;

	put_header(p, STUN_BINDING_SUCCESS, tid);
	n = STUN_HDR_LEN;
	if (software) {
		wr16(p + n, STUN_ATTR_SOFTWARE);
		wr16(p + n + 2, (uint16_t)swlen);
		memcpy(p + n + 4, software, swlen);
		memset(p + n + 4 + swlen, 0, swpad - swlen);
		n += 4 + swpad;
	}
	wr16(p + n, STUN_ATTR_XOR_MAPPED_ADDRESS);
	wr16(p + n + 2, (uint16_t)(4 + alen));
	p[n + 4] = 0;
	p[n + 5] = mapped->family;
	wr16(p + n + 6, mapped->port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
	for (size_t i = 0; i < alen; i++)
		p[n + 8 + i] = mapped->ip[i] ^ p[4 + i];
	n += 8 + alen;
	*outlen = put_fingerprint(p, n);
	return 0;
}

int stun_binding_request_build(const uint8_t tid[STUN_TID_LEN], void *out,
			       size_t cap, size_t *outlen)
{
	uint8_t *p = out;

	if (!tid || !out || !outlen)
		return -EINVAL;
	if (cap < STUN_HDR_LEN + 8)
		return -ENOSPC;
	put_header(p, STUN_BINDING_REQUEST, tid);
	*outlen = put_fingerprint(p, STUN_HDR_LEN);
	return 0;
}

int stun_binding_response_parse(const void *buf, size_t len,
				const uint8_t tid[STUN_TID_LEN],
				struct stun_addr *mapped)
{
	struct stun_msg m;
	int rc;

	if (!tid || !mapped)
		return -EINVAL;
	rc = stun_parse(buf, len, &m);
	if (rc)
		return rc;
	if (memcmp(m.tid, tid, STUN_TID_LEN) != 0)
		return -ENOENT;
	if (m.type != STUN_BINDING_SUCCESS || !m.has_mapped)
		return -EBADMSG;
	*mapped = m.mapped;
	return 0;
}
