/* workload_core.c - the bottom of the synthetic workload: its clocks and its checked calls into the core. Every
 * other workload file calls down into this one, and this one calls none of them.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "workload_model.h"

/* ---- clocks ------------------------------------------------------------------------------------------------ */

static int64_t clock_us(clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) return 0; /* cannot fail for the two clocks used here */
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wall_clock_us(void) { return clock_us(CLOCK_REALTIME); }

/* The timestamp of an event: the wall clock in real time; with --speed above 1, the simulated clock (start time plus
 * elapsed ticks), so durations the core computes stay those of the simulated call center. */
int64_t event_us(const struct workload *wl) {
  if (wl->speed <= 1.0) return wall_clock_us();
  return wl->startup_us + (int64_t)wl->tick * (TICK_NS / 1000);
}

/* ---- core calls ---------------------------------------------------------------------------------------------- */

/* Returns 1 the first time (what, rc) is seen, so each kind of failure is reported once instead of every tick. */
static int first_failure_of_kind(struct workload *wl, const char *what, int rc) {
  for (int i = 0; i < wl->n_fails; i++)
    if (wl->fails[i].rc == rc && strcmp(wl->fails[i].what, what) == 0) return 0;
  if (wl->n_fails == MAX_FAIL_KINDS) return 0;
  wl->fails[wl->n_fails++] = (struct fail_kind){what, rc};
  return 1;
}

void workload_check(struct workload *wl, const char *what, int rc) {
  if (rc == PROM_RS_OK) return;
  wl->failures++;
  if (!first_failure_of_kind(wl, what, rc)) return;
  char msg[512];
  fprintf(stderr, "prom_host: workload: prom_rs_%s failed: %s (further failures of this kind are only counted)\n",
          what, prom_api_error(wl->api, rc, msg, sizeof msg));
}
