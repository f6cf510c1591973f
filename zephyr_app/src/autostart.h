/*
 * Autostart file parser: which containers to start at boot.
 *
 * The file is written by the toolkit (ocre_py/zephyr/autostart.py, documented in docs/zephyr.md):
 *
 *   ocre-autostart 1
 *   <name>\t<image>\t<flags>[\tenv:KEY=VALUE...][\targ...]
 *
 * flags is "-" or a comma list of "detached" and "cap=<name>". Lines starting with '#' and blank
 * lines are ignored. Parsing is in place in a static buffer: no heap, bounded sizes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef OCRE_APP_AUTOSTART_H
#define OCRE_APP_AUTOSTART_H

#include <stdbool.h>
#include <stddef.h>

#define AUTOSTART_MAGIC    "ocre-autostart 1"
#define AUTOSTART_MAX_FILE 4096
#ifdef CONFIG_OCRE_APP_MAX_CONTAINERS
#define AUTOSTART_MAX_ENTRIES CONFIG_OCRE_APP_MAX_CONTAINERS
#else
#define AUTOSTART_MAX_ENTRIES 8
#endif
#define AUTOSTART_MAX_ITEMS 8 /* per entry: args, env and capabilities each */

struct autostart_entry {
	const char *name;
	const char *image;
	bool detached;
	const char *argv[AUTOSTART_MAX_ITEMS + 1];         /* NULL-terminated */
	const char *envp[AUTOSTART_MAX_ITEMS + 1];         /* NULL-terminated */
	const char *capabilities[AUTOSTART_MAX_ITEMS + 1]; /* NULL-terminated */
};

struct autostart_list {
	char buffer[AUTOSTART_MAX_FILE + 1];
	int count;
	struct autostart_entry entries[AUTOSTART_MAX_ENTRIES];
};

/*
 * Parse text (NUL-terminated, modified in place and referenced by the entries).
 * Returns 0, or -EINVAL for a bad header/line (line number in *bad_line), -E2BIG for too many
 * entries or items.
 */
int autostart_parse(char *text, struct autostart_list *list, int *bad_line);

/*
 * Read and parse the file at path into list. Returns 0, -ENOENT if absent, -EFBIG if larger than
 * AUTOSTART_MAX_FILE (*bad_line stays 0), a parse error as above, or another negative errno.
 */
int autostart_load(const char *path, struct autostart_list *list, int *bad_line);

#endif /* OCRE_APP_AUTOSTART_H */
