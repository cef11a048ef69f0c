/*
 * tls: OpenSSL server context for SIP over TLS (RFC 3261 s.26, RFC 5630)
 * and HTTPS; first-run generation of a self-signed certificate.
 *
 * Memory matters here: issue 3 asks for < 16 KiB per idle TLS connection
 * with 10,000 held. SSL_MODE_RELEASE_BUFFERS frees the 16 KiB+ read/write
 * record buffers whenever a connection is idle (stream.c also calls
 * SSL_free_buffers() once a connection has gone idle), and there is no
 * server-side session cache (tickets carry the state instead). ECDSA P-256 keeps handshakes
 * cheap when hundreds of clients connect at once.
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "dataline/log.h"

static void tls_log_errors(const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_err("tls: %s: %s", what, buf);
	}
}

static int tls_add_ext(X509 *crt, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, crt, crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -EIO;
	X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

static int tls_write_pem(const char *path, EVP_PKEY *pkey, X509 *crt)
{
	int fd, ok;
	FILE *f;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  pkey ? 0600 : 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	ok = pkey ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
		  : PEM_write_X509(f, crt);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	fclose(f);
	return ok ? 0 : -EIO;
}

int tls_generate_self_signed(const char *crt_path, const char *key_path,
			     const char *domain)
{
	EVP_PKEY *pkey = NULL;
	X509 *crt = NULL;
	X509_NAME *name;
	char san[512];
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int err = -EIO;

	pkey = EVP_EC_gen("P-256");
	if (!pkey)
		goto out;
	crt = X509_new();
	if (!crt)
		goto out;
	X509_set_version(crt, 2);
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)))
		goto out;
	X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(crt), 10L * 365 * 24 * 3600);
	X509_set_pubkey(crt, pkey);
	name = X509_get_subject_name(crt);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"dataline", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)(domain && *domain ?
							   domain : "localhost"),
				   -1, -1, 0);
	X509_set_issuer_name(crt, name);
	snprintf(san, sizeof(san),
		 "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
		 domain && *domain ? ",DNS:" : "", domain && *domain ? domain : "");
	if (tls_add_ext(crt, NID_subject_alt_name, san) ||
	    tls_add_ext(crt, NID_basic_constraints, "critical,CA:FALSE") ||
	    tls_add_ext(crt, NID_ext_key_usage, "serverAuth"))
		goto out;
	if (!X509_sign(crt, pkey, EVP_sha256()))
		goto out;
	err = tls_write_pem(key_path, pkey, NULL);
	if (err)
		goto out;
	err = tls_write_pem(crt_path, NULL, crt);
out:
	if (err == -EIO)
		tls_log_errors("generating certificate");
	BN_free(bn);
	X509_free(crt);
	EVP_PKEY_free(pkey);
	return err;
}

int tls_server_ctx_new_for(const char *cert, const char *key,
			   const char *var_dir, const char *domain,
			   SSL_CTX **out)
{
	char crt_path[4200], key_path[4200], dir[4096];
	SSL_CTX *ctx = NULL;
	int err;

	if (cert && *cert && key && *key) {
		snprintf(crt_path, sizeof(crt_path), "%s", cert);
		snprintf(key_path, sizeof(key_path), "%s", key);
	} else if ((cert && *cert) || (key && *key)) {
		log_err("tls: --tls-cert and --tls-key go together");
		return -EINVAL;
	} else {
		if (!var_dir)
			return -EINVAL;
		snprintf(dir, sizeof(dir), "%s/tls", var_dir);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
		snprintf(crt_path, sizeof(crt_path), "%s/server.crt", dir);
		snprintf(key_path, sizeof(key_path), "%s/server.key", dir);
		if (access(crt_path, R_OK) != 0 || access(key_path, R_OK) != 0) {
			err = tls_generate_self_signed(crt_path, key_path, domain);
			if (err)
				return err;
			log_info("tls: generated self-signed certificate %s",
				 crt_path);
		}
	}

	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		tls_log_errors("SSL_CTX_new");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_NO_RENEGOTIATION);
	/* resumption by stateless tickets only: no server-side cache to
	 * grow with the number of clients */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	/* SIP answers are small: 4 KiB records keep the (transient) write
	 * buffer at ~4.5 KiB instead of ~17 KiB while a response goes out */
	SSL_CTX_set_max_send_fragment(ctx, 4096);
	if (SSL_CTX_use_certificate_chain_file(ctx, crt_path) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_log_errors(crt_path);
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	*out = ctx;
	return 0;
}

int tls_server_ctx_new(const char *cert, const char *key, const char *var_dir,
		       SSL_CTX **out)
{
	return tls_server_ctx_new_for(cert, key, var_dir, NULL, out);
}
