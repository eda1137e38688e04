/* workload.c - synthetic call center; see workload.h for the overview.
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

#include "rng.h"

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

static const char *const QUEUES[] = {"sales", "support"};
static const char *const CONFERENCE = "daily-standup";

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

/* ---- clocks ------------------------------------------------------------------------------------------------ */

static int64_t clock_us(clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) return 0; /* cannot fail for the two clocks used here */
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wall_clock_us(void) { return clock_us(CLOCK_REALTIME); }

/* The timestamp of an event: the wall clock in real time; with --speed above 1, the simulated clock (start time plus
 * elapsed ticks), so durations the core computes stay those of the simulated call center. */
static int64_t event_us(const struct workload *wl) {
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

static void check(struct workload *wl, const char *what, int rc) {
  if (rc == PROM_RS_OK) return;
  wl->failures++;
  if (!first_failure_of_kind(wl, what, rc)) return;
  char msg[512];
  fprintf(stderr, "prom_host: workload: prom_rs_%s failed: %s (further failures of this kind are only counted)\n",
          what, prom_api_error(wl->api, rc, msg, sizeof msg));
}

/* CORE(wl, fn, args...) calls prom_rs_<fn>(core, args...) and checks the result. */
#define CORE(wl, fn, ...) check((wl), #fn, (wl)->api->fn((wl)->core, __VA_ARGS__))

/* ---- endpoints ------------------------------------------------------------------------------------------------ */

static void ep_publish_state(struct workload *wl, const struct endpoint *ep) {
  CORE(wl, endpoint_state, ep->tech, ep->name, ep->online ? EP_ONLINE : EP_OFFLINE, ep->channels, event_us(wl));
}

static void ep_publish_contact(struct workload *wl, const struct endpoint *ep, const char *status, int64_t rtt_us) {
  CORE(wl, endpoint_contact, ep->tech, ep->name, status, rtt_us, event_us(wl));
}

/* A qualify (OPTIONS ping) result: RTT wanders around the endpoint's base value, within the LAN-ish 5-80 ms. */
static void ep_qualify(struct workload *wl, struct endpoint *ep) {
  int64_t rtt = (int64_t)((double)ep->base_rtt_us * rng_uniform(&wl->rng, 0.8, 1.3));
  if (rtt < 5000) rtt = 5000;
  if (rtt > 80000) rtt = 80000;
  ep_publish_contact(wl, ep, "Reachable", rtt);
  ep->next_qualify = wl->tick + SECS(30);
}

static void ep_init(struct workload *wl, int i) {
  struct endpoint *ep = &wl->eps[i];
  memset(ep, 0, sizeof *ep);
  int n;
  if (i < N_AGENTS) {
    ep->kind = EP_AGENT;
    ep->tech = "PJSIP";
    n = snprintf(ep->name, sizeof ep->name, "%d", FIRST_AGENT + i);
  } else if (i < FIRST_PEER) {
    ep->kind = EP_TRUNK;
    ep->tech = "PJSIP";
    n = snprintf(ep->name, sizeof ep->name, "%s", i == TRUNK_UK ? "trunk-uk" : "trunk-us");
  } else {
    ep->kind = EP_PEER;
    ep->tech = "SIP";
    n = snprintf(ep->name, sizeof ep->name, "%d", 2001 + (i - FIRST_PEER));
  }
  if (n < 0 || (size_t)n >= sizeof ep->name) abort(); /* names are fixed and short: cannot happen */
  ep->online = 1;
  ep->base_rtt_us = rng_int(&wl->rng, 5, 80) * 1000;
}

/* Registration churn: an idle phone drops off (reboot, Wi-Fi, NAT timeout) and comes back later. */
static void ep_go_offline(struct workload *wl, struct endpoint *ep, uint64_t recover_at) {
  ep->online = 0;
  ep->recover_at = recover_at;
  ep_publish_contact(wl, ep, rng_chance(&wl->rng, 0.7) ? "Unreachable" : "Unregistered", -1);
  ep_publish_state(wl, ep);
}

static void ep_recover(struct workload *wl, struct endpoint *ep) {
  ep->recover_at = 0;
  ep->stable_until = wl->tick + SECS(60) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(120));
  ep->lagged = 0;
  int was_offline = !ep->online;
  ep->online = 1;
  ep_qualify(wl, ep);
  if (was_offline) ep_publish_state(wl, ep);
}

static int churn_candidate(const struct workload *wl, int i) {
  const struct endpoint *ep = &wl->eps[i];
  return ep->kind != EP_TRUNK && i != DEAD_PEER && ep->online && !ep->busy && ep->channels == 0 &&
         wl->tick >= ep->stable_until;
}

/* Every ~5 s one idle phone (never one in a call: that would drop the call) loses its registration. A phone that
 * just came back is left alone for a few minutes and at most MAX_CHURNED are away at once, so that when the agents
 * are all busy the few idle phones (the chan_sip peers) do not spend their whole life offline. */
#define MAX_CHURNED 4
static void tick_registration_churn(struct workload *wl) {
  if (!rng_chance(&wl->rng, 1.0 / SECS(5))) return;
  int candidates[N_ENDPOINTS], n = 0, away = 0;
  for (int i = 0; i < N_ENDPOINTS; i++) {
    away += wl->eps[i].recover_at != 0 && !wl->eps[i].online;
    if (churn_candidate(wl, i)) candidates[n++] = i;
  }
  if (n == 0 || away >= MAX_CHURNED) return;
  struct endpoint *ep = &wl->eps[candidates[rng_int(&wl->rng, 0, n - 1)]];
  ep_go_offline(wl, ep, wl->tick + SECS(5) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(35)));
}

/* trunk-us's carrier is far away and congested now and then: qualify reports Lagged with a long RTT. */
static void tick_trunk_lag(struct workload *wl) {
  struct endpoint *ep = &wl->eps[TRUNK_US];
  if (ep->lagged || !rng_chance(&wl->rng, 1.0 / SECS(40))) return;
  ep->lagged = 1;
  ep->recover_at = wl->tick + SECS(5) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(15));
  ep_publish_contact(wl, ep, "Lagged", rng_int(&wl->rng, 500, 1500) * 1000);
}

static void tick_endpoints(struct workload *wl) {
  if (wl->tick == SECS(1.5)) ep_go_offline(wl, &wl->eps[DEAD_PEER], 0); /* and it never comes back */
  tick_registration_churn(wl);
  tick_trunk_lag(wl);
  for (int i = 0; i < N_ENDPOINTS; i++) {
    struct endpoint *ep = &wl->eps[i];
    if (ep->recover_at && wl->tick >= ep->recover_at)
      ep_recover(wl, ep);
    else if (ep->online && !ep->lagged && wl->tick >= ep->next_qualify)
      ep_qualify(wl, ep);
  }
}

/* ---- channels ------------------------------------------------------------------------------------------------- */

static void make_uid(struct workload *wl, char *buf, size_t len) {
  int n = snprintf(buf, len, "%ld.%lu", wl->uid_epoch, ++wl->uid_seq);
  if (n < 0 || (size_t)n >= len) abort(); /* 40 bytes always hold two decimal numbers and a dot */
}

static void leg_create(struct workload *wl, struct leg *leg, int ep_index, int state, const char *codec) {
  struct endpoint *ep = &wl->eps[ep_index];
  make_uid(wl, leg->uid, sizeof leg->uid);
  leg->alive = 1;
  leg->ep = ep_index;
  leg->codec = codec;
  leg->created_us = event_us(wl);
  CORE(wl, channel_created, leg->uid, ep->tech, ep->name, state, leg->created_us);
  ep->channels++;
  ep_publish_state(wl, ep); /* channel_count > 0 is what shows a phone as "in call" */
}

static void leg_hangup(struct workload *wl, struct leg *leg, int cause) {
  struct endpoint *ep = &wl->eps[leg->ep];
  CORE(wl, channel_hangup, leg->uid, ep->tech, cause, leg->created_us, event_us(wl));
  leg->alive = 0;
  ep->channels--;
  ep_publish_state(wl, ep);
}

static void leg_set_state(struct workload *wl, const struct leg *leg, int state) {
  CORE(wl, channel_state, leg->uid, state, event_us(wl));
}

/* ---- calls ---------------------------------------------------------------------------------------------------- */

static void call_free(struct workload *wl, struct call *c) {
  memset(c, 0, sizeof *c);
  c->phase = PH_FREE;
  wl->active_calls--;
}

static struct call *call_alloc(struct workload *wl) {
  for (int i = 0; i < MAX_CALLS; i++)
    if (wl->calls[i].phase == PH_FREE) {
      wl->active_calls++;
      return &wl->calls[i];
    }
  return NULL;
}

/* US carriers deliver G.711 mu-law, UK ones A-law; a few HD calls arrive as G.722. */
static const char *trunk_codec(struct workload *wl, int trunk) {
  if (rng_chance(&wl->rng, 0.15)) return "g722";
  return trunk == TRUNK_US ? "ulaw" : "alaw";
}

/* Most desk phones negotiate the trunk's codec; softphones on opus (or G.722) need a translator. */
static const char *agent_codec(struct workload *wl, const char *caller_codec) {
  if (!rng_chance(&wl->rng, 0.25)) return caller_codec;
  return rng_chance(&wl->rng, 0.6) ? "opus" : "g722";
}

/* How long the caller waits before the queue first rings an agent: mostly short, sometimes up to a minute. */
static uint64_t queue_wait_ticks(struct workload *wl) {
  double s = rng_lognormal(&wl->rng, 6.0, 0.9);
  if (s < 0.5) s = 0.5;
  if (s > 50) s = 50;
  return SECS(s);
}

static void call_arrive(struct workload *wl) {
  struct call *c = call_alloc(wl);
  if (!c) return; /* at MAX_CALLS the box refuses new INVITEs (Asterisk's maxcalls): no channel is ever created */
  int trunk = rng_chance(&wl->rng, 0.55) ? TRUNK_UK : TRUNK_US;
  wl->processed_calls++;
  leg_create(wl, &c->in, trunk, AST_STATE_RING, trunk_codec(wl, trunk));
  if (rng_chance(&wl->rng, 0.015)) { /* dialled a DID that routes nowhere */
    c->phase = PH_UNROUTABLE;
    c->next_at = wl->tick + (uint64_t)rng_int(&wl->rng, 2, 10);
    return;
  }
  c->phase = PH_QUEUED;
  c->queue = rng_chance(&wl->rng, 0.6) ? 0 : 1;
  if (rng_chance(&wl->rng, 0.045)) { /* some hang up on the hold music after 2-60 s, before any agent rings */
    c->abandon_at = wl->tick + SECS(2) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(58));
    c->next_at = UINT64_MAX;
  } else { /* the rest wait until served, giving up only after several minutes */
    c->abandon_at = wl->tick + SECS(240) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(60));
    c->next_at = wl->tick + queue_wait_ticks(wl);
  }
  CORE(wl, queue_caller, QUEUES[c->queue], c->in.uid, QUEUE_JOIN, event_us(wl));
}

static void tick_arrivals(struct workload *wl) {
  int n = rng_poisson(&wl->rng, ARRIVALS_PER_SEC / TICKS_PER_SEC);
  while (n-- > 0) call_arrive(wl);
}

/* Scans the agents from a random start (so load spreads over the team) for an idle one whose phone is online
 * (want_online = 1) or offline (0). Returns -1 if there is none. */
static int scan_agents(struct workload *wl, int want_online) {
  int start = rng_int(&wl->rng, 0, N_AGENTS - 1);
  for (int k = 0; k < N_AGENTS; k++) {
    int i = (start + k) % N_AGENTS;
    const struct endpoint *ep = &wl->eps[i];
    if (!ep->busy && ep->online == want_online) return i;
  }
  return -1;
}

/* Picks the agent to ring, or -1 when every agent is busy. The queue skips members whose phones are offline (it
 * sees their device state), except now and then when that device state is stale: ringing such a phone fails with
 * CHANUNAVAIL. */
static int pick_agent(struct workload *wl) {
  int agent = scan_agents(wl, 1);
  if (agent >= 0 && rng_chance(&wl->rng, 0.03)) {
    int stale = scan_agents(wl, 0);
    if (stale >= 0) return stale;
  }
  return agent;
}

static const char *const DIALSTATUS[N_OUTCOMES] = {"ANSWER", "NOANSWER", "BUSY", "CONGESTION", "CHANUNAVAIL"};

/* Ring time until the outcome is known, per outcome. */
static uint64_t ring_ticks(struct workload *wl, enum dial_outcome o) {
  switch (o) {
    case OUT_ANSWER: return SECS(2) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(10));
    case OUT_NOANSWER: return SECS(15); /* the queue's ring timeout */
    default: return (uint64_t)rng_int(&wl->rng, 1, 6); /* rejected almost at once */
  }
}

static void call_ring_agent(struct workload *wl, struct call *c) {
  int agent = pick_agent(wl);
  if (agent < 0) { /* everybody busy: keep the caller on hold music and look again shortly */
    c->next_at = wl->tick + SECS(1);
    return;
  }
  if (!wl->eps[agent].online) { /* no contact to send the INVITE to: Dial fails without creating a channel */
    CORE(wl, dial_result, "CHANUNAVAIL", event_us(wl));
    c->next_at = wl->tick + QUEUE_RETRY;
    return;
  }
  static const double weights[N_OUTCOMES] = {76, 11, 7, 3, 3};
  c->outcome = (enum dial_outcome)rng_weighted(&wl->rng, weights, N_OUTCOMES);
  wl->eps[agent].busy = 1;
  leg_create(wl, &c->ag, agent, AST_STATE_DOWN, agent_codec(wl, c->in.codec));
  if (c->outcome == OUT_ANSWER || c->outcome == OUT_NOANSWER) leg_set_state(wl, &c->ag, AST_STATE_RINGING);
  c->phase = PH_RINGING;
  c->next_at = wl->tick + ring_ticks(wl, c->outcome);
  /* Some callers give up while the agent's phone is ringing: Dial reports CANCEL. Together with the hold-music
   * hang-ups that makes ~8% of queued callers abandon. */
  if (c->next_at - wl->tick > 2 && rng_chance(&wl->rng, 0.045)) {
    uint64_t give_up = wl->tick + (uint64_t)rng_int(&wl->rng, 1, (int)(c->next_at - wl->tick) - 1);
    if (give_up < c->abandon_at) c->abandon_at = give_up;
  }
}

static void agent_leg_end(struct workload *wl, struct call *c, int cause) {
  leg_hangup(wl, &c->ag, cause);
  wl->eps[c->ag.ep].busy = 0;
}

/* The caller hangs up before anybody answered. */
static void call_abandon(struct workload *wl, struct call *c) {
  if (c->phase == PH_RINGING) {
    CORE(wl, dial_result, "CANCEL", event_us(wl));
    agent_leg_end(wl, c, CAUSE_NORMAL_CLEARING);
  }
  CORE(wl, queue_caller, QUEUES[c->queue], c->in.uid, QUEUE_ABANDON, event_us(wl));
  leg_hangup(wl, &c->in, CAUSE_NORMAL_CLEARING);
  call_free(wl, c);
}

static void make_bridge_id(struct workload *wl, char *buf, size_t len) {
  uint64_t a = rng_next(&wl->rng), b = rng_next(&wl->rng);
  int n = snprintf(buf, len, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffffu,
                   (unsigned)a & 0xfffu, (unsigned)(0x8000u | ((b >> 48) & 0x3fffu)),
                   (unsigned long long)(b & 0xffffffffffffULL));
  if (n < 0 || (size_t)n >= len) abort(); /* a UUID is 36 characters */
}

/* Each call gets its own network path: most are clean, a few cross a congested link. */
static void call_pick_path(struct workload *wl, struct call *c) {
  double u = rng_unit(&wl->rng);
  c->quality = u < 0.85 ? rng_uniform(&wl->rng, 0, 0.2) : u < 0.97 ? rng_uniform(&wl->rng, 0.2, 0.6)
                                                                   : rng_uniform(&wl->rng, 0.6, 1.0);
  c->rtt_s = rng_uniform(&wl->rng, 0.02, 0.2);
}

/* Talk time: lognormal, median 75 s (mean ~90 s), clamped to 30..300 s. */
static uint64_t talk_ticks(struct workload *wl) {
  double s = rng_lognormal(&wl->rng, 75.0, 0.6);
  if (s < 30) s = 30;
  if (s > 300) s = 300;
  return SECS(s);
}

static void call_answer(struct workload *wl, struct call *c) {
  int64_t now = event_us(wl);
  CORE(wl, dial_result, "ANSWER", now);
  leg_set_state(wl, &c->ag, AST_STATE_UP);
  leg_set_state(wl, &c->in, AST_STATE_UP);
  CORE(wl, queue_caller, QUEUES[c->queue], c->in.uid, QUEUE_LEAVE, event_us(wl));
  make_bridge_id(wl, c->bridge_id, sizeof c->bridge_id);
  CORE(wl, bridge_created, c->bridge_id, "simple_bridge", 0, event_us(wl));
  CORE(wl, bridge_enter, c->bridge_id, c->in.uid, event_us(wl));
  CORE(wl, bridge_enter, c->bridge_id, c->ag.uid, event_us(wl));
  call_pick_path(wl, c);
  c->phase = PH_TALKING;
  c->next_at = wl->tick + talk_ticks(wl);
  c->next_rtcp = wl->tick + RTCP_EVERY;
}

/* The agent's phone did not take the call: back to the queue, which tries another member after its retry pause. */
static void call_agent_failed(struct workload *wl, struct call *c) {
  int cause = CAUSE_NORMAL_CLEARING;
  switch (c->outcome) {
    case OUT_NOANSWER: cause = CAUSE_NO_ANSWER; break;
    case OUT_BUSY: cause = rng_chance(&wl->rng, 0.8) ? CAUSE_USER_BUSY : CAUSE_CALL_REJECTED; break;
    case OUT_CONGESTION: cause = CAUSE_CONGESTION; break;
    case OUT_CHANUNAVAIL: cause = CAUSE_NETWORK_OUT_OF_ORDER; break;
    default: break;
  }
  CORE(wl, dial_result, DIALSTATUS[c->outcome], event_us(wl));
  agent_leg_end(wl, c, cause);
  c->phase = PH_QUEUED;
  c->next_at = wl->tick + QUEUE_RETRY;
}

static void call_hangup_talking(struct workload *wl, struct call *c) {
  CORE(wl, bridge_leave, c->bridge_id, c->in.uid, event_us(wl));
  CORE(wl, bridge_leave, c->bridge_id, c->ag.uid, event_us(wl));
  CORE(wl, bridge_destroyed, c->bridge_id, event_us(wl));
  /* About 1% of conversations are cut by the carrier rather than ended by a party. */
  int cause = rng_chance(&wl->rng, 0.01) ? CAUSE_NETWORK_OUT_OF_ORDER : CAUSE_NORMAL_CLEARING;
  leg_hangup(wl, &c->in, cause);
  agent_leg_end(wl, c, CAUSE_NORMAL_CLEARING);
  call_free(wl, c);
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* One RTCP report for the agent phone's stream in one direction, shaped by the call's path quality. */
static void call_rtcp_report(struct workload *wl, const struct call *c, int direction) {
  struct rng *r = &wl->rng;
  double jitter = clampd(0.001 + c->quality * 0.029 * rng_uniform(r, 0.6, 1.0), 0.001, 0.030);
  double loss = clampd(c->quality * 0.03 * rng_unit(r), 0, 0.03);
  if (c->quality > 0.8 && rng_chance(r, 0.3)) loss = 0.08; /* a burst of loss on the worst paths */
  double rtt = clampd(c->rtt_s * rng_uniform(r, 0.9, 1.1), 0.02, 0.2);
  /* MES is Asterisk's 0-100 media experience score; 60..93 is the band that corresponds to MOS 3.0..4.4. */
  double mes = clampd(93.0 - loss * 500 - jitter * 300 - (rtt - 0.02) * 20, 60.0, 93.0);
  const struct endpoint *ep = &wl->eps[c->ag.ep];
  CORE(wl, rtcp_report, ep->tech, ep->name, direction, jitter, loss, rtt, mes, event_us(wl));
}

static void call_step(struct workload *wl, struct call *c) {
  switch (c->phase) {
    case PH_FREE: return;
    case PH_UNROUTABLE:
      if (wl->tick < c->next_at) return;
      leg_hangup(wl, &c->in, CAUSE_UNALLOCATED);
      call_free(wl, c);
      return;
    case PH_QUEUED:
    case PH_RINGING:
      if (wl->tick >= c->abandon_at)
        call_abandon(wl, c);
      else if (wl->tick < c->next_at)
        return;
      else if (c->phase == PH_QUEUED)
        call_ring_agent(wl, c);
      else if (c->outcome == OUT_ANSWER)
        call_answer(wl, c);
      else
        call_agent_failed(wl, c);
      return;
    case PH_TALKING:
      if (wl->tick >= c->next_rtcp) {
        call_rtcp_report(wl, c, RTCP_RX);
        call_rtcp_report(wl, c, RTCP_TX);
        c->next_rtcp += RTCP_EVERY;
      }
      if (wl->tick >= c->next_at) call_hangup_talking(wl, c);
      return;
  }
}

static void tick_calls(struct workload *wl) {
  tick_arrivals(wl);
  for (int i = 0; i < MAX_CALLS; i++) call_step(wl, &wl->calls[i]);
}

/* ---- conference ------------------------------------------------------------------------------------------- */

static void conf_begin(struct workload *wl) {
  struct conference *cf = &wl->conf;
  cf->running = 1;
  cf->n = rng_int(&wl->rng, 3, 6);
  for (int i = 0; i < cf->n; i++) {
    /* The first participant opens the room; the others trickle in late, as they do. */
    cf->p[i].join_at = i == 0 ? wl->tick : wl->tick + (uint64_t)rng_int(&wl->rng, 1, (int)SECS(10));
    cf->p[i].leave_at = cf->p[i].join_at + SECS(20) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(100));
    cf->p[i].state = 0;
  }
  CORE(wl, confbridge_event, CONFERENCE, CONF_START, event_us(wl));
}

/* Advances each participant; returns how many are still expected or present. */
static int conf_step_participants(struct workload *wl) {
  struct conference *cf = &wl->conf;
  int remaining = 0;
  for (int i = 0; i < cf->n; i++) {
    struct participant *p = &cf->p[i];
    if (p->state == 0 && wl->tick >= p->join_at) {
      p->state = 1;
      CORE(wl, confbridge_event, CONFERENCE, CONF_JOIN, event_us(wl));
    }
    if (p->state == 1 && wl->tick >= p->leave_at) {
      p->state = 2;
      CORE(wl, confbridge_event, CONFERENCE, CONF_LEAVE, event_us(wl));
    }
    remaining += p->state != 2;
  }
  return remaining;
}

static void tick_conference(struct workload *wl) {
  struct conference *cf = &wl->conf;
  if (!cf->running) {
    if (wl->tick >= cf->next_start) conf_begin(wl);
    else return;
  }
  if (conf_step_participants(wl) > 0) return;
  CORE(wl, confbridge_event, CONFERENCE, CONF_END, event_us(wl));
  cf->running = 0;
  cf->next_start = wl->tick + SECS(60) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(120));
}

/* ---- outbound registrations ----------------------------------------------------------------------------------- */

static void reg_publish(struct workload *wl, const struct outreg *reg, const char *status) {
  const struct endpoint *ep = &wl->eps[reg->ep];
  CORE(wl, outbound_registration, ep->tech, reg->username, reg->domain, status, event_us(wl));
}

/* trunk-us's registrar rejects us now and then (expired credentials cache on their side) until a retry succeeds. */
static void tick_registrations(struct workload *wl) {
  for (int i = 0; i < 2; i++) {
    struct outreg *reg = &wl->regs[i];
    if (reg->recover_at && wl->tick >= reg->recover_at) {
      reg->recover_at = 0;
      reg_publish(wl, reg, "Registered");
    } else if (reg->flaps && !reg->recover_at && rng_chance(&wl->rng, 1.0 / SECS(45))) {
      reg->recover_at = wl->tick + SECS(10) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(30));
      reg_publish(wl, reg, "Rejected");
    }
  }
}

/* ---- security ----------------------------------------------------------------------------------------------- */

/* A SIP scanner hammering the box: ~20 failed authentications spread over a couple of seconds, every ~30 s. */
static void tick_security(struct workload *wl) {
  struct rng *r = &wl->rng;
  if (wl->burst_left == 0 && wl->tick >= wl->next_burst) {
    wl->burst_left = 20;
    wl->next_burst = wl->tick + SECS(25) + (uint64_t)rng_int(r, 0, (int)SECS(10));
    if (rng_chance(r, 0.35)) { /* the scanner also probes extensions that do not exist */
      for (int n = rng_int(r, 1, 3); n > 0; n--)
        CORE(wl, security_event, "PJSIP", "InvalidAccountID", event_us(wl));
    }
    if (rng_chance(r, 0.25)) CORE(wl, security_event, "AMI", "FailedACL", event_us(wl));
  }
  for (int n = rng_int(r, 2, 5); n > 0 && wl->burst_left > 0; n--, wl->burst_left--)
    CORE(wl, security_event, "PJSIP", rng_chance(r, 0.65) ? "InvalidPassword" : "ChallengeResponseFailed",
         event_us(wl));
}

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
  check(wl, "sample_codecs_begin", rc);
  if (rc != PROM_RS_OK) return; /* without an open sample set the per-channel calls would only fail too */
  for (int i = 0; i < MAX_CALLS; i++) {
    const struct call *c = &wl->calls[i];
    if (c->in.alive) sample_leg_codec(wl, c, &c->in);
    if (c->ag.alive) sample_leg_codec(wl, c, &c->ag);
  }
  check(wl, "sample_codecs_end", wl->api->sample_codecs_end(wl->core));
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

/* What the core would learn at module load: every phone registered and qualified, trunks registered. */
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
  wl->conf.next_start = SECS(5) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(15));
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
