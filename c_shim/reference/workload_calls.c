/* workload_calls.c - the calls of the simulated call center: Poisson arrivals on the trunks, queueing with hold-music
 * abandons, agent dialling with realistic DIALSTATUS/hangup-cause mixes, bridges and RTCP reports. See
 * workload_model.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload_model.h"

static const char *const QUEUES[] = {"sales", "support"};

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

/* ---- the calls already up at load --------------------------------------------------------------------------- */

/* A leg that existed before the core was loaded: created `age` ticks ago, in state `state` (what the Asterisk
 * module reads from the channel cache at load). */
static void leg_seed(struct workload *wl, struct leg *leg, int ep_index, int state, const char *codec, uint64_t age) {
  struct endpoint *ep = &wl->eps[ep_index];
  make_uid(wl, leg->uid, sizeof leg->uid);
  leg->alive = 1;
  leg->ep = ep_index;
  leg->codec = codec;
  leg->created_us = event_us(wl) - (int64_t)age * (TICK_NS / 1000);
  CORE(wl, channel_created, leg->uid, ep->tech, ep->name, state, leg->created_us);
  ep->channels++;
  ep_publish_state(wl, ep);
}

/* A conversation that started before load, `age` ticks ago: both legs up and bridged, with the RTCP report the
 * module would receive within its first seconds. */
static void seed_talking_call(struct workload *wl, struct call *c, uint64_t age) {
  int agent = scan_agents(wl, 1);
  if (agent < 0) {
    call_free(wl, c);
    return;
  }
  int trunk = rng_chance(&wl->rng, 0.55) ? TRUNK_UK : TRUNK_US;
  wl->processed_calls++;
  leg_seed(wl, &c->in, trunk, AST_STATE_UP, trunk_codec(wl, trunk), age);
  wl->eps[agent].busy = 1;
  leg_seed(wl, &c->ag, agent, AST_STATE_UP, agent_codec(wl, c->in.codec), age > SECS(10) ? age - SECS(10) : 0);
  c->queue = rng_chance(&wl->rng, 0.6) ? 0 : 1;
  make_bridge_id(wl, c->bridge_id, sizeof c->bridge_id);
  CORE(wl, bridge_created, c->bridge_id, "simple_bridge", 0, event_us(wl));
  CORE(wl, bridge_enter, c->bridge_id, c->in.uid, event_us(wl));
  CORE(wl, bridge_enter, c->bridge_id, c->ag.uid, event_us(wl));
  call_pick_path(wl, c);
  c->phase = PH_TALKING;
  c->next_at = wl->tick + SECS(5) + talk_ticks(wl) / 2; /* it is halfway through, more or less */
  call_rtcp_report(wl, c, RTCP_RX);
  call_rtcp_report(wl, c, RTCP_TX);
  c->next_rtcp = wl->tick + 1 + (uint64_t)rng_int(&wl->rng, 0, (int)RTCP_EVERY - 1);
}

/* A caller who was already on hold music at load, waiting for `age` ticks. */
static void seed_queued_call(struct workload *wl, struct call *c, uint64_t age) {
  int trunk = rng_chance(&wl->rng, 0.55) ? TRUNK_UK : TRUNK_US;
  wl->processed_calls++;
  leg_seed(wl, &c->in, trunk, AST_STATE_UP, trunk_codec(wl, trunk), age);
  c->phase = PH_QUEUED;
  c->queue = rng_chance(&wl->rng, 0.6) ? 0 : 1;
  c->abandon_at = wl->tick + SECS(240) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(60));
  c->next_at = wl->tick + (uint64_t)rng_int(&wl->rng, 1, (int)SECS(5));
  CORE(wl, queue_caller, QUEUES[c->queue], c->in.uid, QUEUE_JOIN, event_us(wl) - (int64_t)age * (TICK_NS / 1000));
}

void seed_calls(struct workload *wl) {
  int talking = 18 + rng_int(&wl->rng, 0, 6), queued = 2 + rng_int(&wl->rng, 0, 2);
  for (int i = 0; i < talking + queued; i++) {
    struct call *c = call_alloc(wl);
    if (!c) return;
    uint64_t age = SECS(5) + (uint64_t)rng_int(&wl->rng, 0, (int)SECS(120));
    if (i < talking)
      seed_talking_call(wl, c, age);
    else
      seed_queued_call(wl, c, age / 8);
  }
}

void tick_calls(struct workload *wl) {
  tick_arrivals(wl);
  for (int i = 0; i < MAX_CALLS; i++) call_step(wl, &wl->calls[i]);
}
