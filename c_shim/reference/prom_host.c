/* prom_host.c - reference C host for the res_prom_rs core.
 *
 * Plays the part of the VoIP server: dlopen()s the core, feeds it a modparam() configuration, starts it, then
 * either replays a recorded trace or drives the synthetic call-center workload until SIGINT/SIGTERM (or --duration).
 * SIGHUP re-reads the configuration and hot-reloads the core, like `module reload` would.
 *
 *   prom_host --config FILE [--replay TRACE] [--lib PATH] [--seed N] [--duration SECONDS] [--speed N]
 * SIGUSR1 pauses the synthetic workload between two ticks; the next SIGUSR1 resumes it.
 *
 * Exit status: 0 after a clean stop (also when SIGINT/SIGTERM arrives during startup: the handlers are installed
 * before anything else), 1 when the library cannot be loaded or the core cannot start (e.g. port in use), 2 for bad
 * arguments, an unreadable trace or a refused configuration (with FILE:LINE of the key the core names).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "modparam.h"
#include "prom_api.h"
#include "workload.h"

#define DEFAULT_LIB "target/release/libres_prom_rs.so"
#define DEFAULT_SEED 1
#define POLL_NS 100000000L /* the main loop notices signals and deadlines within 100 ms */

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* The only mutable globals: set from signal handlers, consumed by the main loop. Two flags because a stop and a
 * reload can be pending at the same time and a handler cannot safely read-modify-write a shared bit set. */
static volatile sig_atomic_t g_stop_requested;
static volatile sig_atomic_t g_reload_requested;
static volatile sig_atomic_t g_pause_toggles; /* SIGUSR1 count: each one pauses or resumes the synthetic workload */

struct host_opts {
  const char *config;
  const char *replay;
  const char *lib;
  unsigned long long seed;
  double duration; /* seconds; 0 = run until signalled */
  double speed;    /* workload: simulated seconds per real second */
};

struct host {
  struct host_opts opt;
  struct prom_api api;
  prom_rs_config *cfg; /* kept for the core's whole life: the ABI only borrows it in start/reload */
  prom_rs_core *core;
  struct workload *wl;
  int64_t startup_us;
  struct timespec deadline; /* CLOCK_MONOTONIC; valid when opt.duration > 0 */
  int paused;               /* the workload is held by SIGUSR1 */
};

/* ---- command line -------------------------------------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: prom_host --config FILE [--replay TRACE] [--lib PATH] [--seed N] [--duration SECONDS] [--speed N]\n"
          "  --config FILE      modparam(\"prom_rs\", \"key\", \"value\") lines (required)\n"
          "  --replay TRACE     apply a recorded trace instead of the synthetic workload, then keep serving\n"
          "  --lib PATH         core library (default %s)\n"
          "  --seed N           seed of the synthetic workload (default %d)\n"
          "  --duration SECONDS stop by itself after this long, as if signalled\n"
          "  --speed N          run the synthetic workload N times faster than real time (1-100, default 1)\n",
          DEFAULT_LIB, DEFAULT_SEED);
}

static int parse_seed(const char *s, unsigned long long *out) {
  char *end;
  errno = 0;
  if (*s == '-' || *s == '\0') return -1;
  *out = strtoull(s, &end, 0);
  return (errno || *end) ? -1 : 0;
}

static int parse_duration(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return (errno || *end || end == s || !isfinite(*out) || *out <= 0 || *out > 1e9) ? -1 : 0;
}

/* Stores one option's value; returns 0, or -1 after a message. */
static int set_option(struct host_opts *o, const char *name, const char *value) {
  if (strcmp(name, "--config") == 0) o->config = value;
  else if (strcmp(name, "--replay") == 0) o->replay = value;
  else if (strcmp(name, "--lib") == 0) o->lib = value;
  else if (strcmp(name, "--seed") == 0) {
    if (parse_seed(value, &o->seed) != 0) {
      fprintf(stderr, "prom_host: --seed wants a non-negative integer, got '%s'\n", value);
      return -1;
    }
  } else if (strcmp(name, "--speed") == 0) {
    if (parse_duration(value, &o->speed) != 0 || o->speed < 1 || o->speed > 100) {
      fprintf(stderr, "prom_host: --speed wants a number from 1 to 100, got '%s'\n", value);
      return -1;
    }
  } else if (strcmp(name, "--duration") == 0) {
    if (parse_duration(value, &o->duration) != 0) {
      fprintf(stderr, "prom_host: --duration wants a positive number of seconds, got '%s'\n", value);
      return -1;
    }
  } else {
    fprintf(stderr, "prom_host: unknown option '%s'\n", name);
    return -1;
  }
  return 0;
}

/* Accepts "--opt value" and "--opt=value". Returns -1 to continue, otherwise the exit status. */
static int parse_args(int argc, char **argv, struct host_opts *o) {
  *o = (struct host_opts){.lib = DEFAULT_LIB, .seed = DEFAULT_SEED, .speed = 1};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      usage(stdout);
      return EXIT_OK;
    }
    char name[32];
    const char *value;
    const char *eq = strchr(arg, '=');
    if (strncmp(arg, "--", 2) == 0 && eq && (size_t)(eq - arg) < sizeof name) {
      memcpy(name, arg, (size_t)(eq - arg));
      name[eq - arg] = '\0';
      value = eq + 1;
    } else {
      if (i + 1 >= argc || strlen(arg) >= sizeof name) {
        fprintf(stderr, "prom_host: option '%s' needs a value\n", arg);
        usage(stderr);
        return EXIT_USAGE;
      }
      strcpy(name, arg);
      value = argv[++i];
    }
    if (set_option(o, name, value) != 0) {
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (!o->config) {
    fprintf(stderr, "prom_host: --config FILE is required\n");
    usage(stderr);
    return EXIT_USAGE;
  }
  return -1;
}

/* ---- signals ---------------------------------------------------------------------------------------------- */

static void on_stop_signal(int sig) {
  (void)sig;
  g_stop_requested = 1;
}

static void on_reload_signal(int sig) {
  (void)sig;
  g_reload_requested = 1;
}

static void on_pause_signal(int sig) {
  (void)sig;
  g_pause_toggles = g_pause_toggles + 1;
}

static int install_handler(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  if (sigemptyset(&sa.sa_mask) != 0 || sigaction(sig, &sa, NULL) != 0) {
    fprintf(stderr, "prom_host: sigaction(%d): %s\n", sig, strerror(errno));
    return -1;
  }
  return 0;
}

/* No SA_RESTART: a signal should cut the main loop's sleep short. SIGPIPE is ignored like Asterisk does, so a
 * scraper hanging up mid-response (or a closed stdout) is an error return, not process death. */
static int install_signal_handlers(void) {
  if (install_handler(SIGINT, on_stop_signal) || install_handler(SIGTERM, on_stop_signal) ||
      install_handler(SIGHUP, on_reload_signal) || install_handler(SIGUSR1, on_pause_signal) ||
      install_handler(SIGPIPE, SIG_IGN))
    return -1;
  return 0;
}

/* Blocks (how = SIG_BLOCK) or unblocks (SIG_UNBLOCK) our signals in the calling thread. They stay blocked while the
 * core and workload threads are created, so those threads inherit the mask and every signal lands in the main
 * thread, whose sleep it interrupts. */
static int mask_signals(int how) {
  sigset_t set;
  if (sigemptyset(&set) || sigaddset(&set, SIGINT) || sigaddset(&set, SIGTERM) || sigaddset(&set, SIGHUP) ||
      sigaddset(&set, SIGUSR1))
    return -1;
  int rc = pthread_sigmask(how, &set, NULL);
  if (rc != 0) {
    fprintf(stderr, "prom_host: pthread_sigmask: %s\n", strerror(rc));
    return -1;
  }
  return 0;
}

/* ---- core library --------------------------------------------------------------------------------------------- */

/* Logger handed to the core; it may be called from any of the core's threads. One fprintf per message keeps lines
 * whole, since stdio locks the stream per call. */
static void host_log(int32_t level, const char *message, void *userdata) {
  static const char *const names[] = {"LOG0", "ERROR", "WARNING", "NOTICE", "DEBUG"};
  (void)userdata;
  const char *name = (level >= 1 && level <= 4) ? names[level] : "LOG";
  fprintf(stderr, "[prom_host] %s: %s\n", name, message ? message : "(null)");
}

/* ---- configuration ------------------------------------------------------------------------------------------ */

/* A key the file set and its line, so a refusal of the whole configuration can point at the line of the key. */
struct key_line {
  char *key; /* as written, trimmed by the parser */
  unsigned long line;
};

struct config_ctx {
  const struct prom_api *api;
  prom_rs_config *cfg;
  struct key_line *lines;
  size_t n_lines, cap_lines;
};

static void remember_line(struct config_ctx *ctx, const char *key, unsigned long line) {
  if (ctx->n_lines == ctx->cap_lines) {
    size_t cap = ctx->cap_lines ? ctx->cap_lines * 2 : 32;
    struct key_line *grown = realloc(ctx->lines, cap * sizeof *grown);
    if (!grown) return; /* only the line number of a later message is lost */
    ctx->lines = grown;
    ctx->cap_lines = cap;
  }
  char *copy = strdup(key);
  if (!copy) return;
  ctx->lines[ctx->n_lines++] = (struct key_line){copy, line};
}

static void forget_lines(struct config_ctx *ctx) {
  for (size_t i = 0; i < ctx->n_lines; i++) free(ctx->lines[i].key);
  free(ctx->lines);
  ctx->lines = NULL;
  ctx->n_lines = ctx->cap_lines = 0;
}

static int apply_param(const char *key, const char *value, const char *file, unsigned long line, void *arg) {
  struct config_ctx *ctx = arg;
  int rc = ctx->api->config_set(ctx->cfg, key, value);
  if (rc == PROM_RS_OK) {
    remember_line(ctx, key, line);
    return 0;
  }
  char msg[1024];
  fprintf(stderr, "%s:%lu: %s\n", file, line, prom_api_error(ctx->api, rc, msg, sizeof msg));
  return -1;
}

/* The line that set the key a core message starts with (`key "NAME": ...`), or 0. Keys compare as the core
 * compares them: without case and surrounding space. */
static unsigned long line_of_key(const struct config_ctx *ctx, const char *msg) {
  static const char prefix[] = "key \"";
  if (strncmp(msg, prefix, sizeof prefix - 1) != 0) return 0;
  const char *name = msg + sizeof prefix - 1;
  const char *end = strchr(name, '"');
  if (!end) return 0;
  size_t len = (size_t)(end - name);
  for (size_t i = 0; i < ctx->n_lines; i++) {
    const char *k = ctx->lines[i].key;
    while (isspace((unsigned char)*k)) k++;
    size_t klen = strlen(k);
    while (klen > 0 && isspace((unsigned char)k[klen - 1])) klen--;
    if (klen == len && strncasecmp(k, name, len) == 0) return ctx->lines[i].line;
  }
  return 0;
}

/* The checks of the whole configuration (pairs of keys, usable files), reported as FILE:LINE like a bad value. */
static int check_config(struct config_ctx *ctx, const char *path) {
  int rc = ctx->api->config_check(ctx->cfg);
  if (rc == PROM_RS_OK) return 0;
  char msg[1024];
  prom_api_error(ctx->api, rc, msg, sizeof msg);
  unsigned long line = line_of_key(ctx, msg);
  if (line) fprintf(stderr, "%s:%lu: %s\n", path, line, msg);
  else fprintf(stderr, "%s: %s\n", path, msg);
  return -1;
}

/* Builds a new core configuration from PATH. Returns 0 and *out, or -1 after a message (nothing leaks). */
static int config_load(const struct prom_api *api, const char *path, prom_rs_config **out) {
  struct config_ctx ctx = {api, NULL, NULL, 0, 0};
  int rc = api->config_new(&ctx.cfg);
  if (rc != PROM_RS_OK || !ctx.cfg) {
    char msg[1024];
    fprintf(stderr, "prom_host: prom_rs_config_new: %s\n", prom_api_error(api, rc, msg, sizeof msg));
    return -1;
  }
  if (modparam_read_file(path, apply_param, &ctx) != 0 || check_config(&ctx, path) != 0) {
    forget_lines(&ctx);
    api->config_free(ctx.cfg);
    return -1;
  }
  forget_lines(&ctx);
  *out = ctx.cfg;
  return 0;
}

/* SIGHUP: a bad file or a refused reload leaves the running configuration in place. */
static void host_reload(struct host *h) {
  fprintf(stderr, "prom_host: SIGHUP: reloading %s\n", h->opt.config);
  prom_rs_config *cfg = NULL;
  if (config_load(&h->api, h->opt.config, &cfg) != 0) {
    fprintf(stderr, "prom_host: reload failed; keeping the running configuration\n");
    return;
  }
  int rc = h->api.core_reload(h->core, cfg); /* the C ABI lets a reload run while the workload sends events */
  if (rc != PROM_RS_OK) {
    char msg[1024];
    fprintf(stderr, "prom_host: reload refused by the core: %s\n", prom_api_error(&h->api, rc, msg, sizeof msg));
    h->api.config_free(cfg);
    return;
  }
  h->api.config_free(h->cfg);
  h->cfg = cfg;
  workload_note_reload(h->wl, wall_clock_us());
  fprintf(stderr, "prom_host: configuration reloaded\n");
}

/* ---- run loop --------------------------------------------------------------------------------------------------- */

static int deadline_passed(const struct host *h) {
  if (h->opt.duration <= 0) return 0;
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return 0;
  return now.tv_sec > h->deadline.tv_sec || (now.tv_sec == h->deadline.tv_sec && now.tv_nsec >= h->deadline.tv_nsec);
}

static void set_deadline(struct host *h) {
  if (h->opt.duration <= 0 || clock_gettime(CLOCK_MONOTONIC, &h->deadline) != 0) {
    h->opt.duration = 0; /* no monotonic clock means no self-stop; signals still work */
    return;
  }
  double whole = floor(h->opt.duration);
  h->deadline.tv_sec += (time_t)whole;
  h->deadline.tv_nsec += (long)((h->opt.duration - whole) * 1e9);
  if (h->deadline.tv_nsec >= 1000000000L) {
    h->deadline.tv_nsec -= 1000000000L;
    h->deadline.tv_sec++;
  }
}

static int should_stop(const struct host *h) { return g_stop_requested || deadline_passed(h); }

/* Sleeps up to POLL_NS; a signal cuts it short (EINTR), which is exactly what we want. */
static void poll_sleep(void) {
  struct timespec ts = {0, POLL_NS};
  if (nanosleep(&ts, NULL) != 0 && errno != EINTR) fprintf(stderr, "prom_host: nanosleep: %s\n", strerror(errno));
}

/* SIGUSR1 freezes the synthetic workload (between two ticks) and the next one lets it go on: a test can then read a
 * page that no event is changing, e.g. to compare it with the replay of the trace recorded so far. */
static void apply_pause_toggles(struct host *h, sig_atomic_t *seen) {
  sig_atomic_t now = g_pause_toggles;
  for (; *seen != now; (*seen)++) {
    h->paused = (*seen % 2 == 0);
    if (h->paused) {
      workload_pause(h->wl);
      fprintf(stderr, "prom_host: workload paused\n");
    } else {
      workload_resume(h->wl);
      fprintf(stderr, "prom_host: workload resumed\n");
    }
  }
}

static void serve_until_stopped(struct host *h) {
  sig_atomic_t pause_seen = 0;
  while (!should_stop(h)) {
    if (h->wl) apply_pause_toggles(h, &pause_seen);
    if (g_reload_requested) {
      g_reload_requested = 0;
      host_reload(h);
    }
    poll_sleep();
  }
}

static int is_blank_or_comment(const char *line) {
  while (*line == ' ' || *line == '\t') line++;
  return *line == '\0' || *line == '#';
}

/* Applies one trace line; returns 1 if it counted as an event, and bumps *errors on failure. */
static int replay_line(struct host *h, const char *trace, unsigned long lineno, char *line, size_t len,
                       unsigned long *errors) {
  if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
  if (len > 0 && line[len - 1] == '\r') line[--len] = '\0'; /* tolerate CRLF: a real \r is escaped in traces */
  int event = !is_blank_or_comment(line);
  if (strlen(line) != len) {
    fprintf(stderr, "%s:%lu: line contains a NUL byte\n", trace, lineno);
    ++*errors;
    return event;
  }
  int rc = h->api.trace_apply(h->core, line);
  if (rc != PROM_RS_OK) {
    char msg[1024];
    fprintf(stderr, "%s:%lu: %s\n", trace, lineno, prom_api_error(&h->api, rc, msg, sizeof msg));
    ++*errors;
  }
  return event;
}

/* Feeds TRACE to the core line by line and reports the totals on stdout. Returns 0, or -1 if it cannot be read. */
static int replay_trace(struct host *h, const char *trace) {
  FILE *f = fopen(trace, "r");
  if (!f) {
    fprintf(stderr, "prom_host: cannot open trace %s: %s\n", trace, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  unsigned long lineno = 0, events = 0, errors = 0;
  int interrupted = 0;
  while ((n = getline(&line, &cap, f)) >= 0) {
    if (should_stop(h)) {
      interrupted = 1;
      break;
    }
    events += (unsigned long)replay_line(h, trace, ++lineno, line, (size_t)n, &errors);
  }
  int read_failed = !interrupted && ferror(f);
  if (read_failed) fprintf(stderr, "prom_host: reading %s failed after line %lu\n", trace, lineno);
  free(line);
  if (fclose(f) != 0) fprintf(stderr, "prom_host: closing %s: %s\n", trace, strerror(errno));
  if (interrupted) {
    fprintf(stderr, "prom_host: replay interrupted after %lu events, %lu errors\n", events, errors);
    return 0;
  }
  printf("replay done: %lu events, %lu errors\n", events, errors + (unsigned long)read_failed);
  if (fflush(stdout) != 0) fprintf(stderr, "prom_host: writing to stdout: %s\n", strerror(errno));
  return 0;
}

/* ---- lifecycle --------------------------------------------------------------------------------------------- */

/* Loads the library, applies the configuration and starts the core (with our signals blocked, see mask_signals). */
static int host_open(struct host *h) {
  if (prom_api_load(&h->api, h->opt.lib, "prom_host") != 0) return EXIT_RUNTIME;
  h->api.set_logger(host_log, NULL);
  const char *version = h->api.version();
  fprintf(stderr, "prom_host: loaded %s (res_prom_rs %s, ABI %u)\n", h->opt.lib, version ? version : "?",
          (unsigned)PROM_RS_ABI_VERSION);
  if (config_load(&h->api, h->opt.config, &h->cfg) != 0) return EXIT_USAGE;
  int rc = h->api.core_start(h->cfg, &h->core);
  if (rc != PROM_RS_OK || !h->core) {
    char msg[1024];
    fprintf(stderr, "prom_host: cannot start the core: %s\n", prom_api_error(&h->api, rc, msg, sizeof msg));
    h->core = NULL;
    return EXIT_RUNTIME;
  }
  return EXIT_OK;
}

/* Runs the chosen traffic source until stopped. */
static int host_serve(struct host *h) {
  if (!h->opt.replay) {
    fprintf(stderr, "prom_host: starting the synthetic workload (seed %llu)\n", h->opt.seed);
    struct workload_params p = {&h->api, h->core, (uint64_t)h->opt.seed, h->startup_us, h->opt.speed};
    h->wl = workload_start(&p);
    if (!h->wl) return EXIT_RUNTIME;
  }
  if (mask_signals(SIG_UNBLOCK) != 0) return EXIT_RUNTIME;
  if (h->opt.replay && replay_trace(h, h->opt.replay) != 0) return EXIT_USAGE;
  serve_until_stopped(h);
  return EXIT_OK;
}

/* Tears down whatever host_open/host_serve set up, in reverse order. Safe on partial setups. */
static void host_close(struct host *h) {
  if (h->paused) workload_resume(h->wl); /* a paused workload holds its tick lock: let it finish to stop it */
  workload_stop(h->wl); /* no more events once the core is gone */
  h->wl = NULL;
  if (h->core) h->api.core_stop(h->core);
  h->core = NULL;
  if (h->cfg) h->api.config_free(h->cfg);
  h->cfg = NULL;
  prom_api_unload(&h->api);
}

int main(int argc, char **argv) {
  /* First of all: from here on SIGINT/SIGTERM only set a flag (a stop requested during startup is honoured once
   * the core runs), so a signal at any moment ends in a clean exit, never in death by the signal. */
  if (install_signal_handlers() != 0 || mask_signals(SIG_BLOCK) != 0) return EXIT_RUNTIME;
  struct host h;
  memset(&h, 0, sizeof h);
  int status = parse_args(argc, argv, &h.opt);
  if (status >= 0) return status;
  h.startup_us = wall_clock_us();
  set_deadline(&h);
  status = host_open(&h);
  if (status == EXIT_OK) status = host_serve(&h);
  host_close(&h);
  if (status == EXIT_OK) fprintf(stderr, "prom_host: stopped\n");
  return status;
}
