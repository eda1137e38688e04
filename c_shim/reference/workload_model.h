/* workload_model.h - the simulated box shared by the three parts of the synthetic workload (internal):
 *
 *   workload.c        the thread, its clock and pause/stop, the checked core calls, the 5-second sampler
 *   workload_world.c  phones, trunks and their registrations, the conference room, the SIP scanner
 *   workload_calls.c  calls: channels, queueing, agent dialling, bridges, RTCP
 *
 * All of it runs on the workload thread only, in the order run_tick() calls it: the event sequence of a seed depends
 * on that order (every part draws from the one generator), not on which file a function lives in.
 */
#ifndef WORKLOAD_MODEL_H
#define WORKLOAD_MODEL_H

#include <pthread.h>
#include <stdint.h>

#include "rng.h"
#include "workload.h"

/* ---- model constants ---------------------------------------------------------------------------------------- */

/* Wall-clock length of one tick. Overridable at build time only to fast-forward the model in tests; simulated
 * durations stay in ticks of 100 ms. */
#ifndef WORKLOAD_TICK_NS
#define WORKLOAD_TICK_NS 100000000L
#endif
#define TICK_NS WORKLOAD_TICK_NS
#define TICKS_PER_SEC 10
#define SECS(s) ((uint64_t)((s) * TICKS_PER_SEC)) /* seconds -> ticks */

#define N_AGENTS 40
#define FIRST_AGENT 1031
#define TRUNK_UK N_AGENTS
#define TRUNK_US (N_AGENTS + 1)
#define FIRST_PEER (N_AGENTS + 2)
#define N_PEERS 4
#define N_ENDPOINTS (FIRST_PEER + N_PEERS)
#define DEAD_PEER (FIRST_PEER + 2) /* chan_sip peer 2003: its phone was unplugged for good */

#define MAX_CALLS 60
#define ARRIVALS_PER_SEC 0.35 /* ~30 concurrent calls at a ~90 s mean: a busy but staffed 40-agent floor */
#define SAMPLE_EVERY SECS(5)
#define RTCP_EVERY SECS(5)
#define PROGRESS_EVERY SECS(10)
#define QUEUE_RETRY SECS(2) /* Asterisk queue "retry" option: pause before ringing the next member */
#define MAX_BEHIND_TICKS 10 /* if the thread falls further behind (e.g. valgrind), let simulated time slip */
#define MAX_FAIL_KINDS 64

#define ASTERISK_VERSION "20.10.0"

/* enum ast_channel_state values used here */
enum { AST_STATE_DOWN = 0, AST_STATE_RING = 4, AST_STATE_RINGING = 5, AST_STATE_UP = 6 };
/* Q.850 hangup causes used here */
enum {
  CAUSE_UNALLOCATED = 1,
  CAUSE_NORMAL_CLEARING = 16,
  CAUSE_USER_BUSY = 17,
  CAUSE_NO_ANSWER = 19,
  CAUSE_CALL_REJECTED = 21,
  CAUSE_CONGESTION = 34,
  CAUSE_NETWORK_OUT_OF_ORDER = 38,
};
enum { EP_UNKNOWN = 0, EP_OFFLINE = 1, EP_ONLINE = 2 };
enum { QUEUE_JOIN = 0, QUEUE_LEAVE = 1, QUEUE_ABANDON = 2 };
enum { CONF_START = 0, CONF_END = 1, CONF_JOIN = 2, CONF_LEAVE = 3 };
enum { RTCP_RX = 0, RTCP_TX = 1 };

/* ---- state ------------------------------------------------------------------------------------------------- */

enum ep_kind { EP_AGENT, EP_TRUNK, EP_PEER };

struct endpoint {
  const char *tech;
  char name[16];
  enum ep_kind kind;
  int online;
  int lagged;
  int channels;         /* live channels on this endpoint (reported as channel_count) */
  int busy;             /* agent phone reserved by a call, from ringing to hangup */
  int64_t base_rtt_us;  /* qualify RTT around which this endpoint's measurements wander */
  uint64_t recover_at;  /* tick at which an outage or lag ends; 0 = none pending */
  uint64_t stable_until; /* a phone that just came back stays up a while before it may drop again */
  uint64_t next_qualify;
};

struct leg {
  int alive;
  int ep; /* index into endpoints */
  char uid[40];
  int64_t created_us;
  const char *codec;
};

enum call_phase { PH_FREE, PH_UNROUTABLE, PH_QUEUED, PH_RINGING, PH_TALKING };
enum dial_outcome { OUT_ANSWER, OUT_NOANSWER, OUT_BUSY, OUT_CONGESTION, OUT_CHANUNAVAIL, N_OUTCOMES };

struct call {
  enum call_phase phase;
  struct leg in; /* caller, on a trunk */
  struct leg ag; /* agent phone leg, while ringing or talking */
  int queue;
  uint64_t abandon_at; /* the caller's patience; reached while still queued => abandon */
  uint64_t next_at;    /* when the current phase takes its next step */
  enum dial_outcome outcome;
  char bridge_id[40];
  uint64_t next_rtcp;
  double quality; /* 0 = clean network path .. 1 = bad one; scales jitter/loss/MES */
  double rtt_s;
};

struct participant {
  uint64_t join_at, leave_at;
  int state; /* 0 not yet joined, 1 in the room, 2 left */
};

struct conference {
  int running;
  uint64_t next_start;
  int n;
  struct participant p[6];
};

struct outreg {
  int ep; /* trunk endpoint */
  const char *username, *domain;
  int flaps;  /* whether this registration is flaky */
  uint64_t recover_at;
};

struct fail_kind {
  const char *what;
  int rc;
};

struct workload {
  const struct prom_api *api;
  prom_rs_core *core;
  int64_t startup_us;
  double speed;  /* simulated seconds per real second */
  long tick_ns;  /* real time between ticks: TICK_NS / speed */
  _Atomic int_least64_t last_reload_us;
  /* stop flag + condition variable (on CLOCK_MONOTONIC) so workload_stop wakes the thread mid-tick instead of
   * waiting out its sleep */
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int stop;
  pthread_t thread;
  /* Held while a tick talks to the core; workload_pause takes it to freeze the workload between two ticks. */
  pthread_mutex_t tick_lock;

  struct rng rng;
  uint64_t tick;
  long uid_epoch;         /* Asterisk uniqueids are "<startup epoch>.<sequence>" */
  unsigned long uid_seq;
  struct endpoint eps[N_ENDPOINTS];
  struct call calls[MAX_CALLS];
  int active_calls;
  int64_t processed_calls;
  struct conference conf;
  struct outreg regs[2];
  uint64_t next_burst;
  int burst_left;

  struct fail_kind fails[MAX_FAIL_KINDS];
  int n_fails;
  unsigned long failures;
};

/* ---- shared by the parts --------------------------------------------------------------------------------------- */

/* The timestamp of the event being sent (workload.c). */
int64_t event_us(const struct workload *wl);

/* Counts a failed core call and reports the first failure of each kind (workload.c). */
void workload_check(struct workload *wl, const char *what, int rc);

/* CORE(wl, fn, args...) calls prom_rs_<fn>(core, args...) and checks the result. */
#define CORE(wl, fn, ...) workload_check((wl), #fn, (wl)->api->fn((wl)->core, __VA_ARGS__))

/* workload_world.c */
void ep_init(struct workload *wl, int i);
void ep_publish_state(struct workload *wl, const struct endpoint *ep);
void ep_qualify(struct workload *wl, struct endpoint *ep);
void reg_publish(struct workload *wl, const struct outreg *reg, const char *status);
void tick_endpoints(struct workload *wl);
void tick_registrations(struct workload *wl);
void tick_conference(struct workload *wl);
void tick_security(struct workload *wl);

/* workload_calls.c */
void tick_calls(struct workload *wl);
/* The calls already up when the core is loaded (talking and bridged with RTCP data, callers on hold), as the
 * Asterisk module seeds them from the channel and bridge caches: the first page shows a busy floor. */
void seed_calls(struct workload *wl);

#endif
