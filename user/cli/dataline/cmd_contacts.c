/*
 * contacts: `dataline contacts list|import FILE.vcf|sync`, clients of the
 * daemon's ListContacts, ImportContacts and SyncContacts (patent claim 3:
 * the address book marks the numbers registered with dataline).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "cli.h"
#include "dataline/svc.h"

#define FILE_MAX (16u << 20)

/* The whole file (at most FILE_MAX bytes) into *buf. */
static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);

	if (!f || !b) {
		int e = -errno;

		if (f)
			fclose(f);
		free(b);
		return e ? e : -ENOMEM;
	}
	for (;;) {
		size_t got = fread(b + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		if (cap >= FILE_MAX + 1)
			break;
		cap *= 2;
		b = realloc(b, cap);
		if (!b) {
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
	if (n > FILE_MAX) {
		free(b);
		return -EFBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int contacts_import(struct cli_opts *o, sd_bus *bus, const char *path)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *rep = NULL;
	uint32_t numbers, cards, bad, line, nprob = 0;
	const char *what, *detail;
	int not_vcard, r, rc = 1;
	size_t len = 0;
	char *buf = NULL;

	r = read_file(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "dataline: %s: %s\n", path,
			r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
		return 1;
	}
	r = sd_bus_message_new_method_call(bus, &m, SVC_BUS_NAME, SVC_BUS_PATH,
					   SVC_BUS_IFACE, "ImportContacts");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', buf, len);
	if (r >= 0)
		r = sd_bus_call(bus, m, 60 * 1000000ull, &err, &rep);
	free(buf);
	if (r < 0) {
		cli_bus_perror("contacts import", r, err.name, err.message);
		goto out;
	}
	r = sd_bus_message_enter_container(rep, 'a', "(uss)");
	while (r >= 0 && (r = sd_bus_message_read(rep, "(uss)", &line, &what, &detail)) > 0) {
		nprob++;
		printf("%s: line %u: %s%s%s\n", path, line, what, detail[0] ? ": " : "",
		       detail);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(rep);
	if (r >= 0)
		r = sd_bus_message_read(rep, "uuub", &numbers, &cards, &bad, &not_vcard);
	if (r < 0) {
		cli_bus_perror("bad answer from the daemon", r, NULL, NULL);
		goto out;
	}
	if (not_vcard) {
		printf("%s: not a vCard file: nothing imported\n", path);
		goto out;
	}
	printf("Imported %u numbers from %u cards (%u broken cards skipped, %u "
	       "problems reported).\n", numbers, cards, bad, nprob);
	rc = 0;
out:
	(void)o;
	sd_bus_error_free(&err);
	sd_bus_message_unref(m);
	sd_bus_message_unref(rep);
	return rc;
}

static int contacts_sync(sd_bus *bus)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *rep = NULL;
	uint32_t asked, registered, changed;
	int r, rc = 1;

	r = sd_bus_message_new_method_call(bus, &m, SVC_BUS_NAME, SVC_BUS_PATH,
					   SVC_BUS_IFACE, "SyncContacts");
	if (r >= 0)
		r = sd_bus_call(bus, m, 120 * 1000000ull, &err, &rep);
	if (r >= 0)
		r = sd_bus_message_read(rep, "uuu", &asked, &registered, &changed);
	if (r < 0) {
		cli_bus_perror("contacts sync", r, err.name, err.message);
	} else {
		printf("Synced: %u numbers asked, %u registered with dataline, %u marks "
		       "changed.\n", asked, registered, changed);
		rc = 0;
	}
	sd_bus_error_free(&err);
	sd_bus_message_unref(m);
	sd_bus_message_unref(rep);
	return rc;
}

int cmd_contacts(struct cli_opts *o)
{
	const char *sub = o->argc > 0 ? o->argv[0] : "list";
	sd_bus *bus = NULL;
	int rc;

	if (strcmp(sub, "list") == 0)
		return cmd_list(o, "contacts");
	if (!(strcmp(sub, "import") == 0 && o->argc == 2) && strcmp(sub, "sync") != 0) {
		fprintf(stderr, "usage: dataline contacts list|import FILE.vcf|sync\n");
		return 2;
	}
	if (cli_bus_open(o, &bus) < 0)
		return 1;
	rc = strcmp(sub, "sync") == 0 ? contacts_sync(bus)
				       : contacts_import(o, bus, o->argv[1]);
	sd_bus_flush_close_unref(bus);
	return rc;
}
