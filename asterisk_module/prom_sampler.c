/* prom_sampler.c - the sampler thread: what no Stasis message carries, read every `sample_interval`.
 *
 * Uptime, last reload, active and processed calls are globals (no lock). Codecs and transcoding live on the channel
 * objects: each live channel is locked just long enough to copy three format names, and the core gets them after the
 * lock is released. The thread also looks after the app_queue and ConfBridge subscriptions (prom_events_track): it
 * starts them afresh when those modules are loaded or unloaded, and narrows them when learning takes too long.
 *
 * Nothing here may take the loader's lock (ast_module_check() and the like): `module unload res_prom_rs.so` holds it
 * while it joins this thread.
 */
#include "asterisk.h"

#include <errno.h>
#include <string.h>

#include "asterisk/ast_version.h"
#include "asterisk/channel.h"
#include "asterisk/format.h"
#include "asterisk/lock.h"
#include "asterisk/logger.h"
#include "asterisk/options.h"
#include "asterisk/pbx.h"
#include "asterisk/translate.h"
#include "asterisk/utils.h"

#include "prom_shim.h"

#define FORMAT_NAME_LEN 64

static ast_mutex_t lock = AST_MUTEX_INIT_VALUE;
static ast_cond_t wake;
static pthread_t thread = AST_PTHREADT_NULL;
static int stopping;
static int64_t interval_ms;

struct channel_codec {
	char codec[FORMAT_NAME_LEN];
	char from[FORMAT_NAME_LEN]; /* translation path, "" when the channel does not transcode */
	char to[FORMAT_NAME_LEN];
};

static void copy_name(char *out, struct ast_format *f)
{
	ast_copy_string(out, f ? ast_format_get_name(f) : "", FORMAT_NAME_LEN);
}

/* Reads one channel's formats under its lock. Returns 0 when the channel carries media. */
static int read_channel_codec(struct ast_channel *chan, struct channel_codec *out)
{
	struct ast_format *raw;

	ast_channel_lock(chan);
	raw = ast_channel_rawreadformat(chan);
	copy_name(out->codec, raw);
	out->from[0] = out->to[0] = '\0';
	if (ast_channel_readtrans(chan)) {
		copy_name(out->from, raw);
		copy_name(out->to, ast_channel_readformat(chan));
	} else if (ast_channel_writetrans(chan)) {
		copy_name(out->from, ast_channel_writeformat(chan));
		copy_name(out->to, ast_channel_rawwriteformat(chan));
	}
	ast_channel_unlock(chan);
	return (!out->codec[0] || !strcmp(out->codec, "none")) ? -1 : 0;
}

static void sample_codecs(const prom_rs_core *core)
{
	struct ast_channel_iterator *it = ast_channel_iterator_all_new();
	struct ast_channel *chan;
	struct channel_codec c;

	if (!it) {
		return;
	}
	prom_rs_sample_codecs_begin(core);
	while ((chan = ast_channel_iterator_next(it))) {
		if (!read_channel_codec(chan, &c)) {
			prom_rs_sample_channel_codec(core, c.codec, c.from[0] ? c.from : NULL, c.to[0] ? c.to : NULL);
		}
		ast_channel_unref(chan);
	}
	ast_channel_iterator_destroy(it);
	prom_rs_sample_codecs_end(core);
}

static void sample_once(void)
{
	const prom_rs_core *core = prom_core_acquire();

	if (!core) {
		return;
	}
	prom_rs_sample_system(core, ast_get_version(), prom_tv_us(&ast_startuptime),
		prom_tv_us(&ast_lastreloadtime), ast_active_calls(), ast_processed_calls(), prom_now_us());
	sample_codecs(core);
	prom_core_release();
}

static void *sampler_main(void *unused)
{
	struct timespec until;
	struct timeval now;
	int64_t wait_ms;

	for (;;) {
		sample_once();
		prom_events_track();

		ast_mutex_lock(&lock);
		wait_ms = interval_ms;
		now = ast_tvnow();
		until.tv_sec = now.tv_sec + wait_ms / 1000;
		until.tv_nsec = (long)now.tv_usec * 1000 + (long)(wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!stopping && ast_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT) {
			/* woken early: an interval change or stop; a changed interval takes effect from the next wait */
			if (interval_ms != wait_ms) {
				break;
			}
		}
		if (stopping) {
			ast_mutex_unlock(&lock);
			return NULL;
		}
		ast_mutex_unlock(&lock);
	}
}

int prom_sampler_start(int64_t ms)
{
	ast_mutex_lock(&lock);
	stopping = 0;
	interval_ms = ms;
	ast_mutex_unlock(&lock);
	ast_cond_init(&wake, NULL);
	if (ast_pthread_create(&thread, NULL, sampler_main, NULL)) {
		thread = AST_PTHREADT_NULL;
		ast_cond_destroy(&wake);
		ast_log(LOG_ERROR, "res_prom_rs: cannot start the sampler thread\n");
		return -1;
	}
	return 0;
}

void prom_sampler_set_interval(int64_t ms)
{
	ast_mutex_lock(&lock);
	interval_ms = ms;
	ast_cond_signal(&wake);
	ast_mutex_unlock(&lock);
}

void prom_sampler_stop(void)
{
	if (thread == AST_PTHREADT_NULL) {
		return;
	}
	ast_mutex_lock(&lock);
	stopping = 1;
	ast_cond_signal(&wake);
	ast_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	thread = AST_PTHREADT_NULL;
	ast_cond_destroy(&wake);
}
