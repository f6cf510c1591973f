/*
 * Ocre firmware glue: initialise Ocre, create the context on /lfs/ocre (littlefs automounted at
 * /lfs by the fstab overlay), start the containers listed in <workdir>/autostart (written by
 * 'ocre zephyr deploy'), and print boot and status lines that tests and Twister match on.
 *
 * Written against upstream Ocre's public API (<ocre/ocre.h>, project-ocre/ocre-runtime at the
 * commit pinned in west.yml) and POSIX calls only, so the same file builds for Zephyr and for
 * Ocre's POSIX build.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ocre/ocre.h>

#include "autostart.h"

#ifdef CONFIG_ARCH_POSIX
#include "nsi_main.h"
#endif

/* NULL: Ocre's default working directory (CONFIG_OCRE_DEFAULT_WORKING_DIRECTORY, "/lfs/ocre"). */
#ifndef OCRE_APP_WORKDIR
#define OCRE_APP_WORKDIR NULL
#endif

static struct autostart_list autostart;
static struct ocre_container *started[AUTOSTART_MAX_ENTRIES];

static const char *status_name(ocre_container_status_t status)
{
	switch (status) {
	case OCRE_CONTAINER_STATUS_CREATED:
		return "created";
	case OCRE_CONTAINER_STATUS_RUNNING:
		return "running";
	case OCRE_CONTAINER_STATUS_PAUSED:
		return "paused";
	case OCRE_CONTAINER_STATUS_EXITED:
		return "exited";
	case OCRE_CONTAINER_STATUS_STOPPED:
		return "stopped";
	case OCRE_CONTAINER_STATUS_ERROR:
		return "error";
	default:
		return "unknown";
	}
}

static int start_containers(struct ocre_context *ctx, const char *workdir)
{
	char path[128];
	int bad_line = 0;

	snprintf(path, sizeof(path), "%s/autostart", workdir);
	int rc = autostart_load(path, &autostart, &bad_line);

	if (rc == -ENOENT) {
		printf("ocre-app: no autostart file at %s, no containers to start\n", path);
		return 0;
	}
	if (rc) {
		printf("ocre-app: error: %s line %d unreadable (%d), no containers started\n", path, bad_line, rc);
		return 0;
	}
	int running = 0;

	for (int i = 0; i < autostart.count; i++) {
		struct autostart_entry *e = &autostart.entries[i];
		struct ocre_container_args args = {
			.argv = e->argv,
			.envp = e->envp,
			.capabilities = e->capabilities,
			.mounts = NULL,
		};
		struct ocre_container *c = ocre_context_create_container(
			ctx, e->image, NULL, e->name, e->detached, &args, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO);

		if (!c) {
			printf("ocre-app: container %s: create failed (image %s)\n", e->name, e->image);
			continue;
		}
		/* Printed before starting: a running container's output may otherwise come first. */
		printf("ocre-app: container %s starting (image %s)\n", e->name, e->image);
		/* For a container that is not detached, Ocre's start returns once it has exited. */
		if (ocre_container_start(c)) {
			printf("ocre-app: container %s: start failed\n", e->name);
			continue;
		}
		if (e->detached) {
			started[running++] = c;
		} else {
			int status = 0;

			ocre_container_wait(c, &status);
			printf("ocre-app: container %s exited with status %d\n", e->name, status);
		}
	}
	return running;
}

int main(void)
{
	printf("ocre-app: booting, Ocre %s\n", ocre_build_configuration.version);

	if (ocre_initialize(NULL)) {
		printf("ocre-app: error: Ocre failed to initialise\n");
		return 1;
	}
	struct ocre_context *ctx = ocre_create_context(OCRE_APP_WORKDIR);

	if (!ctx) {
		printf("ocre-app: error: cannot create the Ocre context (is /lfs mounted?)\n");
		return 1;
	}
	const char *workdir = ocre_context_get_working_directory(ctx);

	printf("ocre-app: context ready on %s\n", workdir ? workdir : "?");

	int running = start_containers(ctx, workdir ? workdir : "/lfs/ocre");

	printf("ocre-app: ready, %d container(s) running\n", running);

	for (int i = 0; i < running; i++) {
		int status = 0;

		ocre_container_wait(started[i], &status);
		printf("ocre-app: container %s %s with status %d\n", ocre_container_get_id(started[i]),
		       status_name(ocre_container_get_status(started[i])), status);
	}

	ocre_destroy_context(ctx);
	ocre_deinitialize();
	printf("ocre-app: all containers finished\n");

#ifdef CONFIG_ARCH_POSIX
	nsi_exit(0);
#endif
	return 0;
}
