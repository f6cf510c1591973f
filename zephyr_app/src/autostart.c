/*
 * Autostart file parser (see autostart.h). Platform-neutral: POSIX open/read/close only, so it
 * builds for Zephyr (CONFIG_POSIX_API, selected by CONFIG_OCRE) and for Ocre's POSIX build.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include "autostart.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char *next_field(char **cursor)
{
	char *start = *cursor;

	if (start == NULL) {
		return NULL;
	}
	char *tab = strchr(start, '\t');

	if (tab) {
		*tab = '\0';
		*cursor = tab + 1;
	} else {
		*cursor = NULL;
	}
	return start;
}

static int push(const char **array, int *n, const char *value)
{
	if (*n >= AUTOSTART_MAX_ITEMS) {
		return -E2BIG;
	}
	array[(*n)++] = value;
	array[*n] = NULL;
	return 0;
}

static int parse_flags(char *flags, struct autostart_entry *e, int *ncaps)
{
	if (strcmp(flags, "-") == 0) {
		return 0;
	}
	char *cursor = flags;

	while (cursor && *cursor) {
		char *comma = strchr(cursor, ',');

		if (comma) {
			*comma = '\0';
		}
		if (strcmp(cursor, "detached") == 0) {
			e->detached = true;
		} else if (strncmp(cursor, "cap=", 4) == 0 && cursor[4] != '\0') {
			if (push(e->capabilities, ncaps, cursor + 4)) {
				return -E2BIG;
			}
		} else {
			return -EINVAL;
		}
		cursor = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int parse_line(char *line, struct autostart_entry *e)
{
	char *cursor = line;
	int nargs = 0, nenv = 0, ncaps = 0;

	memset(e, 0, sizeof(*e));
	e->name = next_field(&cursor);
	e->image = next_field(&cursor);
	char *flags = next_field(&cursor);

	if (!e->name || !e->image || !flags || !*e->name || !*e->image) {
		return -EINVAL;
	}
	int rc = parse_flags(flags, e, &ncaps);

	if (rc) {
		return rc;
	}
	char *field;
	bool in_env = true;

	while ((field = next_field(&cursor)) != NULL) {
		if (in_env && strncmp(field, "env:", 4) == 0) {
			rc = push(e->envp, &nenv, field + 4);
		} else {
			in_env = false;
			rc = push(e->argv, &nargs, field);
		}
		if (rc) {
			return rc;
		}
	}
	return 0;
}

int autostart_parse(char *text, struct autostart_list *list, int *bad_line)
{
	char *cursor = text;
	int line_no = 0;

	list->count = 0;
	while (cursor && *cursor) {
		char *line = cursor;
		char *nl = strchr(cursor, '\n');

		if (nl) {
			*nl = '\0';
			cursor = nl + 1;
		} else {
			cursor = NULL;
		}
		line_no++;
		size_t len = strlen(line);

		if (len && line[len - 1] == '\r') {
			line[len - 1] = '\0';
		}
		if (line_no == 1) {
			if (strcmp(line, AUTOSTART_MAGIC) != 0) {
				*bad_line = 1;
				return -EINVAL;
			}
			continue;
		}
		if (line[0] == '\0' || line[0] == '#') {
			continue;
		}
		if (list->count >= AUTOSTART_MAX_ENTRIES) {
			*bad_line = line_no;
			return -E2BIG;
		}
		int rc = parse_line(line, &list->entries[list->count]);

		if (rc) {
			*bad_line = line_no;
			return rc;
		}
		list->count++;
	}
	if (line_no == 0) {
		*bad_line = 1;
		return -EINVAL;
	}
	return 0;
}

int autostart_load(const char *path, struct autostart_list *list, int *bad_line)
{
	int fd = open(path, O_RDONLY);

	*bad_line = 0;
	if (fd < 0) {
		return -errno;
	}
	size_t total = 0;

	while (total < AUTOSTART_MAX_FILE) {
		ssize_t n = read(fd, list->buffer + total, AUTOSTART_MAX_FILE - total);

		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (n == 0) {
			break;
		}
		total += (size_t)n;
	}
	char extra;

	if (total == AUTOSTART_MAX_FILE && read(fd, &extra, 1) == 1) {
		close(fd);
		return -EFBIG; /* the whole file, not a line: no line number */
	}
	close(fd);
	list->buffer[total] = '\0';
	return autostart_parse(list->buffer, list, bad_line);
}
