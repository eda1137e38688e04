/* script_store.c - the shared-memory store of the routing script's metrics (see script_store.h for the design). */

#include <ctype.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "script_store.h"

struct prs_series {
	struct prs_series *_Atomic next;
	uint64_t hash;
	uint16_t family;
	uint16_t n_values;
	uint16_t values_len;
	uint16_t n_cells;
	_Atomic int64_t last_used;
	/* Touched by the exporter's sweep only. */
	uint64_t pushed_sig;
	uint32_t pushed_epoch;
	struct prs_series *retired_next;
	/* counter: the count; gauge: the bits of a double; histogram: one count per bucket and +Inf, then the bits of
	 * the sum. The packed label values (each NUL-terminated) follow the cells. */
	_Atomic uint64_t cells[];
};

struct prs_bucket {
	struct prs_series *_Atomic head;
};

/* One per process: odd while the process walks a list. A cache line each, so workers never share one. */
struct prs_slot {
	_Atomic uint64_t seq;
	char pad[64 - sizeof(uint64_t)];
};

struct prs_family_state {
	_Atomic uint64_t series;
	_Atomic uint64_t dropped;
};

struct prs_store {
	struct prs_host host;
	unsigned n_families;
	unsigned mask;
	uint64_t cap;
	int64_t timeout_s;
	_Atomic int64_t clock;
	/* The exporter's sweep only: series unlinked by the last walk, and those waiting for the readers that were in
	 * the lists when they were unlinked (their slots' values then in `seen`). */
	struct prs_series *retired;
	struct prs_series *pending;
	uint64_t *seen;
	struct prs_slot *slots;
	struct prs_decl *decls;
	struct prs_family_state *fam;
	struct prs_bucket *buckets;
};

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

/* ---- declarations ------------------------------------------------------------------------------------------- */

const char *prs_kind_name(int kind)
{
	return kind == PRS_COUNTER ? "counter" : kind == PRS_GAUGE ? "gauge" : "histogram";
}

/* Copies s[0..n) into dst (size len) without surrounding blanks; -1 when it does not fit. */
static int copy_trim(char *dst, size_t len, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1])) {
		n--;
	}
	if (n >= len) {
		return -1;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int parse_labels(struct prs_decl *d, const char *v, char *err, size_t errlen)
{
	const char *p = v;

	if (!*v) {
		snprintf(err, errlen, "label= is empty; write label=NAME or label=A:B");
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (d->n_labels == PRS_MAX_LABELS) {
			snprintf(err, errlen, "label=: more than %d label names", PRS_MAX_LABELS);
			return -1;
		}
		if (copy_trim(d->labels[d->n_labels], PRS_LABEL_LEN, p, n)) {
			snprintf(err, errlen, "label=: a label name is longer than %d characters", PRS_LABEL_LEN - 1);
			return -1;
		}
		if (!d->labels[d->n_labels][0]) {
			snprintf(err, errlen, "label=: an empty label name (labels are separated by :)");
			return -1;
		}
		d->n_labels++;
		if (!end) {
			return 0;
		}
		p = end + 1;
	}
}

static int parse_buckets(struct prs_decl *d, const char *v, char *err, size_t errlen)
{
	const char *p = v;

	for (;;) {
		char *end;
		double b;

		if (d->n_buckets == PRS_MAX_BUCKETS) {
			snprintf(err, errlen, "buckets=: more than %d bounds", PRS_MAX_BUCKETS);
			return -1;
		}
		b = strtod(p, &end);
		while (isspace((unsigned char)*end)) {
			end++;
		}
		if (end == p || (*end && *end != ':')) {
			snprintf(err, errlen, "buckets=: \"%.40s\" is not a list of numbers separated by : (e.g. 0.1:0.5:1)", v);
			return -1;
		}
		d->buckets[d->n_buckets++] = b;
		if (!*end) {
			return 0;
		}
		p = end + 1;
	}
}

int prs_decl_parse(int kind, const char *text, struct prs_decl *out, char *err, size_t errlen)
{
	const char *p = text;
	int seen_name = 0, seen_label = 0, seen_help = 0, seen_buckets = 0, seen_sep = 0;

	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->sep = '|';
	while (*p) {
		const char *end = strchr(p, ';'), *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char key[32], val[PRS_HELP_LEN];
		int *seen;

		eq = memchr(p, '=', n);
		if (!eq) {
			char part[64];

			if (copy_trim(part, sizeof(part), p, n) == 0 && !part[0]) {
				/* an empty part: "name=a;" or "; ;" */
				p = end ? end + 1 : p + n;
				continue;
			}
			snprintf(err, errlen, "\"%.*s\" is not ATTRIBUTE=VALUE (attributes: name, label, help%s, separated by ;)",
				(int)(n > 40 ? 40 : n), p, kind == PRS_HISTOGRAM ? ", buckets" : "");
			return -1;
		}
		if (copy_trim(key, sizeof(key), p, (size_t)(eq - p))) {
			snprintf(err, errlen, "an attribute name is too long (attributes: name, label, help%s)",
				kind == PRS_HISTOGRAM ? ", buckets" : "");
			return -1;
		}
		if (copy_trim(val, sizeof(val), eq + 1, n - (size_t)(eq + 1 - p))) {
			snprintf(err, errlen, "%s=: the value is longer than %d characters", key, PRS_HELP_LEN - 1);
			return -1;
		}
		if (!strcmp(key, "name")) {
			seen = &seen_name;
		} else if (!strcmp(key, "label") || !strcmp(key, "labels")) {
			seen = &seen_label;
		} else if (!strcmp(key, "help")) {
			seen = &seen_help;
		} else if (!strcmp(key, "buckets") && kind == PRS_HISTOGRAM) {
			seen = &seen_buckets;
		} else if (!strcmp(key, "sep")) {
			seen = &seen_sep;
		} else {
			snprintf(err, errlen, "unknown attribute \"%.31s\" (a %s takes name, label, help%s, sep)", key,
				prs_kind_name(kind), kind == PRS_HISTOGRAM ? ", buckets" : "");
			return -1;
		}
		if (*seen) {
			snprintf(err, errlen, "attribute %s given twice", key);
			return -1;
		}
		*seen = 1;
		if (seen == &seen_name) {
			if (copy_trim(out->name, sizeof(out->name), val, strlen(val))) {
				snprintf(err, errlen, "name=: longer than %d characters", PRS_NAME_LEN - 1);
				return -1;
			}
		} else if (seen == &seen_label) {
			if (parse_labels(out, val, err, errlen)) {
				return -1;
			}
		} else if (seen == &seen_help) {
			snprintf(out->help, sizeof(out->help), "%s", val);
		} else if (seen == &seen_buckets) {
			if (parse_buckets(out, val, err, errlen)) {
				return -1;
			}
		} else if (strlen(val) != 1 || isalnum((unsigned char)val[0])) {
			snprintf(err, errlen, "sep=: give one character that is not a letter or digit (default |)");
			return -1;
		} else {
			out->sep = val[0];
		}
		p = end ? end + 1 : p + n;
	}
	if (!seen_name || !out->name[0]) {
		snprintf(err, errlen, "name= is missing (e.g. \"name=sip_requests; label=method\")");
		return -1;
	}
	if (kind == PRS_HISTOGRAM && !seen_buckets) {
		out->n_buckets = (int)(sizeof(default_buckets) / sizeof(default_buckets[0]));
		memcpy(out->buckets, default_buckets, sizeof(default_buckets));
	}
	return 0;
}

/* ---- the store ---------------------------------------------------------------------------------------------- */

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

struct prs_store *prs_store_new(const struct prs_host *host, const struct prs_decl *decls, unsigned n_decls,
	unsigned n_buckets, uint64_t cap, int64_t timeout_s)
{
	struct prs_store *s;
	unsigned n = 64, i;

	if (!host || !host->alloc || !host->lock || !host->unlock || !host->n_locks || n_decls > PRS_MAX_FAMILIES) {
		return NULL;
	}
	while (n < n_buckets && n < (1u << 24)) {
		n <<= 1;
	}
	s = host->alloc(sizeof(*s));
	if (!s) {
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->host = *host;
	s->n_families = n_decls;
	s->mask = n - 1;
	s->cap = cap;
	s->timeout_s = timeout_s;
	s->decls = host->alloc(sizeof(*s->decls) * (n_decls ? n_decls : 1));
	s->fam = host->alloc(sizeof(*s->fam) * (n_decls ? n_decls : 1));
	s->buckets = host->alloc(sizeof(*s->buckets) * n);
	s->slots = host->n_slots ? host->alloc(sizeof(*s->slots) * host->n_slots) : NULL;
	s->seen = host->n_slots ? host->alloc(sizeof(*s->seen) * host->n_slots) : NULL;
	if (!s->decls || !s->fam || !s->buckets || (host->n_slots && (!s->slots || !s->seen))) {
		if (host->free) {
			host->free(s->decls);
			host->free(s->fam);
			host->free(s->buckets);
			host->free(s->slots);
			host->free(s->seen);
			host->free(s);
		}
		return NULL;
	}
	for (i = 0; i < host->n_slots; i++) {
		atomic_init(&s->slots[i].seq, 0);
	}
	if (n_decls) {
		memcpy(s->decls, decls, sizeof(*decls) * n_decls);
	}
	for (i = 0; i < n_decls; i++) {
		atomic_init(&s->fam[i].series, 0);
		atomic_init(&s->fam[i].dropped, 0);
	}
	for (i = 0; i < n; i++) {
		atomic_init(&s->buckets[i].head, NULL);
	}
	atomic_init(&s->clock, mono_s());
	return s;
}

unsigned prs_store_families(const struct prs_store *s)
{
	return s ? s->n_families : 0;
}

const struct prs_decl *prs_store_decl(const struct prs_store *s, unsigned family)
{
	return s && family < s->n_families ? &s->decls[family] : NULL;
}

int prs_store_find(const struct prs_store *s, const char *name, size_t len)
{
	unsigned i;

	for (i = 0; s && i < s->n_families; i++) {
		if (strlen(s->decls[i].name) == len && !memcmp(s->decls[i].name, name, len)) {
			return (int)i;
		}
	}
	return -1;
}

uint64_t prs_store_series(const struct prs_store *s, unsigned family)
{
	return s && family < s->n_families ? atomic_load_explicit(&s->fam[family].series, memory_order_relaxed) : 0;
}

uint64_t prs_store_dropped(const struct prs_store *s, unsigned family)
{
	return s && family < s->n_families ? atomic_load_explicit(&s->fam[family].dropped, memory_order_relaxed) : 0;
}

int64_t prs_store_timeout(const struct prs_store *s)
{
	return s ? s->timeout_s : 0;
}

const char *prs_strerror(int status)
{
	switch (status) {
	case PRS_OK:
		return "ok";
	case PRS_ERR_FAMILY:
		return "no such metric (declare it with modparam counter, gauge or histogram)";
	case PRS_ERR_KIND:
		return "this function is for another metric type";
	case PRS_ERR_LABELS:
		return "wrong number of label values";
	case PRS_ERR_VALUE:
		return "the value is not a number allowed here (counters add whole numbers >= 0; a label value may not "
		       "contain a NUL byte)";
	case PRS_ERR_TOOLONG:
		return "the label values are too long";
	case PRS_ERR_CAP:
		return "the metric has max_series_per_family series; new label sets are dropped (counted in "
		       "prom_rs_series_dropped_total)";
	case PRS_ERR_NOMEM:
		return "out of shared memory";
	}
	return "unknown error";
}

static unsigned cells_of(const struct prs_decl *d)
{
	return d->kind == PRS_HISTOGRAM ? (unsigned)d->n_buckets + 2 : 1;
}

static const char *values_of(const struct prs_series *n)
{
	return (const char *)&n->cells[n->n_cells];
}

static void add_double(_Atomic uint64_t *cell, double delta)
{
	uint64_t old = atomic_load_explicit(cell, memory_order_relaxed), next;
	double v;

	do {
		memcpy(&v, &old, sizeof(v));
		v += delta;
		memcpy(&next, &v, sizeof(next));
	} while (!atomic_compare_exchange_weak_explicit(cell, &old, next, memory_order_relaxed, memory_order_relaxed));
}

static void store_double(_Atomic uint64_t *cell, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	atomic_store_explicit(cell, bits, memory_order_relaxed);
}

static double load_double(_Atomic uint64_t *cell)
{
	uint64_t bits = atomic_load_explicit(cell, memory_order_relaxed);
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

static void apply(const struct prs_decl *d, struct prs_series *n, enum prs_op op, double value, int64_t clock)
{
	switch (op) {
	case PRS_OP_COUNTER_INC:
		atomic_fetch_add_explicit(&n->cells[0], (uint64_t)value, memory_order_relaxed);
		break;
	case PRS_OP_COUNTER_RESET:
		atomic_store_explicit(&n->cells[0], 0, memory_order_relaxed);
		break;
	case PRS_OP_GAUGE_SET:
		store_double(&n->cells[0], value);
		break;
	case PRS_OP_GAUGE_INC:
		add_double(&n->cells[0], value);
		break;
	case PRS_OP_GAUGE_RESET:
		store_double(&n->cells[0], 0.0);
		break;
	case PRS_OP_OBSERVE: {
		int i = 0;

		while (i < d->n_buckets && value > d->buckets[i]) {
			i++;
		}
		atomic_fetch_add_explicit(&n->cells[i], 1, memory_order_relaxed);
		add_double(&n->cells[d->n_buckets + 1], value);
		break;
	}
	}
	/* Written only when it changes (once a sample interval at most), so hot series do not write it per update. */
	if (atomic_load_explicit(&n->last_used, memory_order_relaxed) != clock) {
		atomic_store_explicit(&n->last_used, clock, memory_order_relaxed);
	}
}

static struct prs_series *find(struct prs_bucket *b, uint64_t hash, unsigned family, const char *packed,
	size_t len)
{
	struct prs_series *n = atomic_load_explicit(&b->head, memory_order_acquire);

	for (; n; n = atomic_load_explicit(&n->next, memory_order_acquire)) {
		if (n->hash == hash && n->family == family && n->values_len == len && !memcmp(values_of(n), packed, len)) {
			return n;
		}
	}
	return NULL;
}

static int op_fits(int kind, enum prs_op op, double value)
{
	switch (op) {
	case PRS_OP_COUNTER_INC:
		if (kind != PRS_COUNTER) {
			return PRS_ERR_KIND;
		}
		/* a whole number from 0 to 2^53 (NaN fails the comparisons) */
		return value >= 0 && value <= 9007199254740992.0 && (double)(uint64_t)value == value ? PRS_OK
												       : PRS_ERR_VALUE;
	case PRS_OP_COUNTER_RESET:
		return kind == PRS_COUNTER ? PRS_OK : PRS_ERR_KIND;
	case PRS_OP_GAUGE_SET:
	case PRS_OP_GAUGE_INC:
		if (kind != PRS_GAUGE) {
			return PRS_ERR_KIND;
		}
		return isfinite(value) ? PRS_OK : PRS_ERR_VALUE;
	case PRS_OP_GAUGE_RESET:
		return kind == PRS_GAUGE ? PRS_OK : PRS_ERR_KIND;
	case PRS_OP_OBSERVE:
		if (kind != PRS_HISTOGRAM) {
			return PRS_ERR_KIND;
		}
		return isnan(value) ? PRS_ERR_VALUE : PRS_OK;
	}
	return PRS_ERR_KIND;
}

/* The packed label values and the family, 8 bytes at a time (a multiply-xorshift mix per word). */
static uint64_t hash_of(unsigned family, const char *p, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)family << 32) ^ len, w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8;
		len -= 8;
	}
	w = 0;
	memcpy(&w, p, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* Appends s[0..n) and a NUL to buf at *used. */
static int pack(char *buf, size_t *used, const char *s, size_t n)
{
	if (n && memchr(s, '\0', n)) {
		return PRS_ERR_VALUE;
	}
	if (*used + n + 1 > PRS_VALUES_MAX) {
		return PRS_ERR_TOOLONG;
	}
	memcpy(buf + *used, s, n);
	*used += n;
	buf[(*used)++] = '\0';
	return PRS_OK;
}

int prs_store_update(struct prs_store *s, unsigned family, enum prs_op op, double value, const struct prs_str *vals,
	unsigned n_vals)
{
	const struct prs_decl *d;
	char packed[PRS_VALUES_MAX];
	size_t len = 0, i;
	uint64_t hash;
	struct prs_bucket *b;
	struct prs_series *n;
	unsigned want, lock_no, me;
	int64_t clock;
	int r;

	if (!s || family >= s->n_families) {
		return PRS_ERR_FAMILY;
	}
	d = &s->decls[family];
	if ((r = op_fits(d->kind, op, value)) != PRS_OK) {
		return r;
	}
	want = (unsigned)d->n_labels;
	if (n_vals > want || (n_vals < want && n_vals == 0)) {
		return PRS_ERR_LABELS;
	}
	for (i = 0; i < n_vals; i++) {
		const char *v = vals[i].s ? vals[i].s : "";
		size_t vl = vals[i].s ? vals[i].len : 0;

		if (i + 1 == n_vals && n_vals < want) {
			/* the last value holds the rest, split on the family's separator */
			unsigned parts = 1;
			const char *start = v, *p;

			for (p = v; p < v + vl; p++) {
				if (*p == d->sep) {
					if ((r = pack(packed, &len, start, (size_t)(p - start))) != PRS_OK) {
						return r;
					}
					start = p + 1;
					parts++;
				}
			}
			if ((r = pack(packed, &len, start, (size_t)(v + vl - start))) != PRS_OK) {
				return r;
			}
			if (n_vals - 1 + parts != want) {
				return PRS_ERR_LABELS;
			}
		} else if ((r = pack(packed, &len, v, vl)) != PRS_OK) {
			return r;
		}
	}
	hash = hash_of(family, packed, len);
	b = &s->buckets[hash & s->mask];
	clock = atomic_load_explicit(&s->clock, memory_order_relaxed);

	me = s->host.slot ? s->host.slot() : s->host.n_slots;
	if (me < s->host.n_slots) {
		/* An existing series: no lock, only this process's own slot (odd while it walks the list). Only this
		 * process writes it: the exit is a plain store; the entry must be ordered before the list is read. */
		struct prs_slot *slot = &s->slots[me];
		uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_relaxed);

		atomic_exchange_explicit(&slot->seq, seq + 1, memory_order_seq_cst);
		n = find(b, hash, family, packed, len);
		if (n) {
			apply(d, n, op, value, clock);
		}
		atomic_store_explicit(&slot->seq, seq + 2, memory_order_release);
		if (n) {
			return PRS_OK;
		}
	}

	/* A new one (or a process without a slot): the bucket's lock, to look again and link it in. */
	lock_no = (unsigned)((size_t)(b - s->buckets) % s->host.n_locks);
	s->host.lock(lock_no);
	n = find(b, hash, family, packed, len);
	if (n) {
		apply(d, n, op, value, clock);
		s->host.unlock(lock_no);
		return PRS_OK;
	}
	if (atomic_fetch_add_explicit(&s->fam[family].series, 1, memory_order_relaxed) >= s->cap) {
		atomic_fetch_sub_explicit(&s->fam[family].series, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->fam[family].dropped, 1, memory_order_relaxed);
		s->host.unlock(lock_no);
		return PRS_ERR_CAP;
	}
	n = s->host.alloc(sizeof(*n) + sizeof(n->cells[0]) * cells_of(d) + len);
	if (!n) {
		atomic_fetch_sub_explicit(&s->fam[family].series, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->fam[family].dropped, 1, memory_order_relaxed);
		s->host.unlock(lock_no);
		return PRS_ERR_NOMEM;
	}
	memset(n, 0, sizeof(*n));
	n->hash = hash;
	n->family = (uint16_t)family;
	n->n_values = (uint16_t)want;
	n->values_len = (uint16_t)len;
	n->n_cells = (uint16_t)cells_of(d);
	for (i = 0; i < n->n_cells; i++) {
		atomic_init(&n->cells[i], 0);
	}
	memcpy((char *)&n->cells[n->n_cells], packed, len);
	atomic_init(&n->last_used, clock);
	apply(d, n, op, value, clock);
	atomic_init(&n->next, atomic_load_explicit(&b->head, memory_order_relaxed));
	atomic_store_explicit(&b->head, n, memory_order_release);
	s->host.unlock(lock_no);
	return PRS_OK;
}

/* ---- walks -------------------------------------------------------------------------------------------------- */

static void view_of(const struct prs_store *s, struct prs_series *n, struct prs_view *v)
{
	const struct prs_decl *d = &s->decls[n->family];
	const char *p = values_of(n);
	unsigned i;

	v->family = n->family;
	v->decl = d;
	v->n_values = n->n_values;
	for (i = 0; i < n->n_values; i++) {
		v->values[i] = p;
		p += strlen(p) + 1;
	}
	v->idle_s = atomic_load_explicit(&s->clock, memory_order_relaxed) -
		    atomic_load_explicit(&n->last_used, memory_order_relaxed);
	v->count = 0;
	v->sum = 0;
	v->value = 0;
	if (d->kind == PRS_HISTOGRAM) {
		for (i = 0; i <= (unsigned)d->n_buckets; i++) {
			v->counts[i] = atomic_load_explicit(&n->cells[i], memory_order_relaxed);
			v->count += v->counts[i];
		}
		v->sum = load_double(&n->cells[d->n_buckets + 1]);
	} else if (d->kind == PRS_COUNTER) {
		v->value = (double)atomic_load_explicit(&n->cells[0], memory_order_relaxed);
	} else {
		v->value = load_double(&n->cells[0]);
	}
}

static uint64_t signature(const struct prs_decl *d, const struct prs_view *v, struct prs_series *n)
{
	/* A histogram's count grows with every observation; counters and gauges compare their bits. */
	return d->kind == PRS_HISTOGRAM ? v->count : atomic_load_explicit(&n->cells[0], memory_order_relaxed);
}

/* Unlinks n from bucket b (under its lock) when it is still idle; 1 when it did. */
static int unlink_idle(struct prs_store *s, struct prs_bucket *b, struct prs_series *n, int64_t clock)
{
	unsigned lock_no = (unsigned)((size_t)(b - s->buckets) % s->host.n_locks);
	struct prs_series *_Atomic *link = &b->head;
	struct prs_series *cur;
	int done = 0;

	s->host.lock(lock_no);
	if (clock - atomic_load_explicit(&n->last_used, memory_order_relaxed) >= s->timeout_s) {
		while ((cur = atomic_load_explicit(link, memory_order_relaxed)) && cur != n) {
			link = &cur->next;
		}
		if (cur == n) {
			/* n->next stays as it is: a reader standing on n walks on to the rest of the list. */
			atomic_store_explicit(link, atomic_load_explicit(&n->next, memory_order_relaxed),
				memory_order_release);
			atomic_fetch_sub_explicit(&s->fam[n->family].series, 1, memory_order_relaxed);
			n->retired_next = s->retired;
			s->retired = n;
			done = 1;
		}
	}
	s->host.unlock(lock_no);
	return done;
}

/* The sweeper's reader section: its own slot when it has one, else nothing (it is the only remover, and a node it
 * reads can only be freed by itself). */
static struct prs_slot *enter(struct prs_store *s)
{
	unsigned me = s->host.slot ? s->host.slot() : s->host.n_slots;

	if (me >= s->host.n_slots) {
		return NULL;
	}
	atomic_fetch_add_explicit(&s->slots[me].seq, 1, memory_order_seq_cst);
	return &s->slots[me];
}

static void leave(struct prs_slot *slot)
{
	if (slot) {
		atomic_fetch_add_explicit(&slot->seq, 1, memory_order_release);
	}
}

/* Frees the pending series once every reader that could hold one has left the lists (its slot was even when they
 * became pending, or has changed since), then makes the last walk's removals pending. */
static void free_retired(struct prs_store *s)
{
	struct prs_series *n;
	unsigned i;

	atomic_thread_fence(memory_order_seq_cst);
	if (s->pending) {
		for (i = 0; i < s->host.n_slots; i++) {
			uint64_t now = atomic_load_explicit(&s->slots[i].seq, memory_order_seq_cst);

			if ((s->seen[i] & 1) && now == s->seen[i]) {
				return; /* a reader is still in the walk it was in: try again next sample */
			}
		}
		while ((n = s->pending)) {
			s->pending = n->retired_next;
			if (s->host.free) {
				s->host.free(n);
			}
		}
	}
	if (s->retired) {
		s->pending = s->retired;
		s->retired = NULL;
		for (i = 0; i < s->host.n_slots; i++) {
			s->seen[i] = atomic_load_explicit(&s->slots[i].seq, memory_order_seq_cst);
		}
	}
}

static void walk(struct prs_store *s, int sweep, uint32_t epoch, prs_visit_fn fn, void *ctx)
{
	struct prs_view v;
	unsigned i;
	int64_t clock = atomic_load_explicit(&s->clock, memory_order_relaxed);

	for (i = 0; i <= s->mask; i++) {
		struct prs_bucket *b = &s->buckets[i];
		struct prs_series *n;
		struct prs_slot *slot;
		int locked;

		if (!atomic_load_explicit(&b->head, memory_order_relaxed)) {
			continue;
		}
		slot = enter(s);
		locked = !slot && !sweep;
		if (locked) {
			/* a reader without a slot of its own: the remover cannot unlink or free here meanwhile */
			s->host.lock(i % s->host.n_locks);
		}
		for (n = atomic_load_explicit(&b->head, memory_order_acquire); n;
			n = atomic_load_explicit(&n->next, memory_order_acquire)) {
			const struct prs_decl *d = &s->decls[n->family];

			view_of(s, n, &v);
			if (sweep && s->timeout_s > 0 && v.idle_s >= s->timeout_s && unlink_idle(s, b, n, clock)) {
				v.changed = 1;
				fn(ctx, &v, 1);
				continue;
			}
			if (sweep) {
				uint64_t sig = signature(d, &v, n);

				v.changed = n->pushed_epoch != epoch || n->pushed_sig != sig;
				if (fn(ctx, &v, 0) == 0) {
					n->pushed_epoch = epoch;
					n->pushed_sig = sig;
				}
			} else {
				v.changed = 0;
				fn(ctx, &v, 0);
			}
		}
		if (locked) {
			s->host.unlock(i % s->host.n_locks);
		}
		leave(slot);
	}
}

void prs_store_sweep(struct prs_store *s, uint32_t epoch, prs_visit_fn fn, void *ctx)
{
	if (!s) {
		return;
	}
	free_retired(s);
	atomic_store_explicit(&s->clock, mono_s(), memory_order_relaxed);
	walk(s, 1, epoch, fn, ctx);
}

void prs_store_foreach(struct prs_store *s, prs_visit_fn fn, void *ctx)
{
	if (s) {
		walk(s, 0, 0, fn, ctx);
	}
}
