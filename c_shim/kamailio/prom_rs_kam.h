/* prom_rs_kam.h - what the files of the Kamailio module (prom_rs.so) share.
 *
 * Processes: Kamailio's main process parses the modparams into one prom_rs_config (prom_rs_mod.c) and, in
 * child_init(PROC_MAIN), forks the "prom_rs exporter" process. That process (the supervisor, prom_rs_exporter.c)
 * is the one Kamailio knows about: it never runs Rust code, forwards our log lines to Kamailio's log from its main
 * thread, and runs the core in a child of its own (the core process), restarted with backoff if it ever dies, so
 * nothing in our code can make one of Kamailio's children exit before Kamailio asks it to. The core process runs
 * the Rust core (HTTP and its other threads) and, on its main thread, samples Kamailio's counters (prom_rs_stats.c).
 */

#ifndef PROM_RS_KAM_H
#define PROM_RS_KAM_H

#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>

#include "core/sr_module.h"

#include "res_prom_rs.h"

/* Size of the status text shared with the RPC processes. */
#define PROM_RS_KAM_STATUS_LEN 8192

/* Shared memory (shm_malloc in mod_init): what `kamcmd prom_rs.status` prints. One writer at a time (the core
 * process while it runs, else the supervisor), any number of readers in RPC processes: a sequence lock, so a reader
 * never waits on, and never deadlocks behind, a writer that died. */
struct prom_rs_kam_shared {
	atomic_uint seq;           /* odd while the text is being written */
	atomic_int supervisor_pid; /* the process Kamailio forked */
	atomic_int core_pid;       /* the process running the core, 0 when none */
	int64_t updated_us;        /* when the text was written (Unix time, microseconds) */
	char text[PROM_RS_KAM_STATUS_LEN];
};

extern struct prom_rs_kam_shared *prom_rs_kam_shm;

/* prom_rs_mod.c: the configuration built from the modparams (main process; inherited by the forks). */
extern prom_rs_config *prom_rs_kam_cfg;
/* The sample interval the core accepted, in milliseconds. */
extern int64_t prom_rs_kam_sample_ms;

/* prom_rs_exporter.c */
void prom_rs_kam_supervise(void) __attribute__((noreturn));
/* Logs from any thread of the core process (1 error, 2 warning, 3 notice, 4 debug): the line goes to the
 * supervisor, which writes it to Kamailio's log. */
void prom_rs_kam_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces the status text (writer side of the sequence lock). */
void prom_rs_kam_publish(const char *text);
int64_t prom_rs_kam_now_us(void);

/* prom_rs_stats.c: pushes every Kamailio counter into the core; returns how many were pushed, *refused gets how
 * many the core refused. Call on the core process's main thread only. */
int prom_rs_kam_sample(const prom_rs_core *core, int *refused);
/* 2 (gauge) or 1 (counter) for a Kamailio statistic. */
int prom_rs_kam_stat_kind(const char *group, const char *name);

/* prom_rs_script.c: metrics from the routing script (declarations, store, script functions, KEMI, RPCs). */
struct prs_store;
extern struct prs_store *prom_rs_kam_store;
extern cmd_export_t prom_rs_kam_cmds[];
int prom_rs_kam_param_counter(modparam_t type, void *val);
int prom_rs_kam_param_gauge(modparam_t type, void *val);
int prom_rs_kam_param_histogram(modparam_t type, void *val);
int prom_rs_kam_param_timeout(modparam_t type, void *val);
/* mod_init: the store in shared memory and the RPCs (after the modparams, before the fork). */
int prom_rs_kam_script_init(const prom_rs_config *cfg);
/* Core process, main thread: after each start of the core (returns how many declarations the core refused, the
 * first reason in err), then every sample (returns how many series the core refused, the first reason in err). */
int prom_rs_kam_script_declare(const prom_rs_core *core, char *err, size_t errlen);
unsigned prom_rs_kam_script_sample(const prom_rs_core *core, char *err, size_t errlen);
void prom_rs_kam_script_destroy(void);

#endif
