/* prom_rs_stats.c - Kamailio's statistics (the counters framework) pushed into the core.
 *
 * Every group and every statistic in it, as `kamcmd stats.fetch all` lists them, read with counter_get_val() on the
 * core process's main thread (the values live in shared memory; statistics computed by a function, like tmx's or
 * shmem's, call that function here) and set in the core with prom_rs_stat_set(). The core names them
 * (`<prefix>_<group>_<name>`, see stats.group_mode) and applies the `statistics` selection.
 *
 * Kamailio keeps no "this is a gauge" flag that a module can read (counter_record is private to counters.c), so the
 * types come from the table below: what goes up and down is a gauge, everything else a counter (exported with a
 * `_total` suffix).
 */

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "core/counters.h"
#include "core/str.h"

#include "prom_rs_kam.h"

/* Statistics that go up and down (group, name; fnmatch patterns). */
static const char *const gauges[][2] = {
	/* kex: shared memory, computed from the allocator */
	{"shmem", "*"},
	/* tmx: transactions now in memory / not yet completed */
	{"tmx", "inuse_transactions"},
	{"tmx", "active_transactions"},
	/* dialog */
	{"dialog", "active_dialogs"},
	{"dialog", "early_dialogs"},
	/* usrloc: registered AoRs, and per location table (usrloc:location_users, location_contacts) */
	{"usrloc", "registered_users"},
	{"usrloc", "*_users"},
	{"usrloc", "*_contacts"},
	/* registrar: configuration values exposed as statistics */
	{"registrar", "max_expires"},
	{"registrar", "max_contacts"},
	{"registrar", "default_expire"},
	{"registrar", "default_expires_range"},
	{"registrar", "expires_range"},
	/* core TCP and SCTP */
	{"tcp", "current_opened_connections"},
	{"tcp", "current_write_queue_size"},
	{"sctp", "current_opened_connections"},
	{"sctp", "current_tracked_connections"},
};

int prom_rs_kam_stat_kind(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		if (!fnmatch(gauges[i][0], group, 0) && !fnmatch(gauges[i][1], name, 0)) {
			return 2;
		}
	}
	return 1;
}

struct sample {
	const prom_rs_core *core;
	char group[128];
	int pushed;
	int refused;
};

static void copy_str(char *dst, size_t len, const str *s)
{
	size_t n = s && s->s && s->len > 0 ? (size_t)s->len : 0;

	if (n >= len) {
		n = len - 1;
	}
	if (n) {
		memcpy(dst, s->s, n);
	}
	dst[n] = '\0';
}

static void on_var(void *p, str *g, str *n, counter_handle_t h)
{
	struct sample *s = p;
	char name[256];
	counter_val_t v;

	(void)g;
	copy_str(name, sizeof(name), n);
	v = counter_get_val(h);
	/* stats.fetch prints the value as unsigned long: so do we (a counter read as -1 would be 2^64 - 1 there). */
	if (prom_rs_stat_set(s->core, s->group, name, prom_rs_kam_stat_kind(s->group, name), (double)(unsigned long)v,
		    NULL, NULL, 0) == PROM_RS_OK) {
		s->pushed++;
	} else {
		s->refused++;
	}
}

static void on_group(void *p, str *g)
{
	struct sample *s = p;

	copy_str(s->group, sizeof(s->group), g);
	counter_iterate_grp_vars(s->group, on_var, s);
}

int prom_rs_kam_sample(const prom_rs_core *core, int *refused)
{
	struct sample s;

	memset(&s, 0, sizeof(s));
	s.core = core;
	counter_iterate_grp_names(on_group, &s);
	*refused = s.refused;
	return s.pushed;
}
