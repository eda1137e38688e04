/* prom_rs_rpc.h - Kamailio RPCs called in-process (prom_rs_rpc.c) and the data read from them (prom_rs_rpcdata.c).
 * Core process, main thread only. */

#ifndef PROM_RS_RPC_H
#define PROM_RS_RPC_H

#include <stddef.h>

#include "res_prom_rs.h"

/* Bounds of one reply: about 300 dispatcher destinations with attributes, or thousands of pkg.stats rows. */
#define PROM_RS_RPC_MAX_NODES 16384
#define PROM_RS_RPC_TEXT_LEN (1024 * 1024)

enum { PROM_RS_RPC_STRUCT = 1, PROM_RS_RPC_ARRAY, PROM_RS_RPC_NUM, PROM_RS_RPC_STR };

/* One value of a reply: a struct or array (children first..last), a number, or a string. */
struct prom_rs_rpc_node {
	int type;
	const char *name; /* struct member name, NULL in arrays and at the top */
	double num;
	const char *str;
	struct prom_rs_rpc_node *first, *last, *next;
};

/* A reply: `root` is an array of what the RPC added at its top level (rpc->add). */
struct prom_rs_rpc_reply {
	struct prom_rs_rpc_node root;
	struct prom_rs_rpc_node nodes[PROM_RS_RPC_MAX_NODES];
	int n_nodes;
	char text[PROM_RS_RPC_TEXT_LEN];
	size_t text_used;
	int overflow;
	char bad_format;
	int fault_code;
	char fault[256];
};

enum { PROM_RS_RPC_OK = 0, PROM_RS_RPC_MISSING = 1, PROM_RS_RPC_FAULT = 2, PROM_RS_RPC_FAILED = 3 };

/* 1 when an RPC of that name is registered (its module is loaded). */
int prom_rs_rpc_available(const char *method);
/* Calls `method` without parameters. PROM_RS_RPC_OK: *out is the reply, valid until the next call. Otherwise `err`
 * says why: MISSING (no such RPC), FAULT (the RPC answered with a fault), FAILED (reply too big or not readable). */
int prom_rs_rpc_call(const char *method, const struct prom_rs_rpc_reply **out, char *err, size_t errlen);
/* The member `name` of a struct node (NULL when absent). */
const struct prom_rs_rpc_node *prom_rs_rpc_get(const struct prom_rs_rpc_node *parent, const char *name);
/* Copies `len` bytes into the reply's text arena (NULL when full). */
const char *prom_rs_rpc_keep(const char *s, size_t len);

/* prom_rs_rpcdata.c: what the sample adds from RPCs. */
struct prom_rs_rpc_summary {
	int ok;                /* every available RPC answered */
	int pkg_processes;     /* pkg.stats rows */
	int dispatcher_loaded; /* dispatcher.list exists */
	int destinations;      /* dispatcher destinations */
	int pushed, refused;   /* values set in the core / refused by it */
};

/* Reads tm.stats, pkg.stats, core.uptime, core.info and dispatcher.list into the core. Logs a failing RPC once
 * (and again when it recovers), and a missing module once. */
void prom_rs_kam_sample_rpcs(const prom_rs_core *core, struct prom_rs_rpc_summary *sum);

#endif
