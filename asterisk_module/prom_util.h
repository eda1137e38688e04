/* prom_util.h - the helpers every part of the Asterisk shim uses; prom_util.c calls no other file of the shim.
 *
 * The core handle is an atomic pointer: an event or sample reads it with one atomic load and takes no lock. The C ABI
 * lets prom_rs_core_reload run alongside events; only prom_rs_core_stop must not, and unload calls it after every
 * event source (subscriptions, sampler, CLI command) has been joined.
 */
#ifndef PROM_UTIL_H
#define PROM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "res_prom_rs.h"

struct ast_json;
struct stasis_message;

/* Publishes the started core (before any event source starts) / withdraws it (after every one has been joined) and
 * returns it for prom_rs_core_stop. */
void prom_core_set(prom_rs_core *core);
prom_rs_core *prom_core_take(void);
/* The running core for a reload (res_prom_rs.c), or NULL. */
prom_rs_core *prom_core_running(void);

/* Returns the running core, or NULL when none is running. Pair every non-NULL return with prom_core_release(),
 * which marks where the handle stops being used (it takes no lock). */
const prom_rs_core *prom_core_acquire(void);
void prom_core_release(void);

/* Microseconds since the Unix epoch. */
static inline int64_t prom_tv_us(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000000 + (int64_t)tv->tv_usec;
}

int64_t prom_now_us(void);
/* When a Stasis message was published (now, when it carries no timestamp). */
int64_t prom_msg_ts(struct stasis_message *msg);
/* A JSON object's string field; "" when absent. */
const char *prom_json_str(struct ast_json *obj, const char *key);
/* The endpoint part of a channel name: "PJSIP/alice-0000002a" -> "alice"; "Local/100@queues-00000003;1" ->
 * "100@queues". */
void prom_endpoint_of(const char *channel_name, char *out, size_t len);

/* The Stasis subscriptions, in the order of the route table (prom_events.c); here for the message counts. */
enum prom_sub { SUB_CHANNELS, SUB_ENDPOINTS, SUB_RTP, SUB_BRIDGES, SUB_SECURITY, SUB_SYSTEM, SUB_MANAGER,
	SUB_QUEUE, SUB_CONFBRIDGE, SUB_COUNT };

/* Messages handled per subscription, for `prom_rs show status`: one relaxed atomic add per message. */
void prom_count(enum prom_sub sub);
unsigned long long prom_count_get(enum prom_sub sub);

#endif /* PROM_UTIL_H */
