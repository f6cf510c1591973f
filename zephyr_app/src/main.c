/*
 * Ocre firmware glue: initialise Ocre, create the context in its working directory (on Zephyr
 * /lfs/ocre, littlefs automounted at /lfs by the fstab overlay), start the containers listed in
 * <workdir>/autostart (written by 'ocre zephyr deploy'), and print boot and status lines that tests
 * and Twister match on.
 *
 * Written against upstream Ocre's public API (<ocre/ocre.h>, project-ocre/ocre-runtime at the
 * commit pinned in west.yml) and POSIX calls only, so the same file builds for Zephyr and for
 * Ocre's POSIX build.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ocre/ocre.h>

#include "autostart.h"

#ifdef CONFIG_ARCH_POSIX
#include "nsi_main.h"
#endif

/*
 * The context's working directory. NULL means Ocre's default,
 * CONFIG_OCRE_DEFAULT_WORKING_DIRECTORY: "/lfs/ocre" on Zephyr (the littlefs automount), a path
 * relative to the current directory in Ocre's POSIX build. Outside Zephyr the environment
 * variable OCRE_APP_WORKDIR overrides it.
 */
#ifndef OCRE_APP_WORKDIR
#define OCRE_APP_WORKDIR NULL
#endif

#define PATH_MAX_LEN 256

static struct autostart_list autostart;
static struct ocre_container *started[AUTOSTART_MAX_ENTRIES];

/*
 * Print one status line and flush it: containers write to file descriptor 1 directly, so a line
 * left in stdio's buffer (stdout is a pipe under Twister and in tests) would come after their
 * output and break the harness's ordered match.
 */
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

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

/* Wait for a started container and report how it ended (or that waiting failed). */
static void wait_and_report(struct ocre_container *c, const char *name)
{
	int status = 0;
	int rc = ocre_container_wait(c, &status);

	if (rc) {
		say("ocre-app: container %s: wait failed (%d), state %s\n", name, rc,
		    status_name(ocre_container_get_status(c)));
		return;
	}
	say("ocre-app: container %s %s with status %d\n", name,
	    status_name(ocre_container_get_status(c)), status);
}

/* Start what the autostart file lists; returns how many detached containers were started. */
static int start_containers(struct ocre_context *ctx, const char *workdir)
{
	char path[PATH_MAX_LEN];
	int bad_line = 0;
	int n = snprintf(path, sizeof(path), "%s/autostart", workdir);

	if (n < 0 || (size_t)n >= sizeof(path)) {
		say("ocre-app: error: working directory %s is too long (%d bytes with /autostart, "
		    "at most %d), no containers started\n",
		    workdir, n, PATH_MAX_LEN - 1);
		return 0;
	}
	int rc = autostart_load(path, &autostart, &bad_line);

	if (rc == -ENOENT) {
		say("ocre-app: no autostart file at %s, no containers to start\n", path);
		return 0;
	}
	if (rc == -EFBIG) {
		say("ocre-app: error: %s is larger than %d bytes, no containers started\n", path,
		    AUTOSTART_MAX_FILE);
		return 0;
	}
	if (rc && bad_line > 0) {
		say("ocre-app: error: %s line %d unreadable (%d), no containers started\n", path,
		    bad_line, rc);
		return 0;
	}
	if (rc) {
		say("ocre-app: error: cannot read %s (%d), no containers started\n", path, rc);
		return 0;
	}
	int count = 0;

	for (int i = 0; i < autostart.count; i++) {
		struct autostart_entry *e = &autostart.entries[i];
		struct ocre_container_args args = {
			.argv = e->argv,
			.envp = e->envp,
			.capabilities = e->capabilities,
			.mounts = NULL,
		};
		struct ocre_container *c = ocre_context_create_container(
			ctx, e->image, NULL, e->name, e->detached, &args, STDIN_FILENO,
			STDOUT_FILENO, STDERR_FILENO);

		if (!c) {
			say("ocre-app: container %s: create failed (image %s)\n", e->name,
			    e->image);
			continue;
		}
		/* Printed and flushed before starting: the container's output must follow it. */
		say("ocre-app: container %s starting (image %s)\n", e->name, e->image);
		/* For a container that is not detached, Ocre's start returns once it has exited. */
		if (ocre_container_start(c)) {
			say("ocre-app: container %s: start failed\n", e->name);
			continue;
		}
		if (e->detached) {
			started[count++] = c;
		} else {
			wait_and_report(c, e->name);
		}
	}
	return count;
}

static const char *workdir_setting(void)
{
#ifndef __ZEPHYR__
	const char *env = getenv("OCRE_APP_WORKDIR");

	if (env && *env) {
		return env;
	}
#endif
	return OCRE_APP_WORKDIR;
}

int main(void)
{
	say("ocre-app: booting, Ocre %s\n", ocre_build_configuration.version);

	if (ocre_initialize(NULL)) {
		say("ocre-app: error: Ocre failed to initialise\n");
		return 1;
	}
	const char *setting = workdir_setting();
	struct ocre_context *ctx = ocre_create_context(setting);

	if (!ctx) {
		say("ocre-app: error: cannot create the Ocre context in %s "
		    "(is its storage mounted?)\n",
		    setting ? setting : "Ocre's default working directory");
		return 1;
	}
	const char *workdir = ocre_context_get_working_directory(ctx);

	if (!workdir) {
		say("ocre-app: error: the Ocre context has no working directory\n");
		return 1;
	}
	say("ocre-app: context ready on %s\n", workdir);

	int count = start_containers(ctx, workdir);
	int running = 0;

	for (int i = 0; i < count; i++) {
		if (ocre_container_get_status(started[i]) == OCRE_CONTAINER_STATUS_RUNNING) {
			running++;
		}
	}
	say("ocre-app: ready, %d container(s) running (%d detached started)\n", running, count);

	for (int i = 0; i < count; i++) {
		wait_and_report(started[i], ocre_container_get_id(started[i]));
	}

	ocre_destroy_context(ctx);
	ocre_deinitialize();
	say("ocre-app: all containers finished\n");

#ifdef CONFIG_ARCH_POSIX
	nsi_exit(0);
#endif
	return 0;
}
