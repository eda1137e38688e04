/* prom_events.c - Stasis messages in, C ABI events out.
 *
 * Every subscription filters on the message types it handles (a NULL type is never accepted: it would silently turn
 * the filter off). Each callback reads a few fields of the message, takes the core's read lock and makes one or two
 * C ABI calls, which are O(1) and never block.
 *
 * Callbacks run on the Stasis threadpool (pool subscriptions: no thread of their own to wake per message). The
 * app_queue and ConfBridge subscriptions, whose message types are private to those modules, are in prom_learned.c.
 */
#include "asterisk.h"

#include <stdatomic.h>
#include <string.h>

#include "asterisk/app.h"
#include "asterisk/astobj2.h"
#include "asterisk/bridge.h"
#include "asterisk/bridge_features.h"
#include "asterisk/channel.h"
#include "asterisk/cli.h"
#include "asterisk/json.h"
#include "asterisk/logger.h"
#include "asterisk/manager.h"
#include "asterisk/module.h"
#include "asterisk/rtp_engine.h"
#include "asterisk/security_events.h"
#include "asterisk/stasis.h"
#include "asterisk/stasis_bridges.h"
#include "asterisk/stasis_channels.h"
#include "asterisk/stasis_endpoints.h"
#include "asterisk/stasis_message_router.h"
#include "asterisk/stasis_system.h"

#include "prom_shim.h"

/* Layout of the payload of RTCP messages: main/rtp_engine.c's private `struct rtcp_message_payload`, unchanged from
 * Asterisk 12 to 22. Reading the report struct costs a few loads; the public route, stasis_message_to_json(), would
 * build the whole channel snapshot as JSON for every report. */
struct prom_rtcp_payload {
	struct ast_channel_snapshot *snapshot; /* may be NULL */
	struct ast_rtp_rtcp_report *report;
	struct ast_json *blob; /* "rtt", "mes" (Asterisk 18.21+/20.6+), "from", "to" */
};

/* RTCP jitter is in RTP timestamp units; the report does not say the clock rate. G.711, G.722, G.729 and GSM all
 * use an 8 kHz RTP clock, which is what a PBX carries almost everywhere. */
#define RTP_CLOCK_HZ 8000.0

static struct stasis_message_router *channel_router;
static struct stasis_message_router *endpoint_router;
static struct stasis_message_router *rtp_router;
static struct stasis_message_router *bridge_router;
static struct stasis_message_router *security_router;
static struct stasis_message_router *system_router;
static struct stasis_message_router *manager_router;

/* ---- helpers --------------------------------------------------------------------------------------------------- */

int64_t prom_msg_ts(struct stasis_message *msg)
{
	const struct timeval *tv = stasis_message_timestamp(msg);
	return tv ? prom_shim_tv_us(tv) : prom_shim_now_us();
}

/* "PJSIP/alice-0000002a" -> "alice"; "Local/100@queues-00000003;1" -> "100@queues". */
static void endpoint_of(const char *channel_name, char *out, size_t len)
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

const char *prom_json_str(struct ast_json *obj, const char *key)
{
	const char *s = ast_json_string_get(ast_json_object_get(obj, key));
	return s ? s : "";
}

/* Messages handled per subscription, for `prom_rs show status`. */
static const char *const sub_names[SUB_COUNT] = {
	"channels", "endpoints", "rtcp", "bridges", "security", "registrations", "module events", "app_queue",
	"ConfBridge",
};
static atomic_ullong handled[SUB_COUNT];

void prom_events_count(enum prom_sub sub)
{
	atomic_fetch_add_explicit(&handled[sub], 1, memory_order_relaxed);
}

struct route_ctx {
	stasis_subscription_cb cb;
	enum prom_sub sub;
};

static void counted(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct route_ctx *r = data;

	prom_events_count(r->sub);
	r->cb(NULL, sub, msg);
}

/* Adds a route, refusing a NULL type (which stasis would take as "accept everything"). */
static int route(struct stasis_message_router *router, struct stasis_message_type *type, const char *type_name,
	const struct route_ctx *ctx)
{
	if (!type) {
		ast_log(LOG_WARNING, "res_prom_rs: message type %s is not available (declined in stasis.conf?); its "
			"events are not counted\n", type_name);
		return 0;
	}
	if (stasis_message_router_add(router, type, counted, (void *)ctx)) {
		ast_log(LOG_ERROR, "res_prom_rs: cannot route message type %s\n", type_name);
		return -1;
	}
	return 0;
}
#define ROUTE(router, type_fn, sub_id, cb) ({ \
	static const struct route_ctx ctx_ = { cb, sub_id }; \
	route(router, type_fn(), #type_fn, &ctx_); \
})

/* ---- channels -------------------------------------------------------------------------------------------------- */


static void report_channel_created(const prom_rs_core *core, const struct ast_channel_snapshot *s)
{
	char endpoint[AST_CHANNEL_NAME];

	endpoint_of(s->base->name, endpoint, sizeof endpoint);
	prom_rs_channel_created(core, s->base->uniqueid, s->base->type, endpoint, (int32_t)s->state,
		prom_shim_tv_us(&s->base->creationtime));
}

static void on_channel_snapshot(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_channel_snapshot_update *u = stasis_message_data(msg);
	const struct ast_channel_snapshot *n = u ? u->new_snapshot : NULL;
	const struct ast_channel_snapshot *o = u ? u->old_snapshot : NULL;
	const prom_rs_core *core;

	if (!n) {
		return;
	}
	if (n->dialplan) {
		prom_learned_hint(n->dialplan->appl);
	}
	if (!(core = prom_shim_acquire())) {
		return;
	}
	if (!o) {
		report_channel_created(core, n);
	}
	if (ast_test_flag(&n->flags, AST_FLAG_DEAD)) {
		prom_rs_channel_hangup(core, n->base->uniqueid, n->base->type, n->hangup ? n->hangup->cause : 0,
			prom_shim_tv_us(&n->base->creationtime), prom_msg_ts(msg));
	} else if (o && o->state != n->state) {
		prom_rs_channel_state(core, n->base->uniqueid, (int32_t)n->state, prom_msg_ts(msg));
	}
	prom_shim_release();
}

static void on_dial(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_multi_channel_blob *blob = stasis_message_data(msg);
	const char *status = prom_json_str(ast_multi_channel_blob_get_json(blob), "dialstatus");
	const prom_rs_core *core;

	/* A Dial begin carries no status; only the end (ANSWER, BUSY, ...) is a result. */
	if (!*status || !(core = prom_shim_acquire())) {
		return;
	}
	prom_rs_dial_result(core, status, prom_msg_ts(msg));
	prom_shim_release();
}

/* ---- endpoints ------------------------------------------------------------------------------------------------- */

static void on_endpoint_snapshot(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_endpoint_snapshot *s = stasis_message_data(msg);
	const prom_rs_core *core;

	if (!s || !(core = prom_shim_acquire())) {
		return;
	}
	prom_rs_endpoint_state(core, s->tech, s->resource, (int32_t)s->state, s->num_channels, prom_msg_ts(msg));
	prom_shim_release();
}

/* PJSIP contact status with its qualify round trip ("roundtrip_usec" is a decimal string). */
static void on_contact_state(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_endpoint_blob *b = stasis_message_data(msg);
	const char *status, *name, *rtt;
	const prom_rs_core *core;
	int64_t rtt_us = -1;

	if (!b || !b->snapshot || !b->blob) {
		return;
	}
	status = prom_json_str(b->blob, "contact_status");
	name = prom_json_str(b->blob, "endpoint_name");
	rtt = prom_json_str(b->blob, "roundtrip_usec");
	if (*rtt) {
		rtt_us = strtoll(rtt, NULL, 10);
	}
	if (!(core = prom_shim_acquire())) {
		return;
	}
	prom_rs_endpoint_contact(core, b->snapshot->tech, *name ? name : b->snapshot->resource, status, rtt_us,
		prom_msg_ts(msg));
	prom_shim_release();
}

/* Peer status of the whole endpoint (PJSIP: Reachable/Unreachable; other drivers: Registered, Lagged ...). */
static void on_endpoint_state(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_endpoint_blob *b = stasis_message_data(msg);
	const char *status;
	const prom_rs_core *core;

	if (!b || !b->snapshot || !b->blob || !*(status = prom_json_str(b->blob, "peer_status"))) {
		return;
	}
	if (!(core = prom_shim_acquire())) {
		return;
	}
	prom_rs_endpoint_contact(core, b->snapshot->tech, b->snapshot->resource, status, -1, prom_msg_ts(msg));
	prom_shim_release();
}

/* ---- RTCP ------------------------------------------------------------------------------------------------------ */

static void on_rtcp(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct prom_rtcp_payload *p = stasis_message_data(msg);
	const struct ast_rtp_rtcp_report_block *block;
	char endpoint[AST_CHANNEL_NAME] = "";
	double rtt = -1, mes = -1;
	struct ast_json *j;
	const prom_rs_core *core;
	int32_t direction = stasis_message_type(msg) == ast_rtp_rtcp_received_type() ? 0 : 1;

	/* A sender report without reception blocks has nothing about quality. */
	if (!p || !p->report || !p->report->reception_report_count || !(block = p->report->report_block[0])) {
		return;
	}
	if (p->blob) {
		/* Asterisk leaves rtt at 0 until a report echoes one of its own (LSR set): 0 means "not known". */
		if ((j = ast_json_object_get(p->blob, "rtt")) && ast_json_real_get(j) > 0) {
			rtt = ast_json_real_get(j);
		}
		if ((j = ast_json_object_get(p->blob, "mes"))) {
			mes = ast_json_real_get(j);
		}
	}
	if (p->snapshot) {
		endpoint_of(p->snapshot->base->name, endpoint, sizeof endpoint);
	}
	if (!(core = prom_shim_acquire())) {
		return;
	}
	prom_rs_rtcp_report(core, p->snapshot ? p->snapshot->base->type : "", endpoint, direction,
		block->ia_jitter / RTP_CLOCK_HZ, block->lost_count.fraction / 256.0, rtt, mes, prom_msg_ts(msg));
	prom_shim_release();
}

/* ---- bridges --------------------------------------------------------------------------------------------------- */

static int bridge_invisible(const struct ast_bridge_snapshot *s)
{
	return ast_test_flag(&s->feature_flags, AST_BRIDGE_FLAG_INVISIBLE) ? 1 : 0;
}

/* Reports a bridge and the channels in it (seeding, and a technology change). */
static void report_bridge(const prom_rs_core *core, const struct ast_bridge_snapshot *s, int64_t ts)
{
	struct ao2_iterator it;
	const char *uniqueid;

	prom_rs_bridge_created(core, s->uniqueid, s->technology, bridge_invisible(s), ts);
	if (!s->channels) {
		return;
	}
	it = ao2_iterator_init(s->channels, 0);
	while ((uniqueid = ao2_iterator_next(&it))) {
		prom_rs_bridge_enter(core, s->uniqueid, uniqueid, ts);
		ao2_ref((void *)uniqueid, -1);
	}
	ao2_iterator_destroy(&it);
}

static void on_bridge_snapshot(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_bridge_snapshot_update *u = stasis_message_data(msg);
	const struct ast_bridge_snapshot *o = u ? u->old_snapshot : NULL;
	const struct ast_bridge_snapshot *n = u ? u->new_snapshot : NULL;
	const prom_rs_core *core;

	if (!(o || n) || !(core = prom_shim_acquire())) {
		return;
	}
	if (!o) {
		prom_rs_bridge_created(core, n->uniqueid, n->technology, bridge_invisible(n), prom_msg_ts(msg));
	} else if (!n) {
		prom_rs_bridge_destroyed(core, o->uniqueid, prom_msg_ts(msg));
	} else if (strcmp(o->technology, n->technology)) {
		/* Smart bridging moved the bridge to another technology (simple_bridge -> native_rtp): the core knows a
		 * bridge by the technology it was created with, so report it as replaced, with the channels now in it. */
		prom_rs_bridge_destroyed(core, o->uniqueid, prom_msg_ts(msg));
		report_bridge(core, n, prom_msg_ts(msg));
	}
	prom_shim_release();
}

static void on_bridge_enter_leave(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_bridge_blob *b = stasis_message_data(msg);
	const prom_rs_core *core;

	if (!b || !b->bridge || !b->channel || !(core = prom_shim_acquire())) {
		return;
	}
	if (stasis_message_type(msg) == ast_channel_entered_bridge_type()) {
		prom_rs_bridge_enter(core, b->bridge->uniqueid, b->channel->base->uniqueid, prom_msg_ts(msg));
	} else {
		prom_rs_bridge_leave(core, b->bridge->uniqueid, b->channel->base->uniqueid, prom_msg_ts(msg));
	}
	prom_shim_release();
}

/* ---- security events and outbound registrations ---------------------------------------------------------------- */

static void on_security(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_json_payload *p = stasis_message_data(msg);
	struct ast_json *type_json;
	const char *name;
	const prom_rs_core *core;
	intmax_t type;

	if (!p || !p->json || !(type_json = ast_json_object_get(p->json, "SecurityEvent"))) {
		return;
	}
	type = ast_json_integer_get(type_json);
	if (type < 0 || type >= AST_SECURITY_EVENT_NUM_TYPES ||
		!(name = ast_security_event_get_name((enum ast_security_event_type)type))) {
		name = "Unknown";
	}
	if (!(core = prom_shim_acquire())) {
		return;
	}
	prom_rs_security_event(core, prom_json_str(p->json, "Service"), name, prom_msg_ts(msg));
	prom_shim_release();
}

static void on_registry(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_json_payload *p = stasis_message_data(msg);
	const prom_rs_core *core;

	if (!p || !p->json || !(core = prom_shim_acquire())) {
		return;
	}
	prom_rs_outbound_registration(core, prom_json_str(p->json, "channeltype"), prom_json_str(p->json, "username"),
		prom_json_str(p->json, "domain"), prom_json_str(p->json, "status"), prom_msg_ts(msg));
	prom_shim_release();
}

/* ---- subscribe / unsubscribe ----------------------------------------------------------------------------------- */

static struct stasis_message_router *router_new(struct stasis_topic *topic, const char *what)
{
	struct stasis_message_router *r = topic ? stasis_message_router_create_pool(topic) : NULL;

	if (!r) {
		ast_log(LOG_ERROR, "res_prom_rs: cannot subscribe to the %s topic\n", what);
	}
	return r;
}

int prom_events_subscribe(const struct prom_shim_switches *sw)
{
	prom_learned_set_switches(sw);

	if (!(channel_router = router_new(ast_channel_topic_all(), "channel")) ||
		ROUTE(channel_router, ast_channel_snapshot_type, SUB_CHANNELS, on_channel_snapshot) ||
		ROUTE(channel_router, ast_channel_dial_type, SUB_CHANNELS, on_dial)) {
		goto fail;
	}
	if (!(endpoint_router = router_new(ast_endpoint_topic_all(), "endpoint")) ||
		ROUTE(endpoint_router, ast_endpoint_snapshot_type, SUB_ENDPOINTS, on_endpoint_snapshot) ||
		ROUTE(endpoint_router, ast_endpoint_contact_state_type, SUB_ENDPOINTS, on_contact_state) ||
		ROUTE(endpoint_router, ast_endpoint_state_type, SUB_ENDPOINTS, on_endpoint_state)) {
		goto fail;
	}
	if (!(rtp_router = router_new(ast_rtp_topic(), "RTP")) ||
		ROUTE(rtp_router, ast_rtp_rtcp_sent_type, SUB_RTP, on_rtcp) ||
		ROUTE(rtp_router, ast_rtp_rtcp_received_type, SUB_RTP, on_rtcp)) {
		goto fail;
	}
	if (!(bridge_router = router_new(ast_bridge_topic_all(), "bridge")) ||
		ROUTE(bridge_router, ast_bridge_snapshot_type, SUB_BRIDGES, on_bridge_snapshot) ||
		ROUTE(bridge_router, ast_channel_entered_bridge_type, SUB_BRIDGES, on_bridge_enter_leave) ||
		ROUTE(bridge_router, ast_channel_left_bridge_type, SUB_BRIDGES, on_bridge_enter_leave)) {
		goto fail;
	}
	if (!(security_router = router_new(ast_security_topic(), "security")) ||
		ROUTE(security_router, ast_security_event_type, SUB_SECURITY, on_security)) {
		goto fail;
	}
	if (!(system_router = router_new(ast_system_topic(), "system")) ||
		ROUTE(system_router, ast_system_registry_type, SUB_SYSTEM, on_registry)) {
		goto fail;
	}
	if (!(manager_router = router_new(ast_manager_get_topic(), "manager")) ||
		ROUTE(manager_router, ast_manager_get_generic_type, SUB_MANAGER, prom_learned_on_module_event)) {
		goto fail;
	}
	prom_learned_track();
	return 0;

fail:
	prom_events_unsubscribe();
	return -1;
}

void prom_events_unsubscribe(void)
{
	struct stasis_message_router **routers[] = {
		&channel_router, &endpoint_router, &rtp_router, &bridge_router, &security_router, &system_router,
		&manager_router,
	};
	size_t i;

	prom_learned_unsubscribe_all();
	for (i = 0; i < ARRAY_LEN(routers); i++) {
		if (*routers[i]) {
			stasis_message_router_unsubscribe_and_join(*routers[i]);
			*routers[i] = NULL;
		}
	}
}

void prom_events_describe(int fd)
{
	size_t i;

	ast_cli(fd, "Subscriptions:    channels %s, endpoints %s, rtcp %s, bridges %s, security %s, registrations %s\n",
		channel_router ? "on" : "off", endpoint_router ? "on" : "off", rtp_router ? "on" : "off",
		bridge_router ? "on" : "off", security_router ? "on" : "off", system_router ? "on" : "off");
	ast_cli(fd, "Stasis messages: ");
	for (i = 0; i < SUB_COUNT; i++) {
		ast_cli(fd, " %s %llu%s", sub_names[i], (unsigned long long)atomic_load(&handled[i]),
			i + 1 < SUB_COUNT ? "," : "\n");
	}
	prom_learned_describe(fd);
}

/* ---- seeding --------------------------------------------------------------------------------------------------- */

static void seed_channels(const prom_rs_core *core)
{
	struct ao2_container *cache = ast_channel_cache_all();
	struct ao2_iterator it;
	struct ast_channel_snapshot *s;

	if (!cache) {
		return;
	}
	it = ao2_iterator_init(cache, 0);
	while ((s = ao2_iterator_next(&it))) {
		if (!ast_test_flag(&s->flags, AST_FLAG_DEAD)) {
			report_channel_created(core, s);
		}
		ao2_ref(s, -1);
	}
	ao2_iterator_destroy(&it);
	ao2_ref(cache, -1);
}

static void seed_endpoints(const prom_rs_core *core)
{
	struct ao2_container *snapshots;
	struct ao2_iterator it;
	struct stasis_message *msg;

	if (!ast_endpoint_cache() || !ast_endpoint_snapshot_type()) {
		return;
	}
	snapshots = stasis_cache_dump(ast_endpoint_cache(), ast_endpoint_snapshot_type());
	if (!snapshots) {
		return;
	}
	it = ao2_iterator_init(snapshots, 0);
	while ((msg = ao2_iterator_next(&it))) {
		struct ast_endpoint_snapshot *s = stasis_message_data(msg);

		prom_rs_endpoint_state(core, s->tech, s->resource, (int32_t)s->state, s->num_channels, prom_msg_ts(msg));
		ao2_ref(msg, -1);
	}
	ao2_iterator_destroy(&it);
	ao2_ref(snapshots, -1);
}

static void seed_bridges(const prom_rs_core *core)
{
	struct ao2_container *bridges = ast_bridges();
	struct ao2_iterator it;
	struct ast_bridge *bridge;
	int64_t now = prom_shim_now_us();

	if (!bridges) {
		return;
	}
	it = ao2_iterator_init(bridges, 0);
	while ((bridge = ao2_iterator_next(&it))) {
		struct ast_bridge_snapshot *s = ast_bridge_get_snapshot(bridge);

		if (s) {
			report_bridge(core, s, now);
			ao2_ref(s, -1);
		}
		ao2_ref(bridge, -1);
	}
	ao2_iterator_destroy(&it);
	ao2_ref(bridges, -1);
}

/* Runs after subscribing, so nothing falls between the seed and the first event; the core ignores a second creation
 * of a channel or bridge it already knows, and endpoint states are idempotent. */
void prom_events_seed(void)
{
	const prom_rs_core *core = prom_shim_acquire();

	if (!core) {
		return;
	}
	seed_channels(core);
	seed_endpoints(core);
	seed_bridges(core);
	prom_shim_release();
}
