/* script_store.h - the store behind the routing script's metrics (prom_rs_counter_inc and friends), for hosts whose
 * SIP workers are processes (Kamailio, OpenSIPS). Host-neutral: the host passes in its shared-memory allocator and
 * a set of locks, and translates its own script values into plain strings and numbers.
 *
 * Layout, all in the host's shared memory: one open hash table (a power of two of buckets, each a singly linked
 * list of series). A series holds its family, its label values and its value cells.
 * - An update of a series that exists takes no lock: the calling process marks its own reader slot (a counter on a
 *   cache line of its own, odd while it walks a list), walks the list with acquire loads, changes the value with one
 *   atomic operation (a compare-and-swap loop for float sums) and marks the slot again. Workers share nothing but
 *   the series they update.
 * - A new series takes the bucket's lock (one of the host's lock set) only to walk the list again and push the new
 *   node at its head; the family's series count is reserved first, so the cap is never overshot.
 * - The exporter process (one, the only remover) walks everything each sample: series idle longer than the timeout
 *   are unlinked under the bucket lock, and freed at a later sample once every reader slot that was odd has moved
 *   on (no reader can still hold them then; new readers cannot reach them).
 * - A process without a slot of its own (slot() out of range) takes the bucket's lock for every update instead.
 * Declarations are copied into the store when it is made and never change afterwards.
 */

#ifndef PROM_RS_SCRIPT_STORE_H
#define PROM_RS_SCRIPT_STORE_H

#include <stddef.h>
#include <stdint.h>

#define PRS_MAX_LABELS 8
#define PRS_MAX_BUCKETS 64
#define PRS_MAX_FAMILIES 256
#define PRS_NAME_LEN 128
#define PRS_HELP_LEN 512
#define PRS_LABEL_LEN 64
/* Most bytes of label values one series may hold (all values together). */
#define PRS_VALUES_MAX 1024

enum prs_kind { PRS_COUNTER = 1, PRS_GAUGE = 2, PRS_HISTOGRAM = 3 };

/* One declaration (`modparam("prom_rs", "counter", "name=...; label=a:b; help=...")`). */
struct prs_decl {
	int kind;
	char name[PRS_NAME_LEN];
	char help[PRS_HELP_LEN];
	int n_labels;
	char labels[PRS_MAX_LABELS][PRS_LABEL_LEN];
	int n_buckets;
	double buckets[PRS_MAX_BUCKETS];
	/* Splits the last label value given when a call gives fewer values than labels (script functions take at most
	 * 4); default '|'. */
	char sep;
};

/* Parses the attributes of a declaration: `name=NAME` (required), `label=A:B:...` (up to 8), `help=TEXT` (no `;`),
 * `buckets=0.1:0.5:1` (histograms; default .005:.01:.025:.05:.1:.25:.5:1:2.5:5:10), `sep=C` (one character),
 * separated by `;`. Only the syntax is checked here (names and bounds are the core's to check: prom_rs_script_check).
 * On error returns -1 and writes a message naming the attribute to err. */
int prs_decl_parse(int kind, const char *text, struct prs_decl *out, char *err, size_t errlen);
const char *prs_kind_name(int kind);

/* What the host lends the store. alloc/free: shared memory visible to every process (called rarely: a new series,
 * a removal). lock/unlock: lock number i of n_locks (i < n_locks), usable across processes. slot: the calling
 * process's number, distinct for every process that may call the store at the same time (Kamailio's and OpenSIPS's
 * process_no), below n_slots; each such process must call the store from one thread at a time. */
struct prs_host {
	void *(*alloc)(size_t size);
	void (*free)(void *p);
	void (*lock)(unsigned i);
	void (*unlock)(unsigned i);
	unsigned n_locks;
	unsigned (*slot)(void);
	unsigned n_slots;
};

struct prs_store;

/* Makes the store in shared memory (call before the host forks its workers). n_buckets is rounded up to a power of
 * two; cap: most series per family; timeout_s: a series not updated for this long is removed (0: never). */
struct prs_store *prs_store_new(const struct prs_host *host, const struct prs_decl *decls, unsigned n_decls,
	unsigned n_buckets, uint64_t cap, int64_t timeout_s);

unsigned prs_store_families(const struct prs_store *s);
const struct prs_decl *prs_store_decl(const struct prs_store *s, unsigned family);
/* The index of the family called name (len bytes), or -1. */
int prs_store_find(const struct prs_store *s, const char *name, size_t len);
uint64_t prs_store_series(const struct prs_store *s, unsigned family);
uint64_t prs_store_dropped(const struct prs_store *s, unsigned family);
int64_t prs_store_timeout(const struct prs_store *s);

enum prs_op {
	PRS_OP_COUNTER_INC,   /* counters: add a whole number >= 0 */
	PRS_OP_COUNTER_RESET, /* counters: set to 0 */
	PRS_OP_GAUGE_SET,
	PRS_OP_GAUGE_INC,     /* gauges: add (negative to subtract) */
	PRS_OP_GAUGE_RESET,   /* gauges: set to 0 */
	PRS_OP_OBSERVE,       /* histograms */
};

enum prs_status {
	PRS_OK = 0,
	PRS_ERR_FAMILY = -1,  /* no such family */
	PRS_ERR_KIND = -2,    /* the operation is not for this family's type */
	PRS_ERR_LABELS = -3,  /* wrong number of label values */
	PRS_ERR_VALUE = -4,   /* not a number, or not allowed for this operation */
	PRS_ERR_TOOLONG = -5, /* label values longer than PRS_VALUES_MAX */
	PRS_ERR_CAP = -6,     /* a new series refused: the family is at its cap (counted) */
	PRS_ERR_NOMEM = -7,   /* shared memory is full (counted as dropped) */
};
const char *prs_strerror(int status);

/* A label value as the host holds it (not NUL-terminated). */
struct prs_str {
	const char *s;
	size_t len;
};

/* Applies op to the series of family with the given label values (creating it unless at the cap). When fewer
 * values than labels are given (at least one), the last one is split on the family's separator. value: the
 * number (whole and >= 0 for PRS_OP_COUNTER_INC; ignored by the resets). */
int prs_store_update(struct prs_store *s, unsigned family, enum prs_op op, double value, const struct prs_str *vals,
	unsigned n_vals);

/* One series as a visitor sees it; pointers valid during the callback only. */
struct prs_view {
	unsigned family;
	const struct prs_decl *decl;
	unsigned n_values;
	const char *values[PRS_MAX_LABELS];
	double value;                         /* counter or gauge */
	uint64_t counts[PRS_MAX_BUCKETS + 1]; /* histogram: per bucket, the last one +Inf (not cumulative) */
	uint64_t count;                       /* histogram: observations */
	double sum;                           /* histogram */
	int64_t idle_s;                       /* seconds since the last update (as of the last sample) */
	int changed;                          /* sweep only: differs from what the visitor last accepted */
};

/* Visitor: return 0 when the series was taken (a sweep then marks it as pushed). removed: the series has just been
 * removed (idle); it is not visited again. */
typedef int (*prs_visit_fn)(void *ctx, const struct prs_view *v, int removed);

/* The exporter's walk, once per sample (one caller at a time): advances the store's clock, removes idle
 * series (visited with removed = 1), visits the others with `changed` set for those that differ from what was
 * accepted under the same epoch (a new epoch, e.g. a restarted core, makes every series changed), and frees what
 * earlier walks removed once no reader can hold it. */
void prs_store_sweep(struct prs_store *s, uint32_t epoch, prs_visit_fn fn, void *ctx);
/* A read-only walk (RPC listing), from any process. */
void prs_store_foreach(struct prs_store *s, prs_visit_fn fn, void *ctx);

#endif
