/* prom_rs_script.c - metrics from the routing script: declarations (modparams), script functions, KEMI exports,
 * RPCs, and the exporter's sample of them.
 *
 * The values live in c_shim/common/script_store.c's store, made in shared memory in mod_init with Kamailio's
 * shm_malloc and a Kamailio lock set, so every SIP worker updates the same series. The core process reads the store
 * every sample interval (prom_rs_kam_script_sample) and sets what changed in the core.
 *
 *   modparam("prom_rs", "counter", "name=sip_requests; label=method:code; help=SIP requests by method and code")
 *   modparam("prom_rs", "histogram", "name=reply_seconds; label=method; buckets=0.1:0.5:1")
 *   modparam("prom_rs", "script_timeout", "60m")
 *   prom_rs_counter_inc("sip_requests", "1", "$rm", "$rs");
 *   KSR.prom_rs.counter_inc_l2("sip_requests", "1", KSR.pv.get("$rm"), "200")
 *
 * Script functions take the name, the value (not for resets) and up to 4 label values (Kamailio passes at most 6
 * parameters); a family with more labels gets the rest in the last value, joined by its separator (sep=, default |).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <time.h>
#include <unistd.h>

#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/mod_fix.h"
#include "core/kemi.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"
#include "core/mem/pkg.h"
#include "core/pt.h"

#include "prom_rs_kam.h"
#include "script_store.h"

#define MAX_ARGS 4

static struct prs_decl *decls;
static unsigned n_decls;
/* Minutes by default, as xhttp_prom's xhttp_prom_timeout; 0: never. */
static int64_t timeout_s = 3600;
static gen_lock_set_t *locks;
static unsigned n_locks = 256;
struct prs_store *prom_rs_kam_store;

/* ---- modparams ---------------------------------------------------------------------------------------------- */

static int declare(int kind, const char *param, void *val)
{
	struct prs_decl d, *grown;
	const char *labels[PRS_MAX_LABELS];
	char err[600];
	int i;

	if (prs_decl_parse(kind, val ? (const char *)val : "", &d, err, sizeof(err))) {
		LM_ERR("modparam \"%s\": %s\n", param, err);
		return -1;
	}
	for (i = 0; i < d.n_labels; i++) {
		labels[i] = d.labels[i];
	}
	if (prom_rs_script_check(kind, d.name, d.help, labels, (size_t)d.n_labels, d.buckets, (size_t)d.n_buckets) !=
		PROM_RS_OK) {
		prom_rs_last_error(err, sizeof(err));
		LM_ERR("modparam \"%s\": %s\n", param, err);
		return -1;
	}
	for (i = 0; i < (int)n_decls; i++) {
		if (!strcmp(decls[i].name, d.name)) {
			LM_ERR("modparam \"%s\": a %s named %s is already declared; each name once\n", param,
				prs_kind_name(decls[i].kind), d.name);
			return -1;
		}
	}
	if (n_decls == PRS_MAX_FAMILIES) {
		LM_ERR("modparam \"%s\": more than %d script metrics\n", param, PRS_MAX_FAMILIES);
		return -1;
	}
	grown = realloc(decls, sizeof(*decls) * (n_decls + 1));
	if (!grown) {
		LM_ERR("modparam \"%s\": out of memory\n", param);
		return -1;
	}
	decls = grown;
	decls[n_decls++] = d;
	return 0;
}

int prom_rs_kam_param_counter(modparam_t type, void *val)
{
	(void)type;
	return declare(PRS_COUNTER, "counter", val);
}

int prom_rs_kam_param_gauge(modparam_t type, void *val)
{
	(void)type;
	return declare(PRS_GAUGE, "gauge", val);
}

int prom_rs_kam_param_histogram(modparam_t type, void *val)
{
	(void)type;
	return declare(PRS_HISTOGRAM, "histogram", val);
}

int prom_rs_kam_param_timeout(modparam_t type, void *val)
{
	char *end;
	double v;
	const char *s;
	char num[32];

	if (PARAM_TYPE_MASK(type) == PARAM_INT) {
		snprintf(num, sizeof(num), "%d", (int)(long)val);
		s = num;
	} else {
		s = val ? (const char *)val : "";
	}
	v = strtod(s, &end);
	while (isspace((unsigned char)*end)) {
		end++;
	}
	if (end == s || v < 0 || v > 1e7) {
		goto bad;
	}
	if (!*end || !strcasecmp(end, "m") || !strcasecmp(end, "min")) {
		timeout_s = (int64_t)(v * 60);
	} else if (!strcasecmp(end, "s")) {
		timeout_s = (int64_t)v;
	} else if (!strcasecmp(end, "h")) {
		timeout_s = (int64_t)(v * 3600);
	} else {
		goto bad;
	}
	if (v > 0 && timeout_s < 1) {
		timeout_s = 1;
	}
	return 0;
bad:
	LM_ERR("modparam \"script_timeout\": \"%.40s\" is not a duration: minutes (60), or with a unit (90s, 10m, 2h); "
	       "0 keeps idle series forever\n",
		s);
	return -1;
}

/* ---- the store ---------------------------------------------------------------------------------------------- */

static void *kam_shm_alloc(size_t n)
{
	return shm_malloc(n);
}

static void kam_shm_free(void *p)
{
	if (p) {
		shm_free(p);
	}
}

static void kam_lock(unsigned i)
{
	lock_set_get(locks, (int)i);
}

static void kam_unlock(unsigned i)
{
	lock_set_release(locks, (int)i);
}

/* Kamailio numbers its processes (pt.h process_no, below get_max_procs(), which mod_init may not call): a reader
 * slot each, up to N_SLOTS; a process past that takes the bucket locks instead. */
#define N_SLOTS 1024

static unsigned kam_slot(void)
{
	return process_no >= 0 ? (unsigned)process_no : N_SLOTS;
}

/* ---- updates from the script, KEMI and RPC ------------------------------------------------------------------ */

static int parse_number(const str *s, double *out)
{
	char buf[64], *end;
	int n = s && s->s ? s->len : 0;

	if (n <= 0 || n >= (int)sizeof(buf)) {
		return -1;
	}
	memcpy(buf, s->s, (size_t)n);
	buf[n] = '\0';
	*out = strtod(buf, &end);
	while (isspace((unsigned char)*end)) {
		end++;
	}
	return end == buf || *end ? -1 : 0;
}

static int kind_of(enum prs_op op)
{
	return op <= PRS_OP_COUNTER_RESET ? PRS_COUNTER : op == PRS_OP_OBSERVE ? PRS_HISTOGRAM : PRS_GAUGE;
}

static int takes_value(enum prs_op op)
{
	return op != PRS_OP_COUNTER_RESET && op != PRS_OP_GAUGE_RESET;
}

static const char *op_name(enum prs_op op)
{
	static const char *const names[] = {"prom_rs_counter_inc", "prom_rs_counter_reset", "prom_rs_gauge_set",
		"prom_rs_gauge_inc", "prom_rs_gauge_reset", "prom_rs_histogram_observe"};

	return names[op];
}

/* A refused update is logged at most once every 10 s per process, so a script error cannot flood the log. */
static void refused(enum prs_op op, const str *name, int status)
{
	static time_t last;
	time_t now = time(NULL);

	if (now - last < 10) {
		return;
	}
	last = now;
	LM_ERR("%s(\"%.*s\"): %s (further errors in the next 10 s are not logged)\n", op_name(op),
		name ? (name->len > 100 ? 100 : name->len) : 0, name && name->s ? name->s : "", prs_strerror(status));
}

/* family < 0: look the name up. The value: `value` as text, or `number` when value is NULL. */
static int update_num(int family, const str *name, enum prs_op op, const str *value, double number,
	const str *labels, unsigned n)
{
	struct prs_str vals[MAX_ARGS];
	double v = number;
	unsigned i;
	int r;

	if (family < 0) {
		family = prs_store_find(prom_rs_kam_store, name->s, (size_t)name->len);
	}
	if (family < 0) {
		r = PRS_ERR_FAMILY;
	} else if (takes_value(op) && value && parse_number(value, &v)) {
		r = PRS_ERR_VALUE;
	} else {
		for (i = 0; i < n; i++) {
			vals[i].s = labels[i].s;
			vals[i].len = labels[i].s && labels[i].len > 0 ? (size_t)labels[i].len : 0;
		}
		r = prs_store_update(prom_rs_kam_store, (unsigned)family, op, v, vals, n);
	}
	if (r != PRS_OK) {
		refused(op, name, r);
		return r;
	}
	return PRS_OK;
}

static int update(int family, const str *name, enum prs_op op, const str *value, const str *labels, unsigned n)
{
	static const str none = {"", 0};

	return update_num(family, name, op, value ? value : &none, 0, labels, n);
}

/* ---- script functions --------------------------------------------------------------------------------------- */

/* Parameter 1 after fixup: the name, resolved at startup when it is a constant. */
struct name_param {
	gparam_t *gp;
	int family;
	str name;
};

/* Parameter 2 of the functions with a value: the number, parsed at startup when it is a constant. */
struct value_param {
	gparam_t *gp;
	int is_const;
	double v;
};

static int fixup_for(enum prs_op op, void **param, int param_no)
{
	struct name_param *np;
	int family;

	if (fixup_spve_all(param, param_no) < 0) {
		return -1;
	}
	if (param_no == 2 && takes_value(op)) {
		struct value_param *vp = pkg_malloc(sizeof(*vp));

		if (!vp) {
			PKG_MEM_ERROR;
			return -1;
		}
		vp->gp = (gparam_t *)*param;
		vp->is_const = vp->gp->type == GPARAM_TYPE_STR;
		vp->v = 0;
		if (vp->is_const && parse_number(&vp->gp->v.str, &vp->v)) {
			LM_ERR("%s: value \"%.*s\" is not a number\n", op_name(op),
				vp->gp->v.str.len > 60 ? 60 : vp->gp->v.str.len, vp->gp->v.str.s);
			pkg_free(vp);
			return -1;
		}
		*param = vp;
		return 0;
	}
	if (param_no != 1) {
		return 0;
	}
	np = pkg_malloc(sizeof(*np));
	if (!np) {
		PKG_MEM_ERROR;
		return -1;
	}
	np->gp = (gparam_t *)*param;
	np->family = -1;
	np->name.s = NULL;
	np->name.len = 0;
	if (np->gp->type == GPARAM_TYPE_STR) {
		str *s = &np->gp->v.str;

		family = -1;
		for (unsigned i = 0; i < n_decls; i++) {
			if ((int)strlen(decls[i].name) == s->len && !memcmp(decls[i].name, s->s, (size_t)s->len)) {
				family = (int)i;
			}
		}
		if (family < 0) {
			LM_ERR("%s: no metric named \"%.*s\" is declared (modparam counter, gauge or histogram)\n",
				op_name(op), s->len > 100 ? 100 : s->len, s->s);
			pkg_free(np);
			return -1;
		}
		if (decls[family].kind != kind_of(op)) {
			LM_ERR("%s: \"%s\" is a %s\n", op_name(op), decls[family].name, prs_kind_name(decls[family].kind));
			pkg_free(np);
			return -1;
		}
		np->family = family;
		np->name = *s;
	}
	*param = np;
	return 0;
}

/* Runs one call: p[0] the name, then the value (unless a reset), then the label values; n parameters in all. */
static int run(sip_msg_t *msg, enum prs_op op, char **p, int n)
{
	struct name_param *np = (struct name_param *)p[0];
	char buf[PRS_VALUES_MAX];
	str name = np->name, labels[MAX_ARGS];
	int first = takes_value(op) ? 2 : 1, i;
	size_t used = 0;
	double v = 0;

	if (np->family < 0 && fixup_get_svalue(msg, np->gp, &name) < 0) {
		return -1;
	}
	if (first == 2) {
		struct value_param *vp = (struct value_param *)p[1];
		str value;

		if (vp->is_const) {
			v = vp->v;
		} else if (fixup_get_svalue(msg, vp->gp, &value) < 0 || parse_number(&value, &v)) {
			refused(op, &name, PRS_ERR_VALUE);
			return -1;
		}
	}
	for (i = first; i < n; i++) {
		gparam_t *gp = (gparam_t *)p[i];
		str *l = &labels[i - first];

		if (fixup_get_svalue(msg, gp, l) < 0) {
			return -1;
		}
		if (gp->type == GPARAM_TYPE_STR) {
			continue;
		}
		/* Copied: a value made from variables may live in a buffer that the next one reuses. */
		if (used + (size_t)l->len > sizeof(buf)) {
			refused(op, &name, PRS_ERR_TOOLONG);
			return -1;
		}
		memcpy(buf + used, l->s, (size_t)l->len);
		l->s = buf + used;
		used += (size_t)l->len;
	}
	return update_num(np->family, &name, op, NULL, v, labels, (unsigned)(n - first)) == PRS_OK ? 1 : -1;
}

#define PROM_RS_SCRIPT_OP(fn, op) \
	static int fixup_##fn(void **param, int param_no) \
	{ \
		return fixup_for(op, param, param_no); \
	} \
	static int __attribute__((unused)) w_##fn##_1(sip_msg_t *m, char *a) \
	{ \
		char *p[] = {a}; \
		return run(m, op, p, 1); \
	} \
	static int __attribute__((unused)) w_##fn##_2(sip_msg_t *m, char *a, char *b) \
	{ \
		char *p[] = {a, b}; \
		return run(m, op, p, 2); \
	} \
	static int __attribute__((unused)) w_##fn##_3(sip_msg_t *m, char *a, char *b, char *c) \
	{ \
		char *p[] = {a, b, c}; \
		return run(m, op, p, 3); \
	} \
	static int __attribute__((unused)) w_##fn##_4(sip_msg_t *m, char *a, char *b, char *c, char *d) \
	{ \
		char *p[] = {a, b, c, d}; \
		return run(m, op, p, 4); \
	} \
	static int __attribute__((unused)) w_##fn##_5(sip_msg_t *m, char *a, char *b, char *c, char *d, char *e) \
	{ \
		char *p[] = {a, b, c, d, e}; \
		return run(m, op, p, 5); \
	} \
	static int __attribute__((unused)) w_##fn##_6(sip_msg_t *m, char *a, char *b, char *c, char *d, char *e, char *f) \
	{ \
		char *p[] = {a, b, c, d, e, f}; \
		return run(m, op, p, 6); \
	}

PROM_RS_SCRIPT_OP(counter_inc, PRS_OP_COUNTER_INC)
PROM_RS_SCRIPT_OP(counter_reset, PRS_OP_COUNTER_RESET)
PROM_RS_SCRIPT_OP(gauge_set, PRS_OP_GAUGE_SET)
PROM_RS_SCRIPT_OP(gauge_inc, PRS_OP_GAUGE_INC)
PROM_RS_SCRIPT_OP(gauge_reset, PRS_OP_GAUGE_RESET)
PROM_RS_SCRIPT_OP(histogram_observe, PRS_OP_OBSERVE)

#define CMD(name, fn, n) {name, (cmd_function)(void (*)(void))w_##fn##_##n, n, fixup_##fn, 0, ANY_ROUTE},
/* With a value: name, value and 0-4 label values; resets: name and 0-4 label values. */
#define CMDS_VALUE(name, fn) CMD(name, fn, 2) CMD(name, fn, 3) CMD(name, fn, 4) CMD(name, fn, 5) CMD(name, fn, 6)
#define CMDS_RESET(name, fn) CMD(name, fn, 1) CMD(name, fn, 2) CMD(name, fn, 3) CMD(name, fn, 4) CMD(name, fn, 5)

cmd_export_t prom_rs_kam_cmds[] = {
	CMDS_VALUE("prom_rs_counter_inc", counter_inc)
	CMDS_RESET("prom_rs_counter_reset", counter_reset)
	CMDS_VALUE("prom_rs_gauge_set", gauge_set)
	CMDS_VALUE("prom_rs_gauge_inc", gauge_inc)
	CMDS_RESET("prom_rs_gauge_reset", gauge_reset)
	CMDS_VALUE("prom_rs_histogram_observe", histogram_observe)
	{0, 0, 0, 0, 0, 0},
};

/* ---- KEMI ------------------------------------------------------------------------------------------------------ */

static int ki(enum prs_op op, str *name, str *value, str *l, unsigned n)
{
	return update(-1, name, op, value, l, n) == PRS_OK ? 1 : -1;
}

#define KI_VALUE(fn, op) \
	static int ki_##fn##_l0(sip_msg_t *m, str *name, str *v) \
	{ \
		(void)m; \
		return ki(op, name, v, NULL, 0); \
	} \
	static int ki_##fn##_l1(sip_msg_t *m, str *name, str *v, str *a) \
	{ \
		str l[] = {*a}; \
		(void)m; \
		return ki(op, name, v, l, 1); \
	} \
	static int ki_##fn##_l2(sip_msg_t *m, str *name, str *v, str *a, str *b) \
	{ \
		str l[] = {*a, *b}; \
		(void)m; \
		return ki(op, name, v, l, 2); \
	} \
	static int ki_##fn##_l3(sip_msg_t *m, str *name, str *v, str *a, str *b, str *c) \
	{ \
		str l[] = {*a, *b, *c}; \
		(void)m; \
		return ki(op, name, v, l, 3); \
	} \
	static int ki_##fn##_l4(sip_msg_t *m, str *name, str *v, str *a, str *b, str *c, str *d) \
	{ \
		str l[] = {*a, *b, *c, *d}; \
		(void)m; \
		return ki(op, name, v, l, 4); \
	}

#define KI_RESET(fn, op) \
	static int ki_##fn##_l0(sip_msg_t *m, str *name) \
	{ \
		(void)m; \
		return ki(op, name, NULL, NULL, 0); \
	} \
	static int ki_##fn##_l1(sip_msg_t *m, str *name, str *a) \
	{ \
		str l[] = {*a}; \
		(void)m; \
		return ki(op, name, NULL, l, 1); \
	} \
	static int ki_##fn##_l2(sip_msg_t *m, str *name, str *a, str *b) \
	{ \
		str l[] = {*a, *b}; \
		(void)m; \
		return ki(op, name, NULL, l, 2); \
	} \
	static int ki_##fn##_l3(sip_msg_t *m, str *name, str *a, str *b, str *c) \
	{ \
		str l[] = {*a, *b, *c}; \
		(void)m; \
		return ki(op, name, NULL, l, 3); \
	} \
	static int ki_##fn##_l4(sip_msg_t *m, str *name, str *a, str *b, str *c, str *d) \
	{ \
		str l[] = {*a, *b, *c, *d}; \
		(void)m; \
		return ki(op, name, NULL, l, 4); \
	}

KI_VALUE(counter_inc, PRS_OP_COUNTER_INC)
KI_RESET(counter_reset, PRS_OP_COUNTER_RESET)
KI_VALUE(gauge_set, PRS_OP_GAUGE_SET)
KI_VALUE(gauge_inc, PRS_OP_GAUGE_INC)
KI_RESET(gauge_reset, PRS_OP_GAUGE_RESET)
KI_VALUE(histogram_observe, PRS_OP_OBSERVE)

#define S SR_KEMIP_STR
#define N SR_KEMIP_NONE
#define KE(fname, fn, a, b, c, d, e, f) {str_init("prom_rs"), str_init(fname), SR_KEMIP_INT, fn, {a, b, c, d, e, f}},
/* counter_inc(name, value) is counter_inc_l0; counter_inc_lK takes K label values. */
#define KE_VALUE(fname, fn) \
	KE(fname, ki_##fn##_l0, S, S, N, N, N, N) KE(fname "_l0", ki_##fn##_l0, S, S, N, N, N, N) \
	KE(fname "_l1", ki_##fn##_l1, S, S, S, N, N, N) KE(fname "_l2", ki_##fn##_l2, S, S, S, S, N, N) \
	KE(fname "_l3", ki_##fn##_l3, S, S, S, S, S, N) KE(fname "_l4", ki_##fn##_l4, S, S, S, S, S, S)
#define KE_RESET(fname, fn) \
	KE(fname, ki_##fn##_l0, S, N, N, N, N, N) KE(fname "_l0", ki_##fn##_l0, S, N, N, N, N, N) \
	KE(fname "_l1", ki_##fn##_l1, S, S, N, N, N, N) KE(fname "_l2", ki_##fn##_l2, S, S, S, N, N, N) \
	KE(fname "_l3", ki_##fn##_l3, S, S, S, S, N, N) KE(fname "_l4", ki_##fn##_l4, S, S, S, S, S, N)

static sr_kemi_t kemi_exports[] = {
	KE_VALUE("counter_inc", counter_inc)
	KE_RESET("counter_reset", counter_reset)
	KE_VALUE("gauge_set", gauge_set)
	KE_VALUE("gauge_inc", gauge_inc)
	KE_RESET("gauge_reset", gauge_reset)
	KE_VALUE("histogram_observe", histogram_observe)
	{{0, 0}, {0, 0}, 0, NULL, {0, 0, 0, 0, 0, 0}},
};

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	(void)path;
	(void)dlflags;
	(void)p1;
	(void)p2;
	sr_kemi_modules_add(kemi_exports);
	return 0;
}

/* ---- RPCs ----------------------------------------------------------------------------------------------------- */

static void rpc_update(rpc_t *rpc, void *ctx, enum prs_op op)
{
	str name = {0, 0}, labels[MAX_ARGS];
	double value = 0;
	unsigned n = 0;
	int r;

	if (!prom_rs_kam_store) {
		rpc->fault(ctx, 500, "prom_rs is not initialized");
		return;
	}
	if (rpc->scan(ctx, ".S", &name) < 1) {
		rpc->fault(ctx, 400, "give the metric name first");
		return;
	}
	/* A number, or text that reads as one (kamcmd sends 2.5 as a double, 7 as an int, s:7 as text). */
	if (takes_value(op) && rpc->scan(ctx, ".f", &value) < 1) {
		rpc->fault(ctx, 400, "give the value (a number) after the name");
		return;
	}
	while (n < MAX_ARGS && rpc->scan(ctx, "*.S", &labels[n]) == 1) {
		n++;
	}
	r = update_num(-1, &name, op, NULL, value, labels, n);
	if (r == PRS_OK) {
		rpc->rpl_printf(ctx, "ok");
	} else {
		rpc->fault(ctx, r == PRS_ERR_CAP || r == PRS_ERR_NOMEM ? 503 : 400, "%s", prs_strerror(r));
	}
}

static void rpc_counter_inc(rpc_t *rpc, void *ctx)
{
	rpc_update(rpc, ctx, PRS_OP_COUNTER_INC);
}

static void rpc_counter_reset(rpc_t *rpc, void *ctx)
{
	rpc_update(rpc, ctx, PRS_OP_COUNTER_RESET);
}

static void rpc_gauge_set(rpc_t *rpc, void *ctx)
{
	rpc_update(rpc, ctx, PRS_OP_GAUGE_SET);
}

static void rpc_gauge_inc(rpc_t *rpc, void *ctx)
{
	rpc_update(rpc, ctx, PRS_OP_GAUGE_INC);
}

static void rpc_gauge_reset(rpc_t *rpc, void *ctx)
{
	rpc_update(rpc, ctx, PRS_OP_GAUGE_RESET);
}

static void rpc_histogram_observe(rpc_t *rpc, void *ctx)
{
	rpc_update(rpc, ctx, PRS_OP_OBSERVE);
}

struct list_ctx {
	rpc_t *rpc;
	void *ctx;
};

static int list_one(void *p, const struct prs_view *v, int removed)
{
	struct list_ctx *l = p;
	char line[PRS_VALUES_MAX * 2 + 512];
	size_t n;
	unsigned i;

	(void)removed;
	n = (size_t)snprintf(line, sizeof(line), "%s %s{", prs_kind_name(v->decl->kind), v->decl->name);
	for (i = 0; i < v->n_values && n < sizeof(line); i++) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=\"%s\"", i ? "," : "", v->decl->labels[i],
			v->values[i]);
	}
	if (n < sizeof(line)) {
		if (v->decl->kind == PRS_HISTOGRAM) {
			snprintf(line + n, sizeof(line) - n, "} count=%llu sum=%.17g idle=%llds", (unsigned long long)v->count,
				v->sum, (long long)v->idle_s);
		} else {
			snprintf(line + n, sizeof(line) - n, "} %.17g idle=%llds", v->value, (long long)v->idle_s);
		}
	}
	l->rpc->add(l->ctx, "s", line);
	return 0;
}

static void rpc_metric_list(rpc_t *rpc, void *ctx)
{
	struct list_ctx l = {rpc, ctx};
	unsigned i;
	char line[256];

	if (!prom_rs_kam_store) {
		rpc->fault(ctx, 500, "prom_rs is not initialized");
		return;
	}
	for (i = 0; i < prs_store_families(prom_rs_kam_store); i++) {
		const struct prs_decl *d = prs_store_decl(prom_rs_kam_store, i);

		snprintf(line, sizeof(line), "# %s %s: %llu series, %llu dropped", prs_kind_name(d->kind), d->name,
			(unsigned long long)prs_store_series(prom_rs_kam_store, i),
			(unsigned long long)prs_store_dropped(prom_rs_kam_store, i));
		rpc->add(ctx, "s", line);
	}
	prs_store_foreach(prom_rs_kam_store, list_one, &l);
}

static const char *doc_counter_inc[] = {"Add to a script counter: name value [label values...]", 0};
static const char *doc_counter_reset[] = {"Set a script counter to 0: name [label values...]", 0};
static const char *doc_gauge_set[] = {"Set a script gauge: name value [label values...]", 0};
static const char *doc_gauge_inc[] = {"Add to a script gauge (negative to subtract): name value [labels...]", 0};
static const char *doc_gauge_reset[] = {"Set a script gauge to 0: name [label values...]", 0};
static const char *doc_observe[] = {"Observe a value in a script histogram: name value [label values...]", 0};
static const char *doc_list[] = {"List the script metrics: families, then every series with its value", 0};

static rpc_export_t script_rpcs[] = {
	{"prom_rs.counter_inc", rpc_counter_inc, doc_counter_inc, 0},
	{"prom_rs.counter_reset", rpc_counter_reset, doc_counter_reset, 0},
	{"prom_rs.gauge_set", rpc_gauge_set, doc_gauge_set, 0},
	{"prom_rs.gauge_inc", rpc_gauge_inc, doc_gauge_inc, 0},
	{"prom_rs.gauge_reset", rpc_gauge_reset, doc_gauge_reset, 0},
	{"prom_rs.histogram_observe", rpc_histogram_observe, doc_observe, 0},
	{"prom_rs.metric_list", rpc_metric_list, doc_list, RET_ARRAY},
	{0, 0, 0, 0},
};

int prom_rs_kam_script_init(const prom_rs_config *cfg)
{
	struct prs_host host = {kam_shm_alloc, kam_shm_free, kam_lock, kam_unlock, 0, kam_slot, N_SLOTS};
	int64_t cap = 2000;
	uint64_t want;
	unsigned buckets;

	if (rpc_register_array(script_rpcs) != 0) {
		LM_ERR("cannot register the script metric RPCs\n");
		return -1;
	}
	if (prom_rs_config_get_int(cfg, "max_series_per_family", &cap) != PROM_RS_OK || cap < 1) {
		cap = 2000;
	}
	locks = lock_set_alloc((int)n_locks);
	if (!locks || !lock_set_init(locks)) {
		LM_ERR("cannot make %u locks for the script metrics\n", n_locks);
		return -1;
	}
	host.n_locks = n_locks;
	/* About two series per bucket when every family is full; at least 1024, at most 1M buckets. */
	want = (uint64_t)cap * (n_decls ? n_decls : 1) / 2;
	buckets = want < 1024 ? 1024 : want > (1u << 20) ? (1u << 20) : (unsigned)want;
	prom_rs_kam_store = prs_store_new(&host, decls, n_decls, buckets, (uint64_t)cap, timeout_s);
	if (!prom_rs_kam_store) {
		SHM_MEM_ERROR;
		return -1;
	}
	return 0;
}

/* ---- the core process ----------------------------------------------------------------------------------------- */

static uint32_t core_family[PRS_MAX_FAMILIES];
static int core_ok[PRS_MAX_FAMILIES];
static uint32_t epoch;

int prom_rs_kam_script_declare(const prom_rs_core *core, char *err, size_t errlen)
{
	unsigned i;
	int j, refused = 0;
	static uint32_t starts;

	for (i = 0; i < n_decls; i++) {
		const char *labels[PRS_MAX_LABELS];

		for (j = 0; j < decls[i].n_labels; j++) {
			labels[j] = decls[i].labels[j];
		}
		core_ok[i] = prom_rs_script_declare(core, decls[i].kind, decls[i].name, decls[i].help, labels,
				     (size_t)decls[i].n_labels, decls[i].buckets, (size_t)decls[i].n_buckets,
				     &core_family[i]) == PROM_RS_OK;
		if (!core_ok[i] && !refused++) {
			char why[512];

			prom_rs_last_error(why, sizeof(why));
			snprintf(err, errlen, "script %s %s not exported: %s", prs_kind_name(decls[i].kind), decls[i].name,
				why);
		}
	}
	/* A new core has none of the series: the next sample pushes them all. The pid keeps epochs of successive core
	 * processes apart (each starts its count again). */
	epoch = ((uint32_t)getpid() << 8) ^ ++starts;
	if (!epoch) {
		epoch = 1;
	}
	return refused;
}

struct sample_ctx {
	const prom_rs_core *core;
	unsigned pushed, refused;
	char first_error[300];
};

static int push_one(void *p, const struct prs_view *v, int removed)
{
	struct sample_ctx *s = p;
	prom_rs_result r = PROM_RS_OK;

	if (!core_ok[v->family]) {
		return 0;
	}
	if (removed) {
		prom_rs_script_remove(s->core, core_family[v->family], v->values, v->n_values);
		return 0;
	}
	if (!v->changed) {
		return 0;
	}
	if (v->decl->kind == PRS_HISTOGRAM) {
		r = prom_rs_script_set_histogram(s->core, core_family[v->family], v->values, v->n_values, v->counts,
			(size_t)v->decl->n_buckets + 1, v->sum);
	} else {
		r = prom_rs_script_set(s->core, core_family[v->family], v->values, v->n_values, v->value);
	}
	if (r == PROM_RS_OK) {
		s->pushed++;
		return 0;
	}
	if (!s->refused++) {
		prom_rs_last_error(s->first_error, sizeof(s->first_error));
	}
	return -1;
}

unsigned prom_rs_kam_script_sample(const prom_rs_core *core, char *err, size_t errlen)
{
	struct sample_ctx s = {core, 0, 0, ""};
	unsigned i;

	if (!prom_rs_kam_store || !n_decls) {
		return 0;
	}
	prs_store_sweep(prom_rs_kam_store, epoch, push_one, &s);
	for (i = 0; i < n_decls; i++) {
		if (core_ok[i]) {
			prom_rs_script_dropped(core, core_family[i], prs_store_dropped(prom_rs_kam_store, i));
		}
	}
	if (s.refused) {
		snprintf(err, errlen, "%s", s.first_error);
	}
	return s.refused;
}

void prom_rs_kam_script_destroy(void)
{
	free(decls);
	decls = NULL;
	n_decls = 0;
}
