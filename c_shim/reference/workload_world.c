/* workload_world.c - everything on the simulated box besides the calls: 40 agent phones, two trunks and four chan_sip
 * peers (qualify, registration churn, a carrier that lags), the trunks' outbound registrations, the daily ConfBridge
 * and a SIP scanner's bursts of failed logins. See workload_model.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload_model.h"

/* ---- endpoints ------------------------------------------------------------------------------------------------ */

void ep_publish_state(struct workload *wl, const struct endpoint *ep) {
  CORE(wl, endpoint_state, ep->tech, ep->name, ep->online ? EP_ONLINE : EP_OFFLINE, ep->channels, event_us(wl));
}

static void ep_publish_contact(struct workload *wl, const struct endpoint *ep, const char *status, int64_t rtt_us) {
  CORE(wl, endpoint_contact, ep->tech, ep->name, status, rtt_us, event_us(wl));
}

/* A qualify (OPTIONS ping) result: RTT wanders around the endpoint's base value, within the LAN-ish 5-80 ms. */
void ep_qualify(struct workload *wl, struct endpoint *ep) {
  int64_t rtt = (int64_t)((double)ep->base_rtt_us * rng_uniform(&wl->rng, 0.8, 1.3));
  if (rtt < 5000) rtt = 5000;
  if (rtt > 80000) rtt = 80000;
  ep_publish_contact(wl, ep, "Reachable", rtt);
  ep->next_qualify = wl->tick + SECS(30);
}

void ep_init(struct workload *wl, int i) {
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

void tick_endpoints(struct workload *wl) {
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

/* ---- conference ------------------------------------------------------------------------------------------- */

static const char *const CONFERENCE = "daily-standup";

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

void tick_conference(struct workload *wl) {
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

void reg_publish(struct workload *wl, const struct outreg *reg, const char *status) {
  const struct endpoint *ep = &wl->eps[reg->ep];
  CORE(wl, outbound_registration, ep->tech, reg->username, reg->domain, status, event_us(wl));
}

/* trunk-us's registrar rejects us now and then (expired credentials cache on their side) until a retry succeeds. */
void tick_registrations(struct workload *wl) {
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
void tick_security(struct workload *wl) {
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
