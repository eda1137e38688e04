/* workload.c - synthetic call center; see workload.h for the overview and workload_model.h for its parts.
 *
 * All simulation state is owned by the workload thread; the only cross-thread data are the stop flag (under a
 * mutex, with a condition variable to cut the tick sleep short), the tick lock (see workload_pause) and the
 * last-reload timestamp (an atomic).
 * Durations are counted in ticks (100 ms) so that a seed always produces the same event sequence; timestamps passed
 * to the core are taken from CLOCK_REALTIME at the moment of each call.
 */
#include "workload.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload_model.h"

/* ---- sampler ---------------------------------------------------------------------------------------------------- */

static void sample_leg_codec(struct workload *wl, const struct call *c, const struct leg *leg) {
  /* Once bridged, a leg whose codec differs from the caller's needs a translation path (e.g. opus -> ulaw). */
  if (leg == &c->ag && c->phase == PH_TALKING && strcmp(leg->codec, c->in.codec) != 0)
    CORE(wl, sample_channel_codec, leg->codec, leg->codec, c->in.codec);
  else
    CORE(wl, sample_channel_codec, leg->codec, NULL, NULL);
}

static void sample_codecs(struct workload *wl) {
  int rc = wl->api->sample_codecs_begin(wl->core);
  workload_check(wl, "sample_codecs_begin", rc);
  if (rc != PROM_RS_OK) return; /* without an open sample set the per-channel calls would only fail too */
  for (int i = 0; i < MAX_CALLS; i++) {
    const struct call *c = &wl->calls[i];
    if (c->in.alive) sample_leg_codec(wl, c, &c->in);
    if (c->ag.alive) sample_leg_codec(wl, c, &c->ag);
  }
  workload_check(wl, "sample_codecs_end", wl->api->sample_codecs_end(wl->core));
}

static void tick_sampler(struct workload *wl) {
  if (wl->tick % SAMPLE_EVERY != 0) return;
  CORE(wl, sample_system, ASTERISK_VERSION, wl->startup_us, (int64_t)atomic_load(&wl->last_reload_us),
       (int64_t)wl->active_calls, wl->processed_calls, event_us(wl));
  sample_codecs(wl);
}

static void tick_progress(struct workload *wl) {
  if (wl->tick == 0 || wl->tick % PROGRESS_EVERY != 0) return;
  fprintf(stderr, "prom_host: %d active calls, %lld calls so far\n", wl->active_calls,
          (long long)wl->processed_calls);
}

/* ---- thread ------------------------------------------------------------------------------------------------------ */

/* What the core would learn at module load: every phone registered and qualified, trunks registered, the calls in
 * progress, and a first system/codec sample (tick 0). */
static void world_init(struct workload *wl) {
  for (int i = 0; i < N_ENDPOINTS; i++) {
    ep_init(wl, i);
    ep_publish_state(wl, &wl->eps[i]);
    ep_qualify(wl, &wl->eps[i]);
    /* Spread later qualify pings over the interval, as Asterisk does, instead of 46 at once every 30 s. */
    wl->eps[i].next_qualify = SECS(30) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(30));
  }
  wl->regs[0] = (struct outreg){TRUNK_UK, "442071234567", "sip.uk-carrier.example.net", 0, 0};
  wl->regs[1] = (struct outreg){TRUNK_US, "12125550100", "sip.us-carrier.example.com", 1, 0};
  for (int i = 0; i < 2; i++) reg_publish(wl, &wl->regs[i], "Registered");
  seed_calls(wl);
  wl->conf.next_start = 1 + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(3)); /* the morning briefing is on */
  wl->next_burst = SECS(3) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(10));
}

static void run_tick(struct workload *wl) {
  tick_endpoints(wl);
  tick_registrations(wl);
  tick_calls(wl);
  tick_conference(wl);
  tick_security(wl);
  tick_sampler(wl);
  tick_progress(wl);
}

static void timespec_add_ns(struct timespec *t, long ns) {
  t->tv_nsec += ns;
  while (t->tv_nsec >= 1000000000L) {
    t->tv_nsec -= 1000000000L;
    t->tv_sec++;
  }
}

static int64_t timespec_us(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000; }

/* Waits until the absolute monotonic deadline or until workload_stop, whichever comes first; returns 1 when asked
 * to stop. If the thread has fallen far behind (a slow machine, valgrind), the deadline moves to now so simulated
 * time slips instead of replaying a burst of stale ticks. */
static int wait_next_tick(struct workload *wl, struct timespec *deadline) {
  timespec_add_ns(deadline, wl->tick_ns);
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) == 0 &&
      timespec_us(&now) - timespec_us(deadline) > (int64_t)MAX_BEHIND_TICKS * wl->tick_ns / 1000)
    *deadline = now;
  if (pthread_mutex_lock(&wl->lock) != 0) abort(); /* only fails on a corrupted mutex */
  int rc = 0;
  while (!wl->stop && rc == 0) rc = pthread_cond_timedwait(&wl->wake, &wl->lock, deadline);
  int stop = wl->stop;
  if (pthread_mutex_unlock(&wl->lock) != 0) abort();
  if (rc != 0 && rc != ETIMEDOUT) { /* EINVAL cannot happen with a normalised deadline; don't spin if it does */
    fprintf(stderr, "prom_host: workload: pthread_cond_timedwait: %s\n", strerror(rc));
    struct timespec tick = {0, wl->tick_ns};
    while (nanosleep(&tick, &tick) != 0 && errno == EINTR) {
    }
  }
  return stop;
}

static void *workload_main(void *arg) {
  struct workload *wl = arg;
  world_init(wl);
  struct timespec deadline;
  if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0) deadline = (struct timespec){0, 0};
  do {
    if (pthread_mutex_lock(&wl->tick_lock) != 0) abort(); /* only fails on a corrupted mutex */
    run_tick(wl);
    if (pthread_mutex_unlock(&wl->tick_lock) != 0) abort();
    wl->tick++;
  } while (!wait_next_tick(wl, &deadline));
  if (wl->failures)
    fprintf(stderr, "prom_host: workload: %lu core calls failed in total\n", wl->failures);
  return NULL;
}

/* The condition variable must time out against CLOCK_MONOTONIC: wall-clock jumps must not stall the ticks. */
static int init_sync(struct workload *wl) {
  pthread_condattr_t attr;
  int rc = pthread_condattr_init(&attr);
  if (rc != 0) goto fail;
  rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&wl->wake, &attr);
  if (pthread_condattr_destroy(&attr) != 0) abort(); /* cannot fail on an initialised attribute object */
  if (rc != 0) goto fail;
  rc = pthread_mutex_init(&wl->lock, NULL);
  if (rc != 0) goto undo_cond;
  rc = pthread_mutex_init(&wl->tick_lock, NULL);
  if (rc == 0) return 0;
  if (pthread_mutex_destroy(&wl->lock) != 0) abort();
undo_cond:
  if (pthread_cond_destroy(&wl->wake) != 0) abort();
fail:
  fprintf(stderr, "prom_host: workload: cannot set up synchronisation: %s\n", strerror(rc));
  return rc;
}

static void destroy_sync(struct workload *wl) {
  if (pthread_cond_destroy(&wl->wake) != 0 || pthread_mutex_destroy(&wl->lock) != 0 ||
      pthread_mutex_destroy(&wl->tick_lock) != 0)
    fprintf(stderr, "prom_host: workload: destroying synchronisation objects failed\n");
}

struct workload *workload_start(const struct workload_params *params) {
  struct workload *wl = calloc(1, sizeof *wl);
  if (!wl) {
    fprintf(stderr, "prom_host: workload: out of memory\n");
    return NULL;
  }
  wl->api = params->api;
  wl->core = params->core;
  wl->startup_us = params->startup_us;
  wl->speed = params->speed >= 1.0 ? params->speed : 1.0;
  wl->tick_ns = (long)((double)TICK_NS / wl->speed);
  atomic_init(&wl->last_reload_us, params->startup_us);
  rng_seed(&wl->rng, params->seed);
  wl->uid_epoch = (long)(params->startup_us / 1000000);
  if (init_sync(wl) != 0) {
    free(wl);
    return NULL;
  }
  int rc = pthread_create(&wl->thread, NULL, workload_main, wl);
  if (rc != 0) {
    fprintf(stderr, "prom_host: workload: cannot start thread: %s\n", strerror(rc));
    destroy_sync(wl);
    free(wl);
    return NULL;
  }
  return wl;
}

void workload_pause(struct workload *wl) {
  if (wl && pthread_mutex_lock(&wl->tick_lock) != 0) abort();
}

void workload_resume(struct workload *wl) {
  if (wl && pthread_mutex_unlock(&wl->tick_lock) != 0) abort();
}

void workload_note_reload(struct workload *wl, int64_t ts_us) {
  if (wl) atomic_store(&wl->last_reload_us, ts_us);
}

void workload_stop(struct workload *wl) {
  if (!wl) return;
  if (pthread_mutex_lock(&wl->lock) != 0) abort();
  wl->stop = 1;
  int rc = pthread_cond_signal(&wl->wake);
  if (pthread_mutex_unlock(&wl->lock) != 0) abort();
  if (rc != 0) fprintf(stderr, "prom_host: workload: pthread_cond_signal: %s\n", strerror(rc));
  rc = pthread_join(wl->thread, NULL);
  if (rc != 0) {
    /* The thread may still be using wl: leaking it is the only safe choice. */
    fprintf(stderr, "prom_host: workload: cannot join thread: %s\n", strerror(rc));
    return;
  }
  destroy_sync(wl);
  free(wl);
}
