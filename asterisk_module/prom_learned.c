/* prom_learned.c - the app_queue and ConfBridge subscriptions, whose message types are learned by name.
 *
 * app_queue and app_confbridge keep their Stasis message types private (static in their modules), so they cannot be
 * named in a filter up front. Each subscription here starts wide (ConfBridge: the bridge topic unfiltered; app_queue:
 * only the messages that have an AMI form, as the AMI itself subscribes), recognises the types by name, and narrows to
 * a selective filter on exactly the learned types once each has been seen: every type of a conference's life (start,
 * join, leave, end) is seen by the end of the first conference, a queue's join and leave with its first caller. A
 * subscription still wide after a minute (the module is not loaded, or unused; app_queue's abandon type may take
 * longer) narrows to what it knows and widens again when a channel next runs Queue() or ConfBridge() (then the first
 * caller's join can be missed). When app_queue or app_confbridge is loaded or unloaded (the loader announces it on the
 * manager topic) its message types are new objects, and the subscription starts afresh.
 */
#include "asterisk.h"

#include <stdatomic.h>
#include <string.h>

#include "asterisk/astobj2.h"
#include "asterisk/cli.h"
#include "asterisk/json.h"
#include "asterisk/lock.h"
#include "asterisk/logger.h"
#include "asterisk/stasis.h"
#include "asterisk/stasis_bridges.h"
#include "asterisk/stasis_channels.h"
#include "asterisk/utils.h"

#include "prom_shim.h"


#define MAX_LEARNED 4

/* How long a subscription stays wide to learn its types before it narrows to what it has learned and waits for a
 * hint (a channel entering the module's application) to widen again. */
#define LEARN_WINDOW_US (60LL * 1000000)

struct learned_sub {
	const char *module;     /* the module whose types these are */
	const char *what;       /* for messages */
	const char *label;      /* for the CLI */
	const char *prefix;     /* common prefix of the type names */
	const char *names[MAX_LEARNED];
	int n_types;
	const char *app;        /* the dialplan application that publishes them (the hint) */
	struct stasis_topic *(*topic)(void);
	enum stasis_subscription_message_formatters wide_formatters; /* NONE: wide means unfiltered */
	void (*deliver)(const prom_rs_core *core, int kind, struct stasis_message *msg);
	enum prom_sub counter;
	atomic_int wanted;      /* the configuration's collector switch (set by load and reload) */
	atomic_int reloaded;    /* the module was loaded or unloaded since: its types are new objects */
	atomic_int hint_armed;  /* narrowed before every type was learned: widen when a channel runs `app` */
	atomic_int state;       /* LEARN_* below, for the CLI */
	ast_mutex_t lock;       /* guards `sub` against the hint (channel thread) and the sampler racing */
	struct stasis_subscription *sub;
	int64_t wide_since;     /* under lock */
	/* Written by the subscription's callback thread only (until the subscription is joined). */
	struct stasis_message_type *types[MAX_LEARNED]; /* references held while learned */
	atomic_int learned;
};

enum { LEARN_OFF, LEARN_WIDE, LEARN_WAITING, LEARN_NARROW };

static void deliver_queue(const prom_rs_core *core, int kind, struct stasis_message *msg)
{
	struct ast_channel_blob *b = stasis_message_data(msg);

	if (b && b->snapshot && b->blob) {
		prom_rs_queue_caller(core, prom_json_str(b->blob, "Queue"), b->snapshot->base->uniqueid, kind, prom_msg_ts(msg));
	}
}

static void deliver_confbridge(const prom_rs_core *core, int kind, struct stasis_message *msg)
{
	struct ast_bridge_blob *b = stasis_message_data(msg);

	if (b && b->blob) {
		prom_rs_confbridge_event(core, prom_json_str(b->blob, "conference"), kind, prom_msg_ts(msg));
	}
}

static struct learned_sub queue_sub = {
	.module = "app_queue.so",
	.what = "app_queue callers",
	.label = "app_queue:",
	.prefix = "queue_caller_",
	.names = {"queue_caller_join_type", "queue_caller_leave_type", "queue_caller_abandon_type"},
	.n_types = 3,
	.app = "Queue",
	.topic = ast_channel_topic_all,
	.wide_formatters = STASIS_SUBSCRIPTION_FORMATTER_AMI, /* as the AMI subscribes: only messages it would show */
	.deliver = deliver_queue,
	.counter = SUB_QUEUE,
	.lock = AST_MUTEX_INIT_VALUE,
};

static struct learned_sub confbridge_sub = {
	.module = "app_confbridge.so",
	.what = "ConfBridge",
	.label = "ConfBridge:",
	.prefix = "confbridge_",
	.names = {"confbridge_start_type", "confbridge_end_type", "confbridge_join_type", "confbridge_leave_type"},
	.n_types = 4,
	.app = "ConfBridge",
	.topic = ast_bridge_topic_all,
	.wide_formatters = STASIS_SUBSCRIPTION_FORMATTER_NONE,
	.deliver = deliver_confbridge,
	.counter = SUB_CONFBRIDGE,
	.lock = AST_MUTEX_INIT_VALUE,
};

static struct learned_sub *const learned_subs[] = {&queue_sub, &confbridge_sub};

/* Lets every message type through again (ConfBridge: all of the bridge topic; app_queue: what has an AMI form). */
static void widen(struct learned_sub *ls)
{
	if (ls->wide_formatters != STASIS_SUBSCRIPTION_FORMATTER_NONE) {
		stasis_subscription_accept_formatters(ls->sub, ls->wide_formatters);
	} else {
		stasis_subscription_set_filter(ls->sub, STASIS_SUBSCRIPTION_FILTER_NONE);
	}
	ls->wide_since = prom_shim_now_us();
	atomic_store(&ls->state, LEARN_WIDE);
}

/* Down to the learned types (none at all when nothing was learned yet). */
static void narrow(struct learned_sub *ls)
{
	stasis_subscription_set_filter(ls->sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	stasis_subscription_accept_formatters(ls->sub, STASIS_SUBSCRIPTION_FORMATTER_NONE);
	if (atomic_load(&ls->learned) == ls->n_types) {
		atomic_store(&ls->state, LEARN_NARROW);
	} else {
		atomic_store(&ls->state, LEARN_WAITING);
		atomic_store(&ls->hint_armed, 1);
	}
}

static void learn(struct learned_sub *ls, struct stasis_subscription *sub, int kind, struct stasis_message_type *t)
{
	ls->types[kind] = ao2_bump(t);
	stasis_subscription_accept_message_type(sub, t);
	ast_debug(1, "res_prom_rs: %s: learned message type %s\n", ls->what, ls->names[kind]);
	if (atomic_fetch_add(&ls->learned, 1) + 1 == ls->n_types) {
		ast_mutex_lock(&ls->lock);
		if (ls->sub == sub) {
			narrow(ls); /* every type is known: from now on Stasis hands this subscription only those */
		}
		ast_mutex_unlock(&ls->lock);
	}
}

static void on_learned(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct learned_sub *ls = data;
	struct stasis_message_type *type = stasis_message_type(msg);
	const prom_rs_core *core;
	const char *name;
	int kind = -1, i;

	prom_events_count(ls->counter);
	for (i = 0; i < ls->n_types; i++) {
		if (ls->types[i] == type) {
			kind = i;
			break;
		}
	}
	if (kind < 0) {
		name = stasis_message_type_name(type);
		if (!name || strncmp(name, ls->prefix, strlen(ls->prefix))) {
			return;
		}
		for (i = 0; i < ls->n_types; i++) {
			if (!strcmp(name, ls->names[i])) {
				kind = i;
				break;
			}
		}
		if (kind < 0 || ls->types[kind]) {
			return; /* another type of the module, or an old type object of a since reloaded module */
		}
		learn(ls, sub, kind, type);
	}
	if ((core = prom_shim_acquire())) {
		ls->deliver(core, kind, msg);
		prom_shim_release();
	}
}

/* From the channel snapshot callback: a channel runs an application. Costs one load when nothing waits for a hint. */
void prom_learned_hint(const char *appl)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(learned_subs); i++) {
		struct learned_sub *ls = learned_subs[i];

		if (atomic_load_explicit(&ls->hint_armed, memory_order_relaxed) && appl && !strcmp(appl, ls->app) &&
			atomic_exchange(&ls->hint_armed, 0)) {
			ast_mutex_lock(&ls->lock);
			if (ls->sub && atomic_load(&ls->state) == LEARN_WAITING) {
				widen(ls);
			}
			ast_mutex_unlock(&ls->lock);
		}
	}
}

static void learned_unsubscribe(struct learned_sub *ls)
{
	struct stasis_subscription *sub;
	int i;

	ast_mutex_lock(&ls->lock);
	sub = ls->sub;
	ls->sub = NULL;
	atomic_store(&ls->hint_armed, 0);
	atomic_store(&ls->state, LEARN_OFF);
	ast_mutex_unlock(&ls->lock);
	if (!sub) {
		return;
	}
	stasis_unsubscribe_and_join(sub);
	for (i = 0; i < MAX_LEARNED; i++) {
		ao2_cleanup(ls->types[i]);
		ls->types[i] = NULL;
	}
	atomic_store(&ls->learned, 0);
}

static void learned_subscribe(struct learned_sub *ls)
{
	struct stasis_subscription *sub = stasis_subscribe_pool(ls->topic(), on_learned, ls);

	if (!sub) {
		ast_log(LOG_WARNING, "res_prom_rs: cannot subscribe to %s events\n", ls->what);
		return;
	}
	ast_mutex_lock(&ls->lock);
	ls->sub = sub;
	widen(ls);
	ast_mutex_unlock(&ls->lock);
}

/* The loader announces every module load and unload (an AMI event on the manager topic): a reloaded app_queue has
 * new type objects, which the narrowed filter would not let through, so its subscription must learn them afresh. */
void prom_learned_on_module_event(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_json_payload *p = stasis_message_data(msg);
	const char *type, *module;
	size_t i;

	if (!p || !p->json) {
		return;
	}
	type = prom_json_str(p->json, "type");
	if (strcmp(type, "Load") && strcmp(type, "Unload")) {
		return;
	}
	module = prom_json_str(ast_json_object_get(p->json, "event"), "Module");
	for (i = 0; i < ARRAY_LEN(learned_subs); i++) {
		if (!strcasecmp(module, learned_subs[i]->module)) {
			atomic_store(&learned_subs[i]->reloaded, 1);
		}
	}
}

/* Runs on the sampler thread. It must not call ast_module_check() or anything else that takes the loader's lock:
 * `module unload res_prom_rs.so` holds that lock while it waits for this thread to end. */
void prom_learned_track(void)
{
	int64_t now = prom_shim_now_us();
	size_t i;

	for (i = 0; i < ARRAY_LEN(learned_subs); i++) {
		struct learned_sub *ls = learned_subs[i];
		int reloaded = atomic_exchange(&ls->reloaded, 0);
		int wanted = atomic_load(&ls->wanted);

		if (ls->sub && (!wanted || reloaded)) {
			learned_unsubscribe(ls);
		}
		if (wanted && !ls->sub) {
			learned_subscribe(ls);
		}
		/* Wide for a minute without learning everything (the module is not loaded, or little used): narrow to
		 * what is known and let the next channel that runs the application widen it again. */
		ast_mutex_lock(&ls->lock);
		if (ls->sub && atomic_load(&ls->state) == LEARN_WIDE && now - ls->wide_since > LEARN_WINDOW_US) {
			narrow(ls);
		}
		ast_mutex_unlock(&ls->lock);
	}
}

void prom_learned_set_switches(const struct prom_shim_switches *sw)
{
	atomic_store(&queue_sub.wanted, sw->queues);
	atomic_store(&confbridge_sub.wanted, sw->bridges);
}

void prom_learned_unsubscribe_all(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(learned_subs); i++) {
		learned_unsubscribe(learned_subs[i]);
	}
}

void prom_learned_describe(int fd)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(learned_subs); i++) {
		const struct learned_sub *ls = learned_subs[i];

		static const char *const states[] = {
			[LEARN_OFF] = "not subscribed",
			[LEARN_WIDE] = "subscribed, learning its message types",
			[LEARN_WAITING] = "subscribed, waiting for a channel to run the application to learn the rest",
			[LEARN_NARROW] = "subscribed, filtered to its message types",
		};

		ast_cli(fd, "%-18s%s (%d of %d types learned)\n", ls->label,
			!atomic_load(&ls->wanted) ? "off (collector switched off)" : states[atomic_load(&ls->state)],
			atomic_load(&ls->learned), ls->n_types);
	}
}
