/*
 * tls: the server's OpenSSL context, shared by SIP over TLS (RFC 3261 s.26,
 * RFC 5630) and the HTTPS provisioning API. TLS 1.2 and 1.3 only.
 * Without a configured certificate, a self-signed one (ECDSA P-256, SAN
 * localhost/127.0.0.1/::1 and the SIP domain) is generated on first run
 * into VAR/tls/server.crt and VAR/tls/server.key (mode 0600) and reused after.
 */
#ifndef DATALINE_SERVER_TLS_H
#define DATALINE_SERVER_TLS_H

#include <openssl/ssl.h>

/*
 * Creates a server SSL_CTX. CERT and KEY are PEM files; both NULL (or "")
 * means VAR_DIR/tls/server.{crt,key}, generated when absent. The context has
 * SSL_MODE_RELEASE_BUFFERS set (idle connections hold no record buffers).
 * Returns 0 and sets *out (caller frees with SSL_CTX_free), or -errno
 * (-EINVAL for unusable cert/key, -EIO for other OpenSSL failures).
 */
int tls_server_ctx_new(const char *cert, const char *key, const char *var_dir,
		       SSL_CTX **out);

/* Same, with the SAN also naming DOMAIN when a certificate is generated. */
int tls_server_ctx_new_for(const char *cert, const char *key,
			   const char *var_dir, const char *domain,
			   SSL_CTX **out);

/* Generates a self-signed cert + key pair at the given paths (overwrites).
 * Returns 0 or -errno. */
int tls_generate_self_signed(const char *crt_path, const char *key_path,
			     const char *domain);

#endif
