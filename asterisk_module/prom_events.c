/* prom_events.c - Stasis messages in, C ABI events out.
 *
 * One route table (`subscriptions` below) describes every subscription: its name, its topic, the message types it
 * routes and their handlers, or the types it learns by name (prom_learned.c), and the collector switch it follows.
 * Subscribing, unsubscribing, the CLI description and the message counts are all derived from it.
 *
 * Every routed subscription filters on the message types it handles (a NULL type is never accepted: it would silently
 * turn the filter off). Each handler reads a few fields of the message, loads the core handle (one atomic load, no
 * lock: prom_core_acquire) and makes one or two C ABI calls, which are O(1) and never block.
 *
 * Callbacks run on the Stasis threadpool (pool subscriptions: no thread of their own to wake per message).
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

static void hint_learned(const char *appl);

/* ---- channels -------------------------------------------------------------------------------------------------- */

static void report_channel_created(const prom_rs_core *core, const struct ast_channel_snapshot *s)
{
	char endpoint[AST_CHANNEL_NAME];

	prom_endpoint_of(s->base->name, endpoint, sizeof endpoint);
	prom_rs_channel_created(core, s->base->uniqueid, s->base->type, endpoint, (int32_t)s->state,
		prom_tv_us(&s->base->creationtime));
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
		hint_learned(n->dialplan->appl);
	}
	if (!(core = prom_core_acquire())) {
		return;
	}
	if (!o) {
		report_channel_created(core, n);
	}
	if (ast_test_flag(&n->flags, AST_FLAG_DEAD)) {
		prom_rs_channel_hangup(core, n->base->uniqueid, n->base->type, n->hangup ? n->hangup->cause : 0,
			prom_tv_us(&n->base->creationtime), prom_msg_ts(msg));
	} else if (o && o->state != n->state) {
		prom_rs_channel_state(core, n->base->uniqueid, (int32_t)n->state, prom_msg_ts(msg));
	}
	prom_core_release();
}

static void on_dial(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_multi_channel_blob *blob = stasis_message_data(msg);
	const char *status = prom_json_str(ast_multi_channel_blob_get_json(blob), "dialstatus");
	const prom_rs_core *core;

	/* A Dial begin carries no status; only the end (ANSWER, BUSY, ...) is a result. */
	if (!*status || !(core = prom_core_acquire())) {
		return;
	}
	prom_rs_dial_result(core, status, prom_msg_ts(msg));
	prom_core_release();
}

/* ---- endpoints ------------------------------------------------------------------------------------------------- */

static void on_endpoint_snapshot(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_endpoint_snapshot *s = stasis_message_data(msg);
	const prom_rs_core *core;

	if (!s || !(core = prom_core_acquire())) {
		return;
	}
	prom_rs_endpoint_state(core, s->tech, s->resource, (int32_t)s->state, s->num_channels, prom_msg_ts(msg));
	prom_core_release();
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
	if (!(core = prom_core_acquire())) {
		return;
	}
	prom_rs_endpoint_contact(core, b->snapshot->tech, *name ? name : b->snapshot->resource, status, rtt_us,
		prom_msg_ts(msg));
	prom_core_release();
}

/* Peer status of the whole endpoint (PJSIP: Reachable/Unreachable; other drivers: Registered, Lagged ...).
 * chan_sip adds the qualify round trip to Reachable and Lagged as an integer "time" in milliseconds (and the
 * string "-1" to Unreachable, which is not a round trip). */
static void on_endpoint_state(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_endpoint_blob *b = stasis_message_data(msg);
	struct ast_json *t;
	const char *status;
	const prom_rs_core *core;
	int64_t rtt_us = -1;

	if (!b || !b->snapshot || !b->blob || !*(status = prom_json_str(b->blob, "peer_status"))) {
		return;
	}
	t = ast_json_object_get(b->blob, "time");
	if (t && ast_json_typeof(t) == AST_JSON_INTEGER && ast_json_integer_get(t) >= 0) {
		rtt_us = (int64_t)ast_json_integer_get(t) * 1000;
	}
	if (!(core = prom_core_acquire())) {
		return;
	}
	prom_rs_endpoint_contact(core, b->snapshot->tech, b->snapshot->resource, status, rtt_us, prom_msg_ts(msg));
	prom_core_release();
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
		prom_endpoint_of(p->snapshot->base->name, endpoint, sizeof endpoint);
	}
	if (!(core = prom_core_acquire())) {
		return;
	}
	prom_rs_rtcp_report(core, p->snapshot ? p->snapshot->base->type : "", endpoint, direction,
		block->ia_jitter / RTP_CLOCK_HZ, block->lost_count.fraction / 256.0, rtt, mes, prom_msg_ts(msg));
	prom_core_release();
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

	if (!(o || n) || !(core = prom_core_acquire())) {
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
	prom_core_release();
}

static void on_bridge_enter_leave(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_bridge_blob *b = stasis_message_data(msg);
	const prom_rs_core *core;

	if (!b || !b->bridge || !b->channel || !(core = prom_core_acquire())) {
		return;
	}
	if (stasis_message_type(msg) == ast_channel_entered_bridge_type()) {
		prom_rs_bridge_enter(core, b->bridge->uniqueid, b->channel->base->uniqueid, prom_msg_ts(msg));
	} else {
		prom_rs_bridge_leave(core, b->bridge->uniqueid, b->channel->base->uniqueid, prom_msg_ts(msg));
	}
	prom_core_release();
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
	if (!(core = prom_core_acquire())) {
		return;
	}
	prom_rs_security_event(core, prom_json_str(p->json, "Service"), name, prom_msg_ts(msg));
	prom_core_release();
}

static void on_registry(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_json_payload *p = stasis_message_data(msg);
	const prom_rs_core *core;

	if (!p || !p->json || !(core = prom_core_acquire())) {
		return;
	}
	prom_rs_outbound_registration(core, prom_json_str(p->json, "channeltype"), prom_json_str(p->json, "username"),
		prom_json_str(p->json, "domain"), prom_json_str(p->json, "status"), prom_msg_ts(msg));
	prom_core_release();
}

/* ---- app_queue, ConfBridge and module loads -------------------------------------------------------------------- */

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

/* app_queue and app_confbridge keep their message types private: their names (the order is the `kind` the C ABI
 * takes), the application that publishes them, and how wide the subscription is while it learns. */
static const struct prom_learned_spec queue_spec = {
	.module = "app_queue.so",
	.what = "app_queue callers",
	.prefix = "queue_caller_",
	.names = {"queue_caller_join_type", "queue_caller_leave_type", "queue_caller_abandon_type"},
	.n_types = 3,
	.app = "Queue",
	.wide_formatters = STASIS_SUBSCRIPTION_FORMATTER_AMI, /* as the AMI subscribes: only messages it would show */
	.deliver = deliver_queue,
};

static const struct prom_learned_spec confbridge_spec = {
	.module = "app_confbridge.so",
	.what = "ConfBridge",
	.prefix = "confbridge_",
	.names = {"confbridge_start_type", "confbridge_end_type", "confbridge_join_type", "confbridge_leave_type"},
	.n_types = 4,
	.app = "ConfBridge",
	.wide_formatters = STASIS_SUBSCRIPTION_FORMATTER_NONE,
	.deliver = deliver_confbridge,
};

static struct prom_learned queue_learned = PROM_LEARNED_INIT;
static struct prom_learned confbridge_learned = PROM_LEARNED_INIT;

static void on_module_event(void *data, struct stasis_subscription *sub, struct stasis_message *msg);

/* ---- the route table ------------------------------------------------------------------------------------------- */

#define MAX_ROUTES 3

struct route {
	struct stasis_message_type *(*type)(void);
	const char *type_name;
	stasis_subscription_cb handler;
};

#define ROUTE(type_fn, handler) { type_fn, #type_fn, handler }

struct subscription {
	const char *name;                      /* in the CLI */
	struct stasis_topic *(*topic)(void);
	const char *topic_name;                /* in log messages */
	struct route routes[MAX_ROUTES];       /* a routed subscription: the message types it accepts, their handlers */
	const struct prom_learned_spec *learn; /* or one that learns its types by name (prom_learned.c) ... */
	struct prom_learned *learned;          /* ... and its state */
	/* The collector switch (a core key) it follows. Only the learned subscriptions have one: the routed ones stay
	 * subscribed whatever the switches (the core drops what a switched-off collector would count), as the channel
	 * snapshots also drive the learned subscriptions' hints. */
	const char *switch_key;
	int unlisted;                          /* serves the others: not on the CLI's "Subscriptions:" line */
};

/* Indexed by enum prom_sub (prom_util.h), which also indexes the message counts. */
static const struct subscription subscriptions[SUB_COUNT] = {
	[SUB_CHANNELS] = { .name = "channels", .topic = ast_channel_topic_all, .topic_name = "channel",
		.routes = { ROUTE(ast_channel_snapshot_type, on_channel_snapshot),
			ROUTE(ast_channel_dial_type, on_dial) } },
	[SUB_ENDPOINTS] = { .name = "endpoints", .topic = ast_endpoint_topic_all, .topic_name = "endpoint",
		.routes = { ROUTE(ast_endpoint_snapshot_type, on_endpoint_snapshot),
			ROUTE(ast_endpoint_contact_state_type, on_contact_state),
			ROUTE(ast_endpoint_state_type, on_endpoint_state) } },
	[SUB_RTP] = { .name = "rtcp", .topic = ast_rtp_topic, .topic_name = "RTP",
		.routes = { ROUTE(ast_rtp_rtcp_sent_type, on_rtcp), ROUTE(ast_rtp_rtcp_received_type, on_rtcp) } },
	[SUB_BRIDGES] = { .name = "bridges", .topic = ast_bridge_topic_all, .topic_name = "bridge",
		.routes = { ROUTE(ast_bridge_snapshot_type, on_bridge_snapshot),
			ROUTE(ast_channel_entered_bridge_type, on_bridge_enter_leave),
			ROUTE(ast_channel_left_bridge_type, on_bridge_enter_leave) } },
	[SUB_SECURITY] = { .name = "security", .topic = ast_security_topic, .topic_name = "security",
		.routes = { ROUTE(ast_security_event_type, on_security) } },
	[SUB_SYSTEM] = { .name = "registrations", .topic = ast_system_topic, .topic_name = "system",
		.routes = { ROUTE(ast_system_registry_type, on_registry) } },
	[SUB_MANAGER] = { .name = "module events", .topic = ast_manager_get_topic, .topic_name = "manager",
		.routes = { ROUTE(ast_manager_get_generic_type, on_module_event) }, .unlisted = 1 },
	[SUB_QUEUE] = { .name = "app_queue", .topic = ast_channel_topic_all, .topic_name = "channel",
		.learn = &queue_spec, .learned = &queue_learned, .switch_key = "queues" },
	[SUB_CONFBRIDGE] = { .name = "ConfBridge", .topic = ast_bridge_topic_all, .topic_name = "bridge",
		.learn = &confbridge_spec, .learned = &confbridge_learned, .switch_key = "bridges" },
};

#define FOR_EACH_SUBSCRIPTION(i, s) for ((i) = 0, (s) = subscriptions; (i) < SUB_COUNT; (i)++, (s)++)

/* The subscriptions whose types are learned: for the hints from channel snapshots and the loader's announcements. */
static void hint_learned(const char *appl)
{
	const struct subscription *s;
	int i;

	FOR_EACH_SUBSCRIPTION(i, s) {
		if (s->learned) {
			prom_learned_hint(s->learned, appl);
		}
	}
}

/* The loader announces every module load and unload (an AMI event on the manager topic). */
static void on_module_event(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_json_payload *p = stasis_message_data(msg);
	const struct subscription *s;
	const char *type, *module;
	int i;

	if (!p || !p->json) {
		return;
	}
	type = prom_json_str(p->json, "type");
	if (strcmp(type, "Load") && strcmp(type, "Unload")) {
		return;
	}
	module = prom_json_str(ast_json_object_get(p->json, "event"), "Module");
	FOR_EACH_SUBSCRIPTION(i, s) {
		if (s->learned) {
			prom_learned_module_event(s->learned, module);
		}
	}
}

void prom_events_track(void)
{
	int64_t now = prom_now_us();
	const struct subscription *s;
	int i;

	FOR_EACH_SUBSCRIPTION(i, s) {
		if (s->learned) {
			prom_learned_track(s->learned, now);
		}
	}
}

/* ---- subscribe / unsubscribe / describe, from the table -------------------------------------------------------- */

static struct stasis_message_router *routers[SUB_COUNT];

/* What a routed message's callback gets: the handler and the subscription to count it for. Filled from the table
 * before the router exists (load runs alone), read by the callbacks afterwards. */
struct route_ctx {
	stasis_subscription_cb handler;
	enum prom_sub sub;
};
static struct route_ctx route_ctxs[SUB_COUNT][MAX_ROUTES];

static void counted(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct route_ctx *r = data;

	prom_count(r->sub);
	r->handler(NULL, sub, msg);
}

/* Adds a route, refusing a NULL type (which stasis would take as "accept everything"). */
static int add_route(struct stasis_message_router *router, const struct route *rt, struct route_ctx *ctx)
{
	struct stasis_message_type *type = rt->type();

	if (!type) {
		ast_log(LOG_WARNING, "res_prom_rs: message type %s is not available (declined in stasis.conf?); its "
			"events are not counted\n", rt->type_name);
		return 0;
	}
	if (stasis_message_router_add(router, type, counted, ctx)) {
		ast_log(LOG_ERROR, "res_prom_rs: cannot route message type %s\n", rt->type_name);
		return -1;
	}
	return 0;
}

static int subscribe_routed(const struct subscription *s, enum prom_sub id)
{
	struct stasis_topic *topic = s->topic();
	int j;

	if (!(routers[id] = topic ? stasis_message_router_create_pool(topic) : NULL)) {
		ast_log(LOG_ERROR, "res_prom_rs: cannot subscribe to the %s topic\n", s->topic_name);
		return -1;
	}
	for (j = 0; j < MAX_ROUTES && s->routes[j].type; j++) {
		route_ctxs[id][j] = (struct route_ctx){ s->routes[j].handler, id };
		if (add_route(routers[id], &s->routes[j], &route_ctxs[id][j])) {
			return -1;
		}
	}
	return 0;
}

void prom_events_set_switches(const prom_rs_config *cfg)
{
	const struct subscription *s;
	char msg[256];
	int i;

	FOR_EACH_SUBSCRIPTION(i, s) {
		int64_t on = 1;

		if (!s->switch_key) {
			continue;
		}
		if (prom_rs_config_get_int(cfg, s->switch_key, &on) != PROM_RS_OK) {
			prom_rs_last_error(msg, sizeof msg);
			ast_log(LOG_WARNING, "res_prom_rs: %s stays on: %s\n", s->name, msg);
		}
		if (s->learned) {
			prom_learned_want(s->learned, on != 0);
		}
	}
}

int prom_events_subscribe(const prom_rs_config *cfg)
{
	const struct subscription *s;
	int i;

	FOR_EACH_SUBSCRIPTION(i, s) {
		if (s->learned) {
			prom_learned_init(s->learned, s->learn, s->topic, i);
		}
	}
	prom_events_set_switches(cfg);
	FOR_EACH_SUBSCRIPTION(i, s) {
		if (!s->learned && subscribe_routed(s, i)) {
			prom_events_unsubscribe();
			return -1;
		}
	}
	/* The learned ones subscribe now rather than at the sampler's first run. */
	prom_events_track();
	return 0;
}

/* In the reverse of the table's order: the learned subscriptions go before the channel and manager subscriptions
 * that hint and restart them. */
void prom_events_unsubscribe(void)
{
	int i;

	for (i = SUB_COUNT - 1; i >= 0; i--) {
		if (subscriptions[i].learned) {
			prom_learned_unsubscribe(subscriptions[i].learned);
		} else if (routers[i]) {
			stasis_message_router_unsubscribe_and_join(routers[i]);
			routers[i] = NULL;
		}
	}
}

void prom_events_describe(int fd)
{
	const struct subscription *s;
	char line[256], label[32];
	size_t n = 0;
	int i;

	FOR_EACH_SUBSCRIPTION(i, s) {
		if (!s->learned && !s->unlisted && n < sizeof line) {
			n += snprintf(line + n, sizeof line - n, "%s %s %s", n ? "," : "", s->name, routers[i] ? "on" : "off");
		}
	}
	ast_cli(fd, "Subscriptions:   %s\n", line);
	ast_cli(fd, "Stasis messages: ");
	FOR_EACH_SUBSCRIPTION(i, s) {
		ast_cli(fd, " %s %llu%s", s->name, prom_count_get(i), i + 1 < SUB_COUNT ? "," : "\n");
	}
	FOR_EACH_SUBSCRIPTION(i, s) {
		if (s->learned) {
			snprintf(label, sizeof label, "%s:", s->name);
			prom_learned_describe(s->learned, fd, label);
		}
	}
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
	int64_t now = prom_now_us();

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
	const prom_rs_core *core = prom_core_acquire();

	if (!core) {
		return;
	}
	seed_channels(core);
	seed_endpoints(core);
	seed_bridges(core);
	prom_core_release();
}
