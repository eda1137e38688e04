/* prom_shim.h - the parts of the Asterisk shim, and which calls which (no file calls one above it):
 *
 *   res_prom_rs.c   module entry points, configuration, logger, CLI       -> prom_events, prom_sampler, prom_util
 *   prom_sampler.c  the sampler thread: what has no event                  -> prom_events (track), prom_util
 *   prom_events.c   the route table of the Stasis subscriptions, their     -> prom_learned, prom_util
 *                   handlers (messages -> C ABI events), seeding at load
 *   prom_learned.c  subscriptions whose message types are learned by name  -> prom_util
 *   prom_util.c     core handle, clocks, message fields, message counts    (prom_util.h)
 */
#ifndef PROM_SHIM_H
#define PROM_SHIM_H

#include <stdatomic.h>
#include <stdint.h>

#include "asterisk/lock.h"
#include "asterisk/stasis.h"

#include "prom_util.h"

/* ---- prom_events.c --------------------------------------------------------------------------------------------- */

/* Subscribes every subscription of the route table, following the collector switches `cfg` holds. 0 on success,
 * -1 after logging which subscription failed (everything already subscribed is undone). */
int prom_events_subscribe(const prom_rs_config *cfg);
/* Follows the collector switches of a reloaded configuration (the sampler applies them at its next run). */
void prom_events_set_switches(const prom_rs_config *cfg);
/* Joins every subscription before returning; safe to call twice. */
void prom_events_unsubscribe(void);
/* Reports the existing channels, endpoints and bridges to the core (module loaded mid-day). */
void prom_events_seed(void);
/* Subscriptions and the messages each has handled, for the CLI. */
void prom_events_describe(int fd);
/* Each sampler interval: the learned subscriptions follow their switches, module reloads and learning windows. */
void prom_events_track(void);

/* ---- prom_learned.c -------------------------------------------------------------------------------------------- */

#define PROM_LEARNED_MAX 4

/* What a learned subscription is after (a constant of the route table). */
struct prom_learned_spec {
	const char *module;     /* the module whose types these are */
	const char *what;       /* for log messages */
	const char *prefix;     /* common prefix of the type names */
	const char *names[PROM_LEARNED_MAX];
	int n_types;
	const char *app;        /* the dialplan application that publishes them (the hint) */
	enum stasis_subscription_message_formatters wide_formatters; /* NONE: wide means unfiltered */
	/* Sends one message of the learned type `kind` (an index into names) to the core. */
	void (*deliver)(const prom_rs_core *core, int kind, struct stasis_message *msg);
};

/* The state of one learned subscription. Its fields belong to prom_learned.c; it is defined here so the route table
 * can hold one statically (PROM_LEARNED_INIT). */
struct prom_learned {
	const struct prom_learned_spec *spec;   /* set by prom_learned_init, before any subscription exists */
	struct stasis_topic *(*topic)(void);
	enum prom_sub counter;
	atomic_int wanted;      /* the configuration's collector switch (set by load and reload) */
	atomic_int reloaded;    /* the module was loaded or unloaded since: its types are new objects */
	atomic_int hint_armed;  /* narrowed before every type was learned: widen when a channel runs `app` */
	atomic_int state;       /* for the CLI */
	ast_mutex_t lock;       /* guards `sub` against the hint (channel thread) and the sampler racing */
	struct stasis_subscription *sub;
	int64_t wide_since;     /* under lock */
	/* Written by the subscription's callback thread only (until the subscription is joined). */
	struct stasis_message_type *types[PROM_LEARNED_MAX]; /* references held while learned */
	atomic_int learned;
};

#define PROM_LEARNED_INIT { .lock = AST_MUTEX_INIT_VALUE }

/* At load, before any subscription exists (the state outlives an unload: the library stays mapped). */
void prom_learned_init(struct prom_learned *ls, const struct prom_learned_spec *spec,
	struct stasis_topic *(*topic)(void), enum prom_sub counter);
void prom_learned_want(struct prom_learned *ls, int wanted);
/* On the sampler thread: subscribes or unsubscribes as wanted, starts afresh after a module reload, and narrows a
 * subscription that has been learning for a minute. */
void prom_learned_track(struct prom_learned *ls, int64_t now);
/* A channel snapshot shows the channel running `appl` (may widen a subscription waiting for that application). */
void prom_learned_hint(struct prom_learned *ls, const char *appl);
/* The loader announced a load or unload of `module`. */
void prom_learned_module_event(struct prom_learned *ls, const char *module);
void prom_learned_unsubscribe(struct prom_learned *ls);
/* One CLI line, starting with `label`. */
void prom_learned_describe(struct prom_learned *ls, int fd, const char *label);

/* ---- prom_sampler.c -------------------------------------------------------------------------------------------- */

int prom_sampler_start(int64_t interval_ms);
void prom_sampler_set_interval(int64_t interval_ms);
void prom_sampler_stop(void);

#endif /* PROM_SHIM_H */
