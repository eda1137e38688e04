/* workload.h - synthetic call-center traffic fed to the core in real time (the host's default mode).
 *
 * A dedicated thread ticks every 100 ms and plays an Asterisk box with 40 agent phones, two SIP trunks, four legacy
 * chan_sip peers, two queues and a ConfBridge room: Poisson call arrivals (one every ~3 s, at most 60 concurrent calls),
 * queueing, agent dialling with realistic DIALSTATUS/hangup-cause mixes, bridges, RTCP reports, registration churn,
 * brute-force security bursts and the 5-second system/codec sampler. For a given seed the sequence of events per tick
 * is identical from run to run; only the wall-clock timestamps differ.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stdint.h>

#include "prom_api.h"

struct workload;

struct workload_params {
  const struct prom_api *api; /* must outlive the workload */
  prom_rs_core *core;         /* must outlive the workload */
  uint64_t seed;
  int64_t startup_us; /* CLOCK_REALTIME µs when the host started, reported by the sampler */
  double speed;       /* simulated seconds per real second (1 = real time); above 1, timestamps are simulated */
};

/* Starts the workload thread. Returns NULL after printing a message if that fails. */
struct workload *workload_start(const struct workload_params *params);

/* Holds the workload between two ticks (it finishes the current one first) until workload_resume, so that a page
 * read meanwhile is one no event is changing (SIGUSR1 in prom_host). NULL is ignored. */
void workload_pause(struct workload *wl);
void workload_resume(struct workload *wl);

/* Tells the sampler that the configuration was reloaded at ts_us. Safe from any thread. */
void workload_note_reload(struct workload *wl, int64_t ts_us);

/* Stops the thread (returns within about one tick), joins it and frees everything. NULL is ignored. */
void workload_stop(struct workload *wl);

/* CLOCK_REALTIME in microseconds since the Unix epoch: the timestamp unit of the whole ABI. */
int64_t wall_clock_us(void);

#endif
