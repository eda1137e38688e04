/* prom_rs_rpcdata.c - the numbers Kamailio has only behind RPCs, pushed into the core as host statistics.
 *
 * Groups (named like the counter groups: `<prefix>_<group>_<name>`, see stats.group_mode and statistics):
 *   tm          tm.stats: transactions now in memory and waiting (gauges), created, local, replies received,
 *               generated and sent, completed by class (counters, code="2xx".."6xx")
 *   pkg         pkg.stats (kex): private memory of every Kamailio process, labels pid, rank, desc (gauges)
 *   core        core.uptime (uptime_seconds) and core.info (build_info{version,id,compiler,compiled,flags} 1)
 *   dispatcher  dispatcher.list: destination_state{set,uri,state} (1 for the state the destination is in, 0 for
 *               the three others), destination_probing{set,uri}, destinations{set,state} (how many per set)
 * A module that is not loaded gives no families and one log line; an RPC that fails is logged when it starts and
 * when it stops failing, never once per sample.
 */

#include <stdio.h>
#include <string.h>

#include "prom_rs_kam.h"
#include "prom_rs_rpc.h"

#define KIND_COUNTER 1
#define KIND_GAUGE 2

/* What was last logged about one RPC, so a state is logged once. */
enum { SEEN_NONE = 0, SEEN_OK, SEEN_MISSING, SEEN_FAILING, SEEN_EMPTY };

struct rpc_state {
	const char *method;
	int seen;
};

static struct rpc_state st_tm = {"tm.stats", SEEN_NONE};
static struct rpc_state st_pkg = {"pkg.stats", SEEN_NONE};
static struct rpc_state st_uptime = {"core.uptime", SEEN_NONE};
static struct rpc_state st_info = {"core.info", SEEN_NONE};
static struct rpc_state st_ds = {"dispatcher.list", SEEN_NONE};

static void stat_push(const prom_rs_core *core, struct prom_rs_rpc_summary *sum, const char *group, const char *name,
	int kind, double value, const char *const *ln, const char *const *lv, size_t n)
{
	if (prom_rs_stat_set(core, group, name, kind, value, (const char **)ln, (const char **)lv, n) == PROM_RS_OK) {
		sum->pushed++;
	} else {
		sum->refused++;
	}
}

/* Logs changes of an RPC's state (rc and err from prom_rs_rpc_call) and returns the reply's top value, or NULL.
 * `missing_ok`: a module that is not loaded is a normal setup (dispatcher), not a failure. */
static const struct prom_rs_rpc_node *rpc_note(struct rpc_state *s, struct prom_rs_rpc_summary *sum, int rc,
	const struct prom_rs_rpc_reply *r, const char *err, int missing_ok, const char *missing_note)
{
	if (rc == PROM_RS_RPC_OK) {
		if (s->seen == SEEN_FAILING) {
			prom_rs_kam_log(3, "%s answers again", s->method);
		}
		s->seen = SEEN_OK;
		return r->root.first;
	}
	if (rc == PROM_RS_RPC_MISSING) {
		if (s->seen != SEEN_MISSING) {
			prom_rs_kam_log(3, "%s: %s", err, missing_note);
		}
		s->seen = SEEN_MISSING;
		if (!missing_ok) {
			sum->ok = 0;
		}
		return NULL;
	}
	if (s->seen != SEEN_FAILING) {
		prom_rs_kam_log(2, "%s; its families keep their last values (logged once until it answers again)", err);
	}
	s->seen = SEEN_FAILING;
	sum->ok = 0;
	return NULL;
}

static const struct prom_rs_rpc_node *rpc_call(struct rpc_state *s, struct prom_rs_rpc_summary *sum, int missing_ok,
	const char *missing_note)
{
	const struct prom_rs_rpc_reply *r;
	char err[512];
	int rc = prom_rs_rpc_call(s->method, &r, err, sizeof(err));

	return rpc_note(s, sum, rc, r, err, missing_ok, missing_note);
}

/* tm.stats values are unsigned 32-bit numbers that the RPC passes as int: read them back as unsigned. */
static double tm_unsigned(double v)
{
	return v < 0 ? v + 4294967296.0 : v;
}

static void sample_tm(const prom_rs_core *core, struct prom_rs_rpc_summary *sum)
{
	static const char *const map[][3] = {
		/* tm.stats key, our name, kind ("g" gauge, "c" counter) */
		{"current", "current_transactions", "g"},
		{"waiting", "waiting_transactions", "g"},
		{"total", "transactions", "c"},
		{"total_local", "local_transactions", "c"},
		{"rpl_received", "replies_received", "c"},
		{"rpl_generated", "replies_generated", "c"},
		{"rpl_sent", "replies_sent", "c"},
		{"created", "created_transactions", "c"},
		{"freed", "freed_transactions", "c"},
		{"delayed_free", "delayed_free_transactions", "c"},
	};
	const struct prom_rs_rpc_node *top = rpc_call(&st_tm, sum, 1, "no tm families");
	const struct prom_rs_rpc_node *n;
	static const char *const code_label[] = {"code"};

	if (!top || top->type != PROM_RS_RPC_STRUCT) {
		return;
	}
	for (n = top->first; n; n = n->next) {
		size_t i;

		if (n->type != PROM_RS_RPC_NUM || !n->name) {
			continue;
		}
		if (strlen(n->name) == 3 && n->name[0] >= '1' && n->name[0] <= '6' && !strcmp(n->name + 1, "xx")) {
			const char *v[] = {n->name};

			stat_push(core, sum, "tm", "completed_transactions", KIND_COUNTER, tm_unsigned(n->num), code_label, v, 1);
			continue;
		}
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			if (!strcmp(map[i][0], n->name)) {
				stat_push(core, sum, "tm", map[i][1], map[i][2][0] == 'g' ? KIND_GAUGE : KIND_COUNTER, tm_unsigned(n->num),
					NULL, NULL, 0);
				break;
			}
		}
		if (i == sizeof(map) / sizeof(map[0])) {
			/* A key this table does not know (a newer tm): a counter under its own name. */
			stat_push(core, sum, "tm", n->name, KIND_COUNTER, tm_unsigned(n->num), NULL, NULL, 0);
		}
	}
}

static void sample_pkg(const prom_rs_core *core, struct prom_rs_rpc_summary *sum)
{
	static const char *const map[][2] = {
		{"used", "used_bytes"},
		{"free", "free_bytes"},
		{"real_used", "real_used_bytes"},
		{"total_size", "total_bytes"},
		{"total_frags", "total_frags"},
	};
	static const char *const names[] = {"pid", "rank", "desc"};
	const struct prom_rs_rpc_node *row = rpc_call(&st_pkg, sum, 1, "no pkg families");

	for (; row; row = row->next) {
		const struct prom_rs_rpc_node *pid = prom_rs_rpc_get(row, "pid"), *rank = prom_rs_rpc_get(row, "rank"),
						*desc = prom_rs_rpc_get(row, "desc");
		char pid_s[24], rank_s[24];
		const char *values[3];
		size_t i;

		if (row->type != PROM_RS_RPC_STRUCT || !pid || !rank || pid->type != PROM_RS_RPC_NUM
			|| rank->type != PROM_RS_RPC_NUM) {
			continue;
		}
		snprintf(pid_s, sizeof(pid_s), "%.0f", pid->num);
		snprintf(rank_s, sizeof(rank_s), "%.0f", rank->num);
		values[0] = pid_s;
		values[1] = rank_s;
		values[2] = desc && desc->type == PROM_RS_RPC_STR ? desc->str : "";
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			const struct prom_rs_rpc_node *v = prom_rs_rpc_get(row, map[i][0]);

			if (v && v->type == PROM_RS_RPC_NUM) {
				stat_push(core, sum, "pkg", map[i][1], KIND_GAUGE, v->num, names, values, 3);
			}
		}
		sum->pkg_processes++;
	}
}

/* core.info pads some values with a trailing space ("unknown "): a copy without it, in the reply's arena. */
static const char *trimmed(const char *s)
{
	size_t n = strlen(s);
	const char *t;

	while (n && s[n - 1] == ' ') {
		n--;
	}
	t = prom_rs_rpc_keep(s, n);
	return t ? t : s;
}

static void sample_core(const prom_rs_core *core, struct prom_rs_rpc_summary *sum)
{
	const struct prom_rs_rpc_node *top = rpc_call(&st_uptime, sum, 0, "no uptime");
	const struct prom_rs_rpc_node *up = top ? prom_rs_rpc_get(top, "uptime") : NULL;
	static const char *const names[] = {"version", "id", "compiler", "compiled", "flags"};
	const char *keys[] = {"version", "id", "compiler", "compiled", "flags"};
	const char *values[5];
	size_t i;

	if (up && up->type == PROM_RS_RPC_NUM) {
		stat_push(core, sum, "core", "uptime_seconds", KIND_GAUGE, up->num, NULL, NULL, 0);
	}
	top = rpc_call(&st_info, sum, 0, "no build info");
	if (!top || top->type != PROM_RS_RPC_STRUCT) {
		return;
	}
	for (i = 0; i < 5; i++) {
		const struct prom_rs_rpc_node *v = prom_rs_rpc_get(top, keys[i]);

		values[i] = v && v->type == PROM_RS_RPC_STR ? trimmed(v->str) : "";
	}
	/* "kamailio 5.6.3": the version number alone (the prefix already says which server). */
	if (strchr(values[0], ' ')) {
		values[0] = strrchr(values[0], ' ') + 1;
	}
	stat_push(core, sum, "core", "build_info", KIND_GAUGE, 1, names, values, 5);
}

/* Destination states as dispatcher.list's first FLAGS letter gives them. */
static const char *const ds_states[] = {"active", "inactive", "disabled", "trying"};
#define DS_STATES 4
#define DS_MAX_SETS 256

static int ds_state_index(const char *flags)
{
	switch (flags ? flags[0] : 'A') {
	case 'I':
		return 1;
	case 'D':
		return 2;
	case 'T':
		return 3;
	default:
		return 0;
	}
}

static void sample_dispatcher(const prom_rs_core *core, struct prom_rs_rpc_summary *sum)
{
	static const char *const state_names[] = {"set", "uri", "state"};
	static const char *const probe_names[] = {"set", "uri"};
	static const char *const count_names[] = {"set", "state"};
	struct {
		char id[24];
		int n[DS_STATES];
	} sets[DS_MAX_SETS];
	int n_sets = 0, i, j, rc;
	const struct prom_rs_rpc_node *top, *records, *set;
	const struct prom_rs_rpc_reply *r;
	char err[512];

	rc = prom_rs_rpc_call("dispatcher.list", &r, err, sizeof(err));
	/* "No Destination Sets" is a fault of dispatcher.list, but an empty list is a valid setup, not a failure. */
	if (rc == PROM_RS_RPC_FAULT && strstr(err, "No Destination Sets")) {
		if (st_ds.seen != SEEN_EMPTY) {
			prom_rs_kam_log(3, "dispatcher.list has no destination sets: no dispatcher families until it has");
		}
		st_ds.seen = SEEN_EMPTY;
		sum->dispatcher_loaded = 1;
		return;
	}
	top = rpc_note(&st_ds, sum, rc, r, err, 1, "no dispatcher families");
	sum->dispatcher_loaded = rc != PROM_RS_RPC_MISSING;
	records = top ? prom_rs_rpc_get(top, "RECORDS") : NULL;
	for (set = records ? records->first : NULL; set; set = set->next) {
		const struct prom_rs_rpc_node *id = prom_rs_rpc_get(set, "ID"), *targets = prom_rs_rpc_get(set, "TARGETS");
		const struct prom_rs_rpc_node *dest;
		int k = -1;

		if (!id || id->type != PROM_RS_RPC_NUM) {
			continue;
		}
		if (n_sets < DS_MAX_SETS) {
			k = n_sets++;
			snprintf(sets[k].id, sizeof(sets[k].id), "%.0f", id->num);
			memset(sets[k].n, 0, sizeof(sets[k].n));
		}
		for (dest = targets ? targets->first : NULL; dest && k >= 0; dest = dest->next) {
			const struct prom_rs_rpc_node *uri = prom_rs_rpc_get(dest, "URI"), *flags = prom_rs_rpc_get(dest, "FLAGS");
			const char *f = flags && flags->type == PROM_RS_RPC_STR ? flags->str : "";
			int s = ds_state_index(f);

			if (!uri || uri->type != PROM_RS_RPC_STR) {
				continue;
			}
			for (j = 0; j < DS_STATES; j++) {
				const char *v[] = {sets[k].id, uri->str, ds_states[j]};

				stat_push(core, sum, "dispatcher", "destination_state", KIND_GAUGE, j == s, state_names, v, 3);
			}
			{
				const char *v[] = {sets[k].id, uri->str};

				stat_push(core, sum, "dispatcher", "destination_probing", KIND_GAUGE, f[0] && f[1] == 'P',
					probe_names, v, 2);
			}
			sets[k].n[s]++;
			sum->destinations++;
		}
	}
	for (i = 0; i < n_sets; i++) {
		for (j = 0; j < DS_STATES; j++) {
			const char *v[] = {sets[i].id, ds_states[j]};

			stat_push(core, sum, "dispatcher", "destinations", KIND_GAUGE, sets[i].n[j], count_names, v, 2);
		}
	}
}

void prom_rs_kam_sample_rpcs(const prom_rs_core *core, struct prom_rs_rpc_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	sum->ok = 1;
	sample_tm(core, sum);
	sample_pkg(core, sum);
	sample_core(core, sum);
	sample_dispatcher(core, sum);
}
