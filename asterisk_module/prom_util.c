/* prom_util.c - the core handle, clocks, message fields and message counts; see prom_util.h. */
#include "asterisk.h"

#include <stdatomic.h>
#include <string.h>

#include "asterisk/json.h"
#include "asterisk/stasis.h"
#include "asterisk/time.h"

#include "prom_util.h"

/* The running core, or NULL. Set before any event source starts and cleared only after every one has been joined
 * (see stop_all in res_prom_rs.c), so an event reads it with one atomic load and takes no lock. */
static _Atomic(prom_rs_core *) core;

static atomic_ullong handled[SUB_COUNT];

void prom_core_set(prom_rs_core *c)
{
	atomic_store_explicit(&core, c, memory_order_release);
}

prom_rs_core *prom_core_take(void)
{
	return atomic_exchange(&core, NULL);
}

prom_rs_core *prom_core_running(void)
{
	return atomic_load_explicit(&core, memory_order_acquire);
}

const prom_rs_core *prom_core_acquire(void)
{
	return atomic_load_explicit(&core, memory_order_acquire);
}

void prom_core_release(void)
{
}

int64_t prom_now_us(void)
{
	struct timeval now = ast_tvnow();
	return prom_tv_us(&now);
}

int64_t prom_msg_ts(struct stasis_message *msg)
{
	const struct timeval *tv = stasis_message_timestamp(msg);
	return tv ? prom_tv_us(tv) : prom_now_us();
}

const char *prom_json_str(struct ast_json *obj, const char *key)
{
	const char *s = ast_json_string_get(ast_json_object_get(obj, key));
	return s ? s : "";
}

void prom_endpoint_of(const char *channel_name, char *out, size_t len)
{
	const char *start = strchr(channel_name, '/');
	const char *end;
	size_t n;

	start = start ? start + 1 : channel_name;
	end = strrchr(start, '-');
	n = end ? (size_t)(end - start) : strlen(start);
	if (n >= len) {
		n = len - 1;
	}
	memcpy(out, start, n);
	out[n] = '\0';
}

void prom_count(enum prom_sub sub)
{
	atomic_fetch_add_explicit(&handled[sub], 1, memory_order_relaxed);
}

unsigned long long prom_count_get(enum prom_sub sub)
{
	return atomic_load(&handled[sub]);
}
