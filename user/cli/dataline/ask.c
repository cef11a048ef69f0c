/*
 * ask: the fallback choice shared by `send` (patent C22: not connected)
 * and `call` (C2: below threshold 1; C3: refused by the server's gate):
 * --fallback carrier, quit, or ask on the terminal.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char *cli_bus_why(const char *msg)
{
	const char *p = msg ? strstr(msg, ": ") : NULL;

	return p ? p + 2 : msg ? msg : "";
}

int cli_fallback(const char *fb, const struct cli_fallback_text *t, const char *why)
{
	char line[32];

	if (strcmp(fb, "carrier") == 0)
		return 1;
	if (strcmp(fb, "ask") != 0 || !isatty(STDIN_FILENO)) {
		printf("%s: %s (%s).%s\n", t->not_done, t->why_prefix, why,
		       strcmp(fb, "ask") == 0 ? " No terminal to ask: use "
		       "--fallback carrier or --fallback quit." : "");
		return 0;
	}
	printf("%s (%s).\n%s [c]arrier/[q]uit: ", t->intro, why, t->question);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) && (line[0] == 'c' || line[0] == 'C'))
		return 1;
	printf("%s.\n", t->not_done);
	return 0;
}
