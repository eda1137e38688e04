/* prom_rs_mod.c - Kamailio module descriptor of prom_rs.so: modparams, mod_init, child_init, the prom_rs.status RPC.
 *
 * Every key of the core's configuration is a modparam of its own (`modparam("prom_rs", "port", 9102)`), handed to
 * the core with prom_rs_config_set() the moment Kamailio parses the line: a refused value makes the modparam fail,
 * so Kamailio stops at startup with its file/line message after ours, which names the key and what is allowed.
 * Kamailio's param callback is not told which parameter it serves, so each key gets a small trampoline.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <unistd.h>

#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/pt.h"
#include "core/cfg/cfg_struct.h"
#include "core/mem/shm_mem.h"
#include "core/rpc.h"

#include "prom_rs_kam.h"

MODULE_VERSION

prom_rs_config *prom_rs_kam_cfg;
int64_t prom_rs_kam_sample_ms = 1000;
struct prom_rs_kam_shared *prom_rs_kam_shm;

/* Every key of the core (src/config/mod.rs KEYS, buckets.FAMILY once per histogram family), then the spellings of
 * OpenSIPS's prometheus module for the statistics keys, then `set` ("KEY=VALUE", for any key). tests/kamailio
 * checks this list against the core's. Keys added later follow `set` (the numbers only name the trampolines). */
#define PROM_RS_KAM_KEYS(X) \
	X(0, "enabled") X(1, "bindaddr") X(2, "port") X(3, "uri") X(4, "auth_username") X(5, "auth_password") \
	X(6, "tls_cert") X(7, "tls_key") X(8, "labels") X(9, "max_series_per_family") X(10, "sample_interval") \
	X(11, "channels") X(12, "endpoints") X(13, "rtcp") X(14, "bridges") X(15, "queues") X(16, "security") \
	X(17, "codecs") X(18, "channel_detail") X(19, "phone_fleet") X(20, "trace_file") \
	X(21, "vicidial.enabled") X(22, "vicidial.host") X(23, "vicidial.port") X(24, "vicidial.socket") \
	X(25, "vicidial.user") X(26, "vicidial.password") X(27, "vicidial.database") X(28, "vicidial.interval") \
	X(29, "vicidial.connect_timeout") X(30, "vicidial.query_timeout") X(31, "vicidial.server_ip") \
	X(32, "fail2ban.enabled") X(33, "fail2ban.interval") \
	X(34, "stats.prefix") X(35, "stats.group_mode") X(36, "stats.statistics") \
	X(37, "buckets.asterisk_channel_duration_seconds") X(38, "buckets.asterisk_channel_answered_duration_seconds") \
	X(39, "buckets.asterisk_rtcp_jitter_seconds") X(40, "buckets.asterisk_rtcp_packet_loss_ratio") \
	X(41, "buckets.asterisk_rtcp_rtt_seconds") X(42, "buckets.asterisk_rtcp_mes") \
	X(43, "buckets.asterisk_queue_wait_seconds") X(44, "buckets.prom_rs_scrape_duration_seconds") \
	X(45, "statistics") X(46, "prefix") X(47, "group_mode") X(48, "set") \
	X(49, "fail2ban.socket") X(50, "fail2ban.jails") \
	X(51, "auth_password_hash") X(52, "acl") X(53, "tls_client_ca") X(54, "tls_client_auth") \
	X(55, "tls_min_version")

/* Defaults of this host, applied in mod_init to the keys no modparam set (the core refuses a key set twice). */
static const char *const host_defaults[][2] = {
	{"stats.prefix", "kamailio"},
	{"stats.group_mode", "1"},
	{"stats.statistics", "all"},
	{"sample_interval", "1s"},
};

#define N_HOST_DEFAULTS (sizeof(host_defaults) / sizeof(host_defaults[0]))

/* Which host defaults a modparam replaced. */
static int default_overridden[N_HOST_DEFAULTS];

/* The `statistics` lines seen so far: like OpenSIPS's, each line adds to the selection, which is handed to the
 * core once, in mod_init (each line is checked on its own when it is parsed). */
static char *statistics_acc;

static void note_set(const char *core_key)
{
	size_t i;

	for (i = 0; i < N_HOST_DEFAULTS; i++) {
		if (!strcasecmp(core_key, host_defaults[i][0])) {
			default_overridden[i] = 1;
		}
	}
}

static int ensure_config(void)
{
	if (prom_rs_kam_cfg) {
		return 0;
	}
	if (prom_rs_config_new(&prom_rs_kam_cfg) != PROM_RS_OK) {
		LM_ERR("cannot create the configuration (out of memory?)\n");
		prom_rs_kam_cfg = NULL;
		return -1;
	}
	return 0;
}

/* In mod_init, after every modparam: the accumulated statistics selection, then the host defaults no modparam
 * replaced. */
static int finish_config(void)
{
	size_t i;
	char err[512];

	if (statistics_acc) {
		if (prom_rs_config_set(prom_rs_kam_cfg, "stats.statistics", statistics_acc) != PROM_RS_OK) {
			prom_rs_last_error(err, sizeof(err));
			LM_ERR("modparam \"statistics\": %s\n", err);
			return -1;
		}
		note_set("stats.statistics");
	}
	for (i = 0; i < N_HOST_DEFAULTS; i++) {
		if (default_overridden[i]) {
			continue;
		}
		if (prom_rs_config_set(prom_rs_kam_cfg, host_defaults[i][0], host_defaults[i][1]) != PROM_RS_OK) {
			prom_rs_last_error(err, sizeof(err));
			LM_ERR("the core refused this host's default %s = %s: %s\n", host_defaults[i][0],
				host_defaults[i][1], err);
			return -1;
		}
	}
	return 0;
}

/* A duration as the core accepts it ("500ms", "5s", "2m", "1h", bare seconds); the core has validated it. */
static int64_t duration_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	while (isspace((unsigned char)*end)) {
		end++;
	}
	if (!strncasecmp(end, "ms", 2)) {
		return (int64_t)v;
	} else if (*end == 'm' || *end == 'M') {
		return (int64_t)(v * 60000);
	} else if (*end == 'h' || *end == 'H') {
		return (int64_t)(v * 3600000);
	}
	return (int64_t)(v * 1000);
}

/* Hands one modparam to CFG (the configuration, or a scratch one that only checks a value). */
static int core_set_in(prom_rs_config *cfg, const char *shown, const char *key, const char *value)
{
	char err[1024];

	if (prom_rs_config_set(cfg, key, value) == PROM_RS_OK) {
		if (cfg == prom_rs_kam_cfg) {
			note_set(key);
		}
		return 0;
	}
	if (!prom_rs_last_error(err, sizeof(err))) {
		snprintf(err, sizeof(err), "refused");
	}
	if (strcmp(shown, key)) {
		LM_ERR("modparam \"%s\": %s\n", shown, err);
	} else {
		LM_ERR("modparam: %s\n", err);
	}
	return -1;
}

static int core_set(const char *shown, const char *key, const char *value)
{
	return core_set_in(prom_rs_kam_cfg, shown, key, value);
}

/* Checks one `statistics` line on its own, so a bad one is refused at its own line. */
static int check_statistics(const char *shown, const char *value)
{
	prom_rs_config *scratch = NULL;
	int rc;

	if (prom_rs_config_new(&scratch) != PROM_RS_OK) {
		LM_ERR("modparam \"%s\": out of memory\n", shown);
		return -1;
	}
	rc = core_set_in(scratch, shown, "stats.statistics", value);
	prom_rs_config_free(scratch);
	return rc;
}

static int set_key(const char *key, const char *value)
{
	if (!strcasecmp(key, "statistics") || !strcasecmp(key, "stats.statistics")) {
		size_t old = statistics_acc ? strlen(statistics_acc) : 0;
		char *next = malloc(old + strlen(value) + 2);

		if (!next) {
			LM_ERR("modparam \"%s\": out of memory\n", key);
			return -1;
		}
		snprintf(next, old + strlen(value) + 2, "%s%s%s", old ? statistics_acc : "", old ? " " : "", value);
		if (check_statistics(key, value)) {
			free(next);
			return -1;
		}
		free(statistics_acc);
		statistics_acc = next;
		return 0;
	}
	if (!strcasecmp(key, "prefix")) {
		return core_set(key, "stats.prefix", value);
	}
	if (!strcasecmp(key, "group_mode")) {
		return core_set(key, "stats.group_mode", value);
	}
	if (core_set(key, key, value)) {
		return -1;
	}
	if (!strcasecmp(key, "sample_interval")) {
		prom_rs_kam_sample_ms = duration_ms(value);
	}
	return 0;
}

/* The "set" modparam: one KEY=VALUE pair. */
static int set_pair(const char *pair)
{
	char key[128];
	const char *eq = strchr(pair, '=');
	size_t n;

	while (isspace((unsigned char)*pair)) {
		pair++;
	}
	if (!eq || eq == pair) {
		LM_ERR("modparam \"set\": \"%s\" is not KEY=VALUE; write e.g. modparam(\"prom_rs\", \"set\", \"port=9102\")\n",
			pair);
		return -1;
	}
	n = (size_t)(eq - pair);
	while (n > 0 && isspace((unsigned char)pair[n - 1])) {
		n--;
	}
	if (n >= sizeof(key)) {
		LM_ERR("modparam \"set\": the key of \"%s\" is longer than %zu characters\n", pair, sizeof(key) - 1);
		return -1;
	}
	memcpy(key, pair, n);
	key[n] = '\0';
	if (!strcasecmp(key, "set")) {
		LM_ERR("modparam \"set\": \"set\" cannot set itself; write KEY=VALUE with a configuration key\n");
		return -1;
	}
	return set_key(key, eq + 1);
}

static int on_param(const char *key, modparam_t type, void *val)
{
	char num[32];
	const char *value;

	if (ensure_config()) {
		return -1;
	}
	if (PARAM_TYPE_MASK(type) == PARAM_INT) {
		snprintf(num, sizeof(num), "%d", (int)(long)val);
		value = num;
	} else {
		value = val ? (const char *)val : "";
	}
	if (!strcmp(key, "set")) {
		return set_pair(value) ? -1 : 0;
	}
	return set_key(key, value) ? -1 : 0;
}

#define PROM_RS_KAM_TRAMPOLINE(i, name) \
	static int set_param_##i(modparam_t type, void *val) \
	{ \
		return on_param(name, type, val); \
	}
PROM_RS_KAM_KEYS(PROM_RS_KAM_TRAMPOLINE)

/* Each key twice: a quoted value arrives as PARAM_STRING, a bare number as PARAM_INT. */
#define PROM_RS_KAM_PARAM(i, name) \
	{name, PARAM_STRING | PARAM_USE_FUNC, (void *)set_param_##i}, \
	{name, PARAM_INT | PARAM_USE_FUNC, (void *)set_param_##i},

/* The routing script's metrics (prom_rs_script.c): declarations in xhttp_prom's syntax, and how long an idle label
 * set is kept. */
#define PROM_RS_KAM_SCRIPT_PARAMS \
	{"counter", PARAM_STRING | PARAM_USE_FUNC, (void *)prom_rs_kam_param_counter}, \
	{"gauge", PARAM_STRING | PARAM_USE_FUNC, (void *)prom_rs_kam_param_gauge}, \
	{"histogram", PARAM_STRING | PARAM_USE_FUNC, (void *)prom_rs_kam_param_histogram}, \
	{"script_timeout", PARAM_STRING | PARAM_USE_FUNC, (void *)prom_rs_kam_param_timeout}, \
	{"script_timeout", PARAM_INT | PARAM_USE_FUNC, (void *)prom_rs_kam_param_timeout},

static param_export_t params[] = {PROM_RS_KAM_KEYS(PROM_RS_KAM_PARAM) PROM_RS_KAM_SCRIPT_PARAMS{0, 0, 0}};

/* ---- prom_rs.status ------------------------------------------------------------------------------------------- */

static const char *status_doc[] = {"Print the exporter's status: listen address, series, last scrape, collectors.",
	0};

static void rpc_status(rpc_t *rpc, void *ctx)
{
	static char copy[PROM_RS_KAM_STATUS_LEN];
	unsigned int s1, s2;
	int64_t updated = 0;
	int tries;
	char *line, *save = NULL;

	if (!prom_rs_kam_shm) {
		rpc->fault(ctx, 500, "prom_rs is not initialized");
		return;
	}
	for (tries = 0; tries < 1000; tries++) {
		s1 = atomic_load_explicit(&prom_rs_kam_shm->seq, memory_order_acquire);
		if (s1 & 1) {
			usleep(100);
			continue;
		}
		memcpy(copy, prom_rs_kam_shm->text, sizeof(copy));
		updated = prom_rs_kam_shm->updated_us;
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&prom_rs_kam_shm->seq, memory_order_relaxed);
		if (s1 == s2) {
			break;
		}
	}
	if (tries == 1000) {
		rpc->fault(ctx, 503, "prom_rs status is being rewritten; try again");
		return;
	}
	copy[sizeof(copy) - 1] = '\0';
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		rpc->add(ctx, "s", line);
	}
	if (updated > 0) {
		char when[96];
		double age = (double)(prom_rs_kam_now_us() - updated) / 1e6;

		snprintf(when, sizeof(when), "Status written:   %.1f s ago by pid %d (core process), supervisor pid %d",
			age < 0 ? 0.0 : age, atomic_load(&prom_rs_kam_shm->core_pid),
			atomic_load(&prom_rs_kam_shm->supervisor_pid));
		rpc->add(ctx, "s", when);
	}
}

static rpc_export_t rpc_methods[] = {
	{"prom_rs.status", rpc_status, status_doc, 0},
	{0, 0, 0, 0},
};

/* ---- lifecycle ------------------------------------------------------------------------------------------------ */

static int mod_init(void)
{
	char err[1024];

	if (ensure_config() || finish_config()) {
		return -1;
	}
	/* The keys that only make sense together (auth_username with auth_password, ...): refused now, at startup. */
	if (prom_rs_config_check(prom_rs_kam_cfg) != PROM_RS_OK) {
		prom_rs_last_error(err, sizeof(err));
		LM_ERR("configuration refused: %s\n", err);
		return -1;
	}
	if (prom_rs_kam_script_init(prom_rs_kam_cfg)) {
		return -1;
	}
	prom_rs_kam_shm = shm_malloc(sizeof(*prom_rs_kam_shm));
	if (!prom_rs_kam_shm) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(prom_rs_kam_shm, 0, sizeof(*prom_rs_kam_shm));
	snprintf(prom_rs_kam_shm->text, sizeof(prom_rs_kam_shm->text), "Exporter process: not started yet\n");
	/* One process of our own, forked in child_init(PROC_MAIN): the Rust core never runs in a SIP worker, and no
	 * thread is started before Kamailio forks them. */
	register_procs(1);
	cfg_register_child(1);
	return 0;
}

static int child_init(int rank)
{
	int pid;

	if (rank != PROC_MAIN) {
		return 0;
	}
	pid = fork_process(PROC_NOCHLDINIT, "prom_rs exporter", 1);
	if (pid < 0) {
		LM_ERR("cannot fork the exporter process\n");
		return -1;
	}
	if (pid == 0) {
		/* The exporter process: never returns (and never exits before Kamailio tells it to). */
		if (cfg_child_init()) {
			LM_ERR("cfg_child_init failed in the exporter process; log settings changed at run time will not "
			       "apply to it\n");
		}
		prom_rs_kam_supervise();
	}
	return 0;
}

static void mod_destroy(void)
{
	/* Kamailio cannot unload modules: this runs once, in the main process at shutdown. */
	prom_rs_config_free(prom_rs_kam_cfg);
	prom_rs_kam_cfg = NULL;
	free(statistics_acc);
	statistics_acc = NULL;
	prom_rs_kam_script_destroy();
}

struct module_exports exports = {
	"prom_rs",       /* module name */
	DEFAULT_DLFLAGS, /* dlopen flags */
	prom_rs_kam_cmds, /* script functions (prom_rs_script.c) */
	params,          /* modparams */
	rpc_methods,     /* RPC methods */
	0,               /* pseudo-variables */
	0,               /* response function */
	mod_init,        /* module init */
	child_init,      /* per-child init */
	mod_destroy,     /* destroy */
};
