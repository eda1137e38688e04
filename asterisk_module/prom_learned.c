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
 *
 * What each subscription looks for (type names, application, handler) is in the route table of prom_events.c; this
 * file is the learning itself and calls nothing but prom_util.c.
 */
#include "asterisk.h"

#include <stdatomic.h>
#include <string.h>

#include "asterisk/astobj2.h"
#include "asterisk/cli.h"
#include "asterisk/lock.h"
#include "asterisk/logger.h"
#include "asterisk/stasis.h"
#include "asterisk/utils.h"

#include "prom_shim.h"

/* How long a subscription stays wide to learn its types before it narrows to what it has learned and waits for a
 * hint (a channel entering the module's application) to widen again. */
#define LEARN_WINDOW_US (60LL * 1000000)

enum { LEARN_OFF, LEARN_WIDE, LEARN_WAITING, LEARN_NARROW };

void prom_learned_init(struct prom_learned *ls, const struct prom_learned_spec *spec,
	struct stasis_topic *(*topic)(void), enum prom_sub counter)
{
	ls->spec = spec;
	ls->topic = topic;
	ls->counter = counter;
}

/* Lets every message type through again (ConfBridge: all of the bridge topic; app_queue: what has an AMI form). */
static void widen(struct prom_learned *ls)
{
	if (ls->spec->wide_formatters != STASIS_SUBSCRIPTION_FORMATTER_NONE) {
		stasis_subscription_accept_formatters(ls->sub, ls->spec->wide_formatters);
	} else {
		stasis_subscription_set_filter(ls->sub, STASIS_SUBSCRIPTION_FILTER_NONE);
	}
	ls->wide_since = prom_now_us();
	atomic_store(&ls->state, LEARN_WIDE);
}

/* Down to the learned types (none at all when nothing was learned yet). */
static void narrow(struct prom_learned *ls)
{
	stasis_subscription_set_filter(ls->sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	stasis_subscription_accept_formatters(ls->sub, STASIS_SUBSCRIPTION_FORMATTER_NONE);
	if (atomic_load(&ls->learned) == ls->spec->n_types) {
		atomic_store(&ls->state, LEARN_NARROW);
	} else {
		atomic_store(&ls->state, LEARN_WAITING);
		atomic_store(&ls->hint_armed, 1);
	}
}

static void learn(struct prom_learned *ls, struct stasis_subscription *sub, int kind, struct stasis_message_type *t)
{
	ls->types[kind] = ao2_bump(t);
	stasis_subscription_accept_message_type(sub, t);
	ast_debug(1, "res_prom_rs: %s: learned message type %s\n", ls->spec->what, ls->spec->names[kind]);
	if (atomic_fetch_add(&ls->learned, 1) + 1 == ls->spec->n_types) {
		ast_mutex_lock(&ls->lock);
		if (ls->sub == sub) {
			narrow(ls); /* every type is known: from now on Stasis hands this subscription only those */
		}
		ast_mutex_unlock(&ls->lock);
	}
}

static void on_learned(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct prom_learned *ls = data;
	const struct prom_learned_spec *spec = ls->spec;
	struct stasis_message_type *type = stasis_message_type(msg);
	const prom_rs_core *core;
	const char *name;
	int kind = -1, i;

	prom_count(ls->counter);
	for (i = 0; i < spec->n_types; i++) {
		if (ls->types[i] == type) {
			kind = i;
			break;
		}
	}
	if (kind < 0) {
		name = stasis_message_type_name(type);
		if (!name || strncmp(name, spec->prefix, strlen(spec->prefix))) {
			return;
		}
		for (i = 0; i < spec->n_types; i++) {
			if (!strcmp(name, spec->names[i])) {
				kind = i;
				break;
			}
		}
		if (kind < 0 || ls->types[kind]) {
			return; /* another type of the module, or an old type object of a since reloaded module */
		}
		learn(ls, sub, kind, type);
	}
	if ((core = prom_core_acquire())) {
		spec->deliver(core, kind, msg);
		prom_core_release();
	}
}

/* Costs one load when nothing waits for a hint (it runs for every channel snapshot). */
void prom_learned_hint(struct prom_learned *ls, const char *appl)
{
	if (atomic_load_explicit(&ls->hint_armed, memory_order_relaxed) && appl && !strcmp(appl, ls->spec->app) &&
		atomic_exchange(&ls->hint_armed, 0)) {
		ast_mutex_lock(&ls->lock);
		if (ls->sub && atomic_load(&ls->state) == LEARN_WAITING) {
			widen(ls);
		}
		ast_mutex_unlock(&ls->lock);
	}
}

void prom_learned_unsubscribe(struct prom_learned *ls)
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
	for (i = 0; i < PROM_LEARNED_MAX; i++) {
		ao2_cleanup(ls->types[i]);
		ls->types[i] = NULL;
	}
	atomic_store(&ls->learned, 0);
}

static void learned_subscribe(struct prom_learned *ls)
{
	struct stasis_subscription *sub = stasis_subscribe_pool(ls->topic(), on_learned, ls);

	if (!sub) {
		ast_log(LOG_WARNING, "res_prom_rs: cannot subscribe to %s events\n", ls->spec->what);
		return;
	}
	ast_mutex_lock(&ls->lock);
	ls->sub = sub;
	widen(ls);
	ast_mutex_unlock(&ls->lock);
}

/* A reloaded app_queue has new type objects, which the narrowed filter would not let through, so its subscription
 * must learn them afresh. */
void prom_learned_module_event(struct prom_learned *ls, const char *module)
{
	if (!strcasecmp(module, ls->spec->module)) {
		atomic_store(&ls->reloaded, 1);
	}
}

/* Runs on the sampler thread. It must not call ast_module_check() or anything else that takes the loader's lock:
 * `module unload res_prom_rs.so` holds that lock while it waits for this thread to end. */
void prom_learned_track(struct prom_learned *ls, int64_t now)
{
	int reloaded = atomic_exchange(&ls->reloaded, 0);
	int wanted = atomic_load(&ls->wanted);

	if (ls->sub && (!wanted || reloaded)) {
		prom_learned_unsubscribe(ls);
	}
	if (wanted && !ls->sub) {
		learned_subscribe(ls);
	}
	/* Wide for a minute without learning everything (the module is not loaded, or little used): narrow to what is
	 * known and let the next channel that runs the application widen it again. */
	ast_mutex_lock(&ls->lock);
	if (ls->sub && atomic_load(&ls->state) == LEARN_WIDE && now - ls->wide_since > LEARN_WINDOW_US) {
		narrow(ls);
	}
	ast_mutex_unlock(&ls->lock);
}

void prom_learned_want(struct prom_learned *ls, int wanted)
{
	atomic_store(&ls->wanted, wanted);
}

void prom_learned_describe(struct prom_learned *ls, int fd, const char *label)
{
	static const char *const states[] = {
		[LEARN_OFF] = "not subscribed",
		[LEARN_WIDE] = "subscribed, learning its message types",
		[LEARN_WAITING] = "subscribed, waiting for a channel to run the application to learn the rest",
		[LEARN_NARROW] = "subscribed, filtered to its message types",
	};

	ast_cli(fd, "%-18s%s (%d of %d types learned)\n", label,
		!atomic_load(&ls->wanted) ? "off (collector switched off)" : states[atomic_load(&ls->state)],
		atomic_load(&ls->learned), ls->spec->n_types);
}
