/* prom_shim.h - what the three parts of the Asterisk shim share.
 *
 *   res_prom_rs.c   module entry points, configuration, the core handle, logger, CLI
 *   prom_events.c   Stasis subscriptions: Asterisk messages -> C ABI events; seeding at load
 *   prom_learned.c  the app_queue and ConfBridge subscriptions, whose message types are learned by name
 *   prom_sampler.c  the sampler thread: what has no event (uptime, call counts, codecs)
 *
 * The core handle is an atomic pointer: an event or sample reads it with one atomic load and takes no lock. The C ABI
 * lets prom_rs_core_reload run alongside events; only prom_rs_core_stop must not, and unload calls it after every
 * event source (subscriptions, sampler, CLI command) has been joined.
 */
#ifndef PROM_SHIM_H
#define PROM_SHIM_H

#include <stdint.h>
#include <sys/time.h>

#include "res_prom_rs.h"

/* Returns the running core, or NULL when none is running. Pair every non-NULL return with prom_shim_release(),
 * which marks where the handle stops being used (it takes no lock). */
const prom_rs_core *prom_shim_acquire(void);
void prom_shim_release(void);

/* Microseconds since the Unix epoch. */
static inline int64_t prom_shim_tv_us(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000000 + (int64_t)tv->tv_usec;
}

int64_t prom_shim_now_us(void);

/* Which optional subscriptions the configuration asks for (collector switches read by the shim). */
struct prom_shim_switches {
	int queues;  /* app_queue caller events */
	int bridges; /* ConfBridge events */
};

struct ast_json;
struct stasis_message;
struct stasis_subscription;

/* Events (prom_events.c). subscribe: 0 on success, -1 after logging which subscription failed (everything already
 * subscribed is undone). unsubscribe joins every subscription before returning; safe to call twice. */
int prom_events_subscribe(const struct prom_shim_switches *sw);
void prom_events_unsubscribe(void);
/* Reports the existing channels, endpoints and bridges to the core (module loaded mid-day). */
void prom_events_seed(void);
/* Subscriptions and the messages each has handled, for the CLI. */
void prom_events_describe(int fd);

/* Shared by the subscriptions: messages handled per subscription, a message's timestamp, a JSON string field. */
enum prom_sub { SUB_CHANNELS, SUB_ENDPOINTS, SUB_RTP, SUB_BRIDGES, SUB_SECURITY, SUB_SYSTEM, SUB_MANAGER,
	SUB_QUEUE, SUB_CONFBRIDGE, SUB_COUNT };
void prom_events_count(enum prom_sub sub);
int64_t prom_msg_ts(struct stasis_message *msg);
const char *prom_json_str(struct ast_json *obj, const char *key); /* "" when absent */

/* app_queue and ConfBridge (prom_learned.c). */
void prom_learned_set_switches(const struct prom_shim_switches *sw);
/* Called by the sampler each interval: starts the subscriptions afresh when app_queue or app_confbridge was loaded or
 * unloaded, follows the collector switches, and narrows a subscription that has been learning for a minute. */
void prom_learned_track(void);
/* A channel snapshot shows the channel running `appl` (may widen a subscription waiting for that application). */
void prom_learned_hint(const char *appl);
/* The loader announced a module load or unload (a route on the manager topic). */
void prom_learned_on_module_event(void *data, struct stasis_subscription *sub, struct stasis_message *msg);
void prom_learned_unsubscribe_all(void);
void prom_learned_describe(int fd);

/* Sampler (prom_sampler.c). */
int prom_sampler_start(int64_t interval_ms);
void prom_sampler_set_interval(int64_t interval_ms);
void prom_sampler_stop(void);

#endif /* PROM_SHIM_H */
