/*
 * authn: HTTP Digest authentication of any request (RFC 3261 s.22, RFC
 * 7616 qop=auth with nonce-count replay detection, RFC 8760 SHA-256 and
 * MD5): as a registrar (Authorization, 401 + WWW-Authenticate, REGISTER)
 * or as a proxy (Proxy-Authorization, 407 + Proxy-Authenticate: MESSAGE,
 * SUBSCRIBE, PUBLISH, INVITE). One check, called by every handler that
 * needs to know who sent a request.
 *
 * Nonces are bound to the source IP (lib/sip/nonce.c), so a challenge can
 * be answered only from where it was sent; the nonce-count tracker
 * (auth.c) refuses a count used before.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "sipd.h"
#include "../core/config.h"
#include "../core/metrics.h"
#include "../store/store.h"
#include "dataline/log.h"

static void authn_challenge(struct sipd_reply *r, int proxy, int stale,
			    enum metrics_auth_reason why)
{
	const struct config *cfg = r->w->sh->cfg;
	char nonce[SIP_NONCE_LEN + 1];
	const uint8_t *ip;
	size_t iplen = sipd_addr_ip(&r->peer->addr, &ip), at = 0;
	int i;

	metrics_auth_failure(why);
	/* bound to the source IP: only that address can authenticate with it */
	if (sip_nonce_make(r->w->sh->nonce_key, (uint64_t)time(NULL), ip, iplen,
			   nonce)) {
		sipd_reply_simple(r, 500, "Nonce Failure");
		return;
	}
	sipd_reply_begin(r, proxy ? 407 : 401, NULL);
	/* one nonce for both (RFC 8760 s.2.4), the preferred one first; the
	 * second only while the answer stays within the amplification budget
	 * towards an unproven UDP source (dispatch.c, sipd_reply_room) */
	for (i = 0; i < r->w->sh->nalgs; i++) {
		if (i && r->b.len - at > sipd_reply_room(r)) {
			metrics_inc(METRICS_SIP_CHALLENGES_TRIMMED);
			break;
		}
		at = r->b.len;
		sip_digest_challenge_add(&r->b, proxy ? "Proxy-Authenticate"
						       : "WWW-Authenticate",
					 r->w->sh->algs[i], cfg->domain, nonce,
					 stale, NULL);
	}
	sipd_reply_send(r);
}

/* Finds the (Proxy-)Authorization line for our realm. 0, -ENOENT,
 * -EBADMSG. */
static int authn_find_credentials(const struct sip_msg *m, int proxy,
				  const char *realm,
				  struct sip_digest_credentials *out)
{
	const struct sip_hdr *h = sip_msg_hdr(m, proxy ?
					      SIP_HDR_PROXY_AUTHORIZATION :
					      SIP_HDR_AUTHORIZATION);
	int bad = 0;

	for (; h; h = sip_msg_hdr_next(m, h)) {
		struct sip_digest_credentials c;
		int rc = sip_digest_credentials_decode(h->value, &c);
		if (rc == -EBADMSG)
			bad = 1;
		if (rc)
			continue;
		if (sip_str_eq(c.realm, realm)) {
			*out = c;
			return 0;
		}
	}
	return bad ? -EBADMSG : -ENOENT;
}

/* 1 if ALG is one of the algorithms we challenge with. */
static int authn_alg_offered(const struct sipd_shared *sh, enum sip_digest_alg alg)
{
	int i;

	for (i = 0; i < sh->nalgs; i++)
		if (alg == sh->algs[i])
			return 1;
	return 0;
}

/*
 * Authenticates; answers and returns -1 on failure, 0 with *dev on success.
 *
 * Usernames must not be told apart by the answer (nor grossly by its
 * time): an algorithm or qop we do not offer, and a missing qop (RFC 2069
 * style, which we do not offer either), get a fresh challenge listing
 * what we do offer (RFC 7616 s.3.7 lets a server challenge again) before
 * the username is even looked up; and an unknown user (or a device without
 * an HA1 of that algorithm) has its response checked against a dummy HA1
 * of the right length, so it costs the same hash as a wrong password and
 * gets the same 401.
 */
int sipd_authenticate(struct sipd_reply *r, int proxy,
		      struct store_device *dev)
{
	static const char dummy_ha1[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	struct sipd *w = r->w;
	const struct config *cfg = w->sh->cfg;
	const struct sip_msg *m = r->req;
	struct sip_digest_credentials c;
	char user[STORE_USERNAME_MAX];
	const char *ha1 = NULL;
	const uint8_t *ip;
	size_t iplen;
	uint64_t now = (uint64_t)time(NULL);
	int rc;

	rc = authn_find_credentials(m, proxy, cfg->domain, &c);
	if (rc == -ENOENT) {
		authn_challenge(r, proxy, 0, METRICS_AUTH_MISSING);
		return -1;
	}
	if (rc) {
		sipd_reply_simple(r, 400, "Bad Authorization");
		return -1;
	}
	if (!authn_alg_offered(w->sh, c.alg) || !sip_str_caseeq(c.qop, "auth")) {
		authn_challenge(r, proxy, 0, METRICS_AUTH_UNSUPPORTED);
		return -1;
	}
	if (sip_str_copy(c.username, user, sizeof(user)) == 0 &&
	    devcache_get(w->sh->dc, w->store, user, dev) == 0)
		ha1 = c.alg == SIP_DIGEST_MD5 ? dev->ha1_md5 : dev->ha1_sha256;
	if (ha1 && !ha1[0])
		ha1 = NULL; /* no HA1 of that algorithm stored */
	/* The digest uri is covered by the response hash; it is not required
	 * to equal the Request-URI byte for byte: real clients (SIPp among
	 * them) put the server's address there. Kamailio does not compare
	 * them either. */
	/* dummy_ha1 has the 64 hex digits of SHA-256; its last 32 are MD5's */
	rc = sip_digest_verify(&c, m->method,
			       ha1 ? ha1 : dummy_ha1 +
					   (c.alg == SIP_DIGEST_MD5 ? 32 : 0));
	if (rc == -EBADMSG) {
		sipd_reply_simple(r, 400, "Bad Authorization");
		return -1;
	}
	if (!ha1) {
		authn_challenge(r, proxy, 0, METRICS_AUTH_UNKNOWN_USER);
		return -1;
	}
	if (rc) {
		log_info("sip: %.*s from %s: wrong digest response",
			 (int)m->method.len, m->method.p, user);
		authn_challenge(r, proxy, 0, METRICS_AUTH_BAD_PASSWORD);
		return -1;
	}
	/* the password was right: only the nonce may be at fault now. One
	 * issued to another address is stale here: the client gets one bound
	 * to where it is now, and nothing bigger goes to an address that has
	 * not shown it can receive */
	iplen = sipd_addr_ip(&r->peer->addr, &ip);
	rc = sip_nonce_check(w->sh->nonce_key, c.nonce, now,
			     (uint64_t)cfg->nonce_ttl, ip, iplen, NULL);
	if (rc) {
		authn_challenge(r, proxy, 1, METRICS_AUTH_STALE_NONCE);
		return -1;
	}
	rc = auth_nc_check(w->sh->nc, c.nonce,
			   c.nc_value, now,
			   (uint64_t)cfg->nonce_ttl);
	if (rc == -ESTALE) {
		/* the tracker may have evicted it: take a fresh one */
		authn_challenge(r, proxy, 1, METRICS_AUTH_STALE_NONCE);
		return -1;
	}
	if (rc) {
		log_info("sip: %.*s from %s: nonce-count %u replayed",
			 (int)m->method.len, m->method.p, user, c.nc_value);
		authn_challenge(r, proxy, 0, METRICS_AUTH_REPLAYED_NONCE);
		return -1;
	}
	/* the nonce was bound to this source: it may now get big or
	 * stateful answers, and a stream may stay open idle */
	r->proven = 1;
	if (r->peer->conn)
		stream_trust(r->peer->conn);
	return 0;
}


/*
 * A URI user names the device's number ("+8613..." or "8613..."), or the
 * device's own username: clients with one "user ID" field for both the
 * address and the login (GNOME Calls' SIP accounts, many desk phones) put
 * the username in To and From, and that stands for the number all the
 * same (docs/protocol.md).
 */
int sipd_user_is_device(struct sip_str u, const struct store_device *dev)
{
	const char *number = dev->number;
	char user[64];
	size_t n;

	if (!sip_str_present(u) || sip_str_unescape(u, user, sizeof(user), &n))
		return 0;
	if (n == strlen(number) && memcmp(user, number, n) == 0)
		return 1;
	if (n == strlen(dev->username) && memcmp(user, dev->username, n) == 0)
		return 1;
	return number[0] == '+' && n == strlen(number) - 1 &&
	       memcmp(user, number + 1, n) == 0;
}
