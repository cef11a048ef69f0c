/*
 * agent_tls: the handset's TLS client trust policy, shared by the SIP
 * transport (RFC 3261 s.26, RFC 5630) and the provisioning API client.
 *
 * The dataline server generates a self-signed certificate on first run, so
 * plain CA verification does not fit a default install. Three policies:
 *   - CA file: X509 chain verification plus host name / IP check (RFC 6125);
 *   - pin: the SHA-256 of the leaf certificate (DER) must match; the chain
 *     is not checked, which is what pinning a self-signed cert means;
 *   - TOFU: accept whatever comes first; the caller records its pin (the
 *     CLI does so at provisioning time and uses the pin from then on).
 * The policy runs in SSL_CTX_set_cert_verify_callback, i.e. it replaces
 * OpenSSL's chain check, so a mismatch aborts the handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dataline/agent.h"
#include "dataline/log.h"

static int agent_x509_pin(X509 *cert, char out[AGENT_PIN_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!cert || !X509_digest(cert, EVP_sha256(), md, &len) || len != 32)
		return -EINVAL;
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int agent_tls_peer_pin(SSL *ssl, char out[AGENT_PIN_LEN])
{
	return agent_x509_pin(SSL_get0_peer_certificate(ssl), out);
}

/* Replaces OpenSSL's chain verification; ARG is the agent_trust. */
static int agent_tls_verify_cb(X509_STORE_CTX *ctx, void *arg)
{
	const struct agent_trust *trust = arg;
	char pin[AGENT_PIN_LEN], want[AGENT_PIN_LEN];
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);

	if (trust->pin_sha256 && trust->pin_sha256[0]) {
		if (agent_x509_pin(leaf, pin) < 0 ||
		    agent_pin_normalize(trust->pin_sha256, want) < 0)
			return 0;
		if (CRYPTO_memcmp(pin, want, AGENT_PIN_LEN) != 0) {
			log_err("tls: server certificate sha256 %s does not match the pinned %s",
				pin, want);
			X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_REJECTED);
			return 0;
		}
		return 1;
	}
	if (trust->tofu && !trust->ca_file)
		return 1; /* the caller reads and records the pin */
	return X509_verify_cert(ctx);
}

int agent_tls_ctx_new(const struct agent_trust *trust, SSL_CTX **out)
{
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (trust->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, trust->ca_file, NULL) != 1) {
			log_err("tls: cannot load CA file %s", trust->ca_file);
			SSL_CTX_free(ctx);
			return -ENOENT;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		log_warn("tls: no system CA store");
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, agent_tls_verify_cb, (void *)trust);
	*out = ctx;
	return 0;
}

int agent_tls_ssl_setup(SSL *ssl, const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

	if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(param, host))
			return -EINVAL;
		return 0;
	}
	if (!SSL_set_tlsext_host_name(ssl, host) ||
	    !X509_VERIFY_PARAM_set1_host(param, host, 0))
		return -EINVAL;
	return 0;
}
