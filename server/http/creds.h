/*
 * creds: SIP credentials for a newly verified device: a device-specific
 * username, a random password (shown to the device once) and the digest
 * HA1 values the server keeps instead of the password (RFC 3261 s.22.4:
 * H(username ":" realm ":" password) with MD5, and with SHA-256 per
 * RFC 8760 / RFC 7616 s.3.4.2).
 */
#ifndef DATALINE_SERVER_CREDS_H
#define DATALINE_SERVER_CREDS_H

#include "../store/store.h"

#define CREDS_PASSWORD_LEN 24 /* [A-Za-z0-9]: ~142 bits */

struct creds {
	char password[CREDS_PASSWORD_LEN + 1];
	struct store_device dev; /* username, number, both HA1s, created */
};

/* Writes lowercase hex HA1 values for (username, realm, password). */
int creds_ha1(const char *username, const char *realm, const char *password,
	      char md5_out[STORE_HA1_MD5_LEN],
	      char sha256_out[STORE_HA1_SHA256_LEN]);

/* New credentials for number (E.164) in realm: username
 * "<digits>-<8 hex>", random password, HA1s, created = now. 0 or -errno. */
int creds_new(const char *number, const char *realm, int64_t now,
	      struct creds *out);

#endif
