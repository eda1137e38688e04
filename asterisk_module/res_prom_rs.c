/* res_prom_rs.c - Asterisk module: a Prometheus exporter computed from Stasis events inside Asterisk.
 *
 * The work is done by the res_prom_rs core (Rust, linked in as a static library, driven through the C ABI of
 * include/res_prom_rs.h). This file is the thin Asterisk side: the module descriptor, res_prom_rs.conf handed to the
 * core key by key, the core's log lines into Asterisk's logger, the `prom_rs show status` CLI command, and the
 * order in which things start and stop. Stasis subscriptions are in prom_events.c, the sampler in prom_sampler.c
 * (prom_shim.h shows how the files call each other). What the shim itself needs of the configuration (the sample
 * interval, the collector switches) it reads back from the core with prom_rs_config_get_int, never from the text.
 *
 * Lifecycle: load = configure, start the core (it binds the scrape port), subscribe, seed, start the sampler.
 * unload = unsubscribe and join every subscription, stop and join the sampler, stop the core (joins its threads,
 * closes the port), and only then return.
 *
 * The library stays mapped after `module unload` (linked with -z nodelete): Rust code registers thread-local
 * destructors in the threads that call it, Asterisk's own threads included, and glibc keeps such a library mapped
 * anyway until those threads end. Made deterministic, this means the loader keeps the module registered and a later
 * `module load` calls load_module() again in the same mapping; see balance_loader_handle().
 */

/*** MODULEINFO
	<support_level>extended</support_level>
 ***/

#include "asterisk.h"

#include <dlfcn.h>
#include <string.h>

#include "asterisk/cli.h"
#include "asterisk/config.h"
#include "asterisk/logger.h"
#include "asterisk/module.h"
#include "asterisk/utils.h"

#include "prom_shim.h"

#define CONFIG_FILE "res_prom_rs.conf"
#define DEFAULT_SAMPLE_INTERVAL_MS 5000

/* ---- logging --------------------------------------------------------------------------------------------------- */

/* Called by the core from any thread, its own included; `level` 1 error, 2 warning, 3 notice, 4 debug. */
static void core_log(int32_t level, const char *message, void *userdata)
{
	switch (level) {
	case 1:
		ast_log(LOG_ERROR, "res_prom_rs: %s\n", message);
		break;
	case 2:
		ast_log(LOG_WARNING, "res_prom_rs: %s\n", message);
		break;
	case 3:
		ast_log(LOG_NOTICE, "res_prom_rs: %s\n", message);
		break;
	default:
		ast_debug(1, "res_prom_rs: %s\n", message);
		break;
	}
}

static const char *core_error(prom_rs_result r, char *buf, size_t len)
{
	if (!prom_rs_last_error(buf, len)) {
		ast_copy_string(buf, prom_rs_strerror(r), len);
	}
	return buf;
}

/* ---- configuration --------------------------------------------------------------------------------------------- */

/* Reads res_prom_rs.conf into a new core configuration: every key of [general] as is, every other section's keys as
 * `section.key`. Returns the configuration, or NULL after logging why (the file's line and the core's message). A
 * missing file means the defaults. */
static prom_rs_config *read_config(void)
{
	struct ast_flags flags = { 0 };
	struct ast_config *cfg;
	prom_rs_config *out = NULL;
	const char *cat = NULL;
	char msg[512];
	prom_rs_result r;

	if ((r = prom_rs_config_new(&out)) != PROM_RS_OK) {
		ast_log(LOG_ERROR, "res_prom_rs: %s\n", core_error(r, msg, sizeof msg));
		return NULL;
	}
	cfg = ast_config_load2(CONFIG_FILE, AST_MODULE, flags);
	if (!cfg) {
		ast_log(LOG_NOTICE, "res_prom_rs: %s not found; using the defaults (http://127.0.0.1:9101/metrics)\n",
			CONFIG_FILE);
		return out;
	}
	if (cfg == CONFIG_STATUS_FILEINVALID) {
		ast_log(LOG_ERROR, "res_prom_rs: %s cannot be parsed\n", CONFIG_FILE);
		prom_rs_config_free(out);
		return NULL;
	}
	while ((cat = ast_category_browse(cfg, cat))) {
		const struct ast_variable *v;
		int general = !strcasecmp(cat, "general");

		for (v = ast_variable_browse(cfg, cat); v; v = v->next) {
			char key[256];

			if (general) {
				ast_copy_string(key, v->name, sizeof key);
			} else {
				snprintf(key, sizeof key, "%s.%s", cat, v->name);
			}
			if ((r = prom_rs_config_set(out, key, v->value)) != PROM_RS_OK) {
				ast_log(LOG_ERROR, "res_prom_rs: %s line %d: %s\n", CONFIG_FILE, v->lineno,
					core_error(r, msg, sizeof msg));
				prom_rs_config_free(out);
				ast_config_destroy(cfg);
				return NULL;
			}
		}
	}
	ast_config_destroy(cfg);
	return out;
}

/* The sampler's interval as the core accepted it. */
static int64_t sample_interval_ms(const prom_rs_config *cfg)
{
	int64_t ms = DEFAULT_SAMPLE_INTERVAL_MS;
	char msg[512];
	prom_rs_result r;

	if ((r = prom_rs_config_get_int(cfg, "sample_interval", &ms)) != PROM_RS_OK) {
		ast_log(LOG_WARNING, "res_prom_rs: sampling every %lld ms: %s\n", (long long)ms,
			core_error(r, msg, sizeof msg));
	}
	return ms;
}

/* ---- CLI ------------------------------------------------------------------------------------------------------- */

static char *cli_show_status(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	const prom_rs_core *c;
	char *buf;
	size_t len;

	switch (cmd) {
	case CLI_INIT:
		e->command = "prom_rs show status";
		e->usage =
			"Usage: prom_rs show status\n"
			"       Shows the exporter's listen address, series, events received, last scrape,\n"
			"       collectors and the Stasis subscriptions of res_prom_rs.\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (a->argc != 3) {
		return CLI_SHOWUSAGE;
	}
	if (!(c = prom_core_acquire())) {
		ast_cli(a->fd, "res_prom_rs is not running\n");
		return CLI_SUCCESS;
	}
	len = prom_rs_core_status(c, NULL, 0) + 1;
	if ((buf = ast_malloc(len))) {
		prom_rs_core_status(c, buf, len);
		ast_cli(a->fd, "res_prom_rs %s (C ABI %u)\n%s%s", prom_rs_version(), prom_rs_abi_version(), buf,
			len > 1 && buf[len - 2] != '\n' ? "\n" : "");
		ast_free(buf);
	}
	prom_core_release();
	prom_events_describe(a->fd);
	return CLI_SUCCESS;
}

static struct ast_cli_entry cli_entries[] = {
	AST_CLI_DEFINE(cli_show_status, "Show the status of the res_prom_rs exporter"),
};

/* ---- module entry points --------------------------------------------------------------------------------------- */

/* The loader dlopen()s the library once, when it first loads the module, and dlclose()s it at every unload (and
 * before loading a module that had declined). As the library stays mapped, every load after the first is not
 * preceded by a dlopen: take one here, so the loader's next dlclose() closes a handle that is open. */
static void balance_loader_handle(void)
{
	static int load_calls; /* survives unload: the mapping does */
	Dl_info self;

	if (load_calls++ == 0) {
		return;
	}
	if (!dladdr((void *)balance_loader_handle, &self) || !self.dli_fname ||
		!dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) {
		ast_log(LOG_WARNING, "res_prom_rs: cannot take a handle on the module library: %s\n", dlerror());
	}
}

/* Stops everything load_module started, in the order the C ABI needs: event sources first (the sampler, which also
 * owns the app_queue/ConfBridge subscriptions, then every other subscription, each joined), then the core. */
static void stop_all(void)
{
	prom_sampler_stop();
	prom_events_unsubscribe();
	/* No event source is left (the CLI command is unregistered before this runs): the core can go. */
	prom_rs_core_stop(prom_core_take());
	/* Nothing may call back into this file once it is unloaded. */
	prom_rs_set_logger(NULL, NULL);
}

static int unload_module(void)
{
	ast_cli_unregister_multiple(cli_entries, ARRAY_LEN(cli_entries));
	stop_all();
	return 0;
}

static int load_module(void)
{
	prom_rs_config *cfg;
	prom_rs_core *started = NULL;
	prom_rs_result r;
	char msg[512];

	balance_loader_handle();
	if (prom_rs_abi_version() != PROM_RS_ABI_VERSION) {
		ast_log(LOG_ERROR, "res_prom_rs: core C ABI %u, module built for %u\n", prom_rs_abi_version(),
			PROM_RS_ABI_VERSION);
		return AST_MODULE_LOAD_DECLINE;
	}
	prom_rs_set_logger(core_log, NULL);

	if (!(cfg = read_config())) {
		goto decline;
	}
	r = prom_rs_core_start(cfg, &started);
	if (r != PROM_RS_OK) {
		ast_log(LOG_ERROR, "res_prom_rs: cannot start: %s\n", core_error(r, msg, sizeof msg));
		prom_rs_config_free(cfg);
		goto decline;
	}
	prom_core_set(started);

	if (prom_events_subscribe(cfg) || prom_sampler_start(sample_interval_ms(cfg))) {
		prom_rs_config_free(cfg);
		stop_all();
		return AST_MODULE_LOAD_DECLINE;
	}
	prom_rs_config_free(cfg);
	prom_events_seed();
	ast_cli_register_multiple(cli_entries, ARRAY_LEN(cli_entries));
	return AST_MODULE_LOAD_SUCCESS;

decline:
	prom_rs_set_logger(NULL, NULL);
	return AST_MODULE_LOAD_DECLINE;
}

/* Applies the file again; counters are kept. An invalid file or a port that cannot be bound leaves the running
 * configuration in place. */
static int reload_module(void)
{
	prom_rs_config *cfg = read_config();
	prom_rs_result r;
	char msg[512];

	if (!cfg) {
		ast_log(LOG_WARNING, "res_prom_rs: reload refused; the running configuration stays in force\n");
		return AST_MODULE_LOAD_DECLINE;
	}
	/* The core applies a reload safely while events keep arriving (C ABI), so nothing is paused here. */
	prom_rs_core *running = prom_core_running();
	r = running ? prom_rs_core_reload(running, cfg) : PROM_RS_ERR_STATE;
	if (r != PROM_RS_OK) {
		core_error(r, msg, sizeof msg);
		prom_rs_config_free(cfg);
		ast_log(LOG_WARNING, "res_prom_rs: reload refused (%s); the running configuration stays in force\n", msg);
		return AST_MODULE_LOAD_DECLINE;
	}
	prom_events_set_switches(cfg);
	prom_sampler_set_interval(sample_interval_ms(cfg));
	prom_rs_config_free(cfg);
	return AST_MODULE_LOAD_SUCCESS;
}

AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_DEFAULT, "Prometheus exporter (res_prom_rs)",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
	.reload = reload_module,
);
