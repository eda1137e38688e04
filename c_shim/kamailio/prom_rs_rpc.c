/* prom_rs_rpc.c - Kamailio RPCs called in-process: a collecting rpc_t that keeps what an RPC replies as a small tree.
 *
 * Some of Kamailio's numbers live behind RPCs only (tm.stats, kex's pkg.stats, dispatcher.list, core.uptime,
 * core.info). The core process's main thread looks the RPC up with rpc_lookup() and calls its function with the
 * rpc_t below, as ctl or jsonrpcs would for a client; the reply is kept as nodes (struct, array, number, string)
 * in a fixed arena of this process, so a big reply is refused (counted, logged) rather than grown without bound.
 * Only the core process's main thread calls this (rpc_function_t runs Kamailio code: pkg memory, no locking).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "core/str.h"

#include "prom_rs_rpc.h"

/* The reply being collected (one call at a time, on the core process's main thread). */
static struct prom_rs_rpc_reply reply;

static struct prom_rs_rpc_node *new_node(int type, const char *name)
{
	struct prom_rs_rpc_node *n;

	if (reply.n_nodes >= PROM_RS_RPC_MAX_NODES) {
		reply.overflow = 1;
		return NULL;
	}
	n = &reply.nodes[reply.n_nodes++];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->name = name ? prom_rs_rpc_keep(name, strlen(name)) : NULL;
	if (name && !n->name) {
		reply.n_nodes--;
		return NULL;
	}
	return n;
}

const char *prom_rs_rpc_keep(const char *s, size_t len)
{
	char *p;

	if (len + 1 > sizeof(reply.text) - reply.text_used) {
		reply.overflow = 1;
		return NULL;
	}
	p = reply.text + reply.text_used;
	memcpy(p, s, len);
	p[len] = '\0';
	reply.text_used += len + 1;
	return p;
}

static void append(struct prom_rs_rpc_node *parent, struct prom_rs_rpc_node *child)
{
	if (!parent || !child) {
		return;
	}
	if (parent->last) {
		parent->last->next = child;
	} else {
		parent->first = child;
	}
	parent->last = child;
}

/* Adds one value of format character `c` (read from `ap`) under `parent`. Returns 0, or -1 for a character we do
 * not know (the rest of the arguments cannot be read then). */
static int add_value(struct prom_rs_rpc_node *parent, const char *name, char c, va_list *ap)
{
	struct prom_rs_rpc_node *n = NULL;
	const char *s;
	str *sp;

	switch (c) {
	case 'b':
	case 't':
	case 'd':
		n = new_node(PROM_RS_RPC_NUM, name);
		if (n) {
			n->num = (double)va_arg(*ap, int);
		} else {
			(void)va_arg(*ap, int);
		}
		break;
	case 'u':
		n = new_node(PROM_RS_RPC_NUM, name);
		if (n) {
			n->num = (double)va_arg(*ap, unsigned int);
		} else {
			(void)va_arg(*ap, unsigned int);
		}
		break;
	case 'f': {
		double d = va_arg(*ap, double);

		if ((n = new_node(PROM_RS_RPC_NUM, name))) {
			n->num = d;
		}
		break;
	}
	case 'l': {
		long v = va_arg(*ap, long);

		if ((n = new_node(PROM_RS_RPC_NUM, name))) {
			n->num = (double)v;
		}
		break;
	}
	case 'j': {
		unsigned long v = va_arg(*ap, unsigned long);

		if ((n = new_node(PROM_RS_RPC_NUM, name))) {
			n->num = (double)v;
		}
		break;
	}
	case 'L': {
		long long v = va_arg(*ap, long long);

		if ((n = new_node(PROM_RS_RPC_NUM, name))) {
			n->num = (double)v;
		}
		break;
	}
	case 'J': {
		unsigned long long v = va_arg(*ap, unsigned long long);

		if ((n = new_node(PROM_RS_RPC_NUM, name))) {
			n->num = (double)v;
		}
		break;
	}
	case 's':
		s = va_arg(*ap, char *);
		if ((n = new_node(PROM_RS_RPC_STR, name))) {
			n->str = s ? prom_rs_rpc_keep(s, strlen(s)) : "";
			n->str = n->str ? n->str : "";
		}
		break;
	case 'S':
		sp = va_arg(*ap, str *);
		if ((n = new_node(PROM_RS_RPC_STR, name))) {
			n->str = sp && sp->s && sp->len > 0 ? prom_rs_rpc_keep(sp->s, (size_t)sp->len) : "";
			n->str = n->str ? n->str : "";
		}
		break;
	case '{':
	case '[': {
		void **out = va_arg(*ap, void **);

		n = new_node(c == '{' ? PROM_RS_RPC_STRUCT : PROM_RS_RPC_ARRAY, name);
		/* On overflow the RPC still gets a handle (the root), so it goes on without crashing; the reply is
		 * thrown away as a whole. */
		*out = n ? (void *)n : (void *)&reply.root;
		break;
	}
	default:
		reply.bad_format = c;
		return -1;
	}
	append(parent, n);
	return 0;
}

static void rpc_fault(void *ctx, int code, char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	if (reply.fault_code) {
		return; /* keep the first fault */
	}
	reply.fault_code = code ? code : 500;
	va_start(ap, fmt);
	vsnprintf(reply.fault, sizeof(reply.fault), fmt, ap);
	va_end(ap);
}

static int rpc_send(void *ctx)
{
	(void)ctx;
	return 0;
}

static int add_all(struct prom_rs_rpc_node *parent, int named, const char *fmt, va_list *ap)
{
	int added = 0;

	for (; *fmt; fmt++) {
		const char *name = named ? va_arg(*ap, const char *) : NULL;

		if (add_value(parent, name, *fmt, ap) < 0) {
			return -1;
		}
		added++;
	}
	return added;
}

static int rpc_add(void *ctx, char *fmt, ...)
{
	va_list ap;
	int r;

	(void)ctx;
	va_start(ap, fmt);
	r = add_all(&reply.root, 0, fmt, &ap);
	va_end(ap);
	return r < 0 ? -1 : 0;
}

/* We call RPCs without parameters: every parameter is absent. Optional ones ('*' before them) are simply not
 * read; a mandatory one is a fault, as ctl would answer a client that gave too few. */
static int rpc_scan(void *ctx, char *fmt, ...)
{
	(void)ctx;
	for (; *fmt; fmt++) {
		if (*fmt == '*') {
			return 0;
		}
		if (*fmt != '.') {
			rpc_fault(ctx, 400, "parameter missing (prom_rs calls RPCs without parameters)");
			return -1;
		}
	}
	return 0;
}

static int rpc_rpl_printf(void *ctx, char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	struct prom_rs_rpc_node *n;

	(void)ctx;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!(n = new_node(PROM_RS_RPC_STR, NULL))) {
		return -1;
	}
	n->str = prom_rs_rpc_keep(buf, strlen(buf));
	n->str = n->str ? n->str : "";
	append(&reply.root, n);
	return 0;
}

static int rpc_struct_add(void *handle, char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_all(handle, 1, fmt, &ap);
	va_end(ap);
	return r < 0 ? -1 : 0;
}

static int rpc_array_add(void *handle, char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = add_all(handle, 0, fmt, &ap);
	va_end(ap);
	return r < 0 ? -1 : 0;
}

static int rpc_struct_scan(void *handle, char *fmt, ...)
{
	(void)handle;
	(void)fmt;
	return -1;
}

static int rpc_struct_printf(void *handle, char *name, char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	struct prom_rs_rpc_node *n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!(n = new_node(PROM_RS_RPC_STR, name))) {
		return -1;
	}
	n->str = prom_rs_rpc_keep(buf, strlen(buf));
	n->str = n->str ? n->str : "";
	append(handle, n);
	return 0;
}

static rpc_capabilities_t rpc_capabilities(void *ctx)
{
	(void)ctx;
	return 0; /* no delayed replies: the RPC must answer within the call */
}

static struct rpc_delayed_ctx *rpc_delayed_ctx_new(void *ctx)
{
	(void)ctx;
	return NULL;
}

static void rpc_delayed_ctx_close(struct rpc_delayed_ctx *dctx)
{
	(void)dctx;
}

static rpc_t collector = {
	.fault = rpc_fault,
	.send = rpc_send,
	.add = rpc_add,
	.scan = rpc_scan,
	.rpl_printf = rpc_rpl_printf,
	.struct_add = rpc_struct_add,
	.array_add = rpc_array_add,
	.struct_scan = rpc_struct_scan,
	.struct_printf = rpc_struct_printf,
	.capabilities = rpc_capabilities,
	.delayed_ctx_new = rpc_delayed_ctx_new,
	.delayed_ctx_close = rpc_delayed_ctx_close,
};

int prom_rs_rpc_available(const char *method)
{
	return rpc_lookup(method, (int)strlen(method)) != NULL;
}

int prom_rs_rpc_call(const char *method, const struct prom_rs_rpc_reply **out, char *err, size_t errlen)
{
	rpc_export_t *e = rpc_lookup(method, (int)strlen(method));

	*out = NULL;
	if (!e || !e->function) {
		snprintf(err, errlen, "RPC %s is not available (its module is not loaded)", method);
		return PROM_RS_RPC_MISSING;
	}
	memset(&reply.root, 0, sizeof(reply.root));
	reply.root.type = PROM_RS_RPC_ARRAY;
	reply.n_nodes = 0;
	reply.text_used = 0;
	reply.overflow = 0;
	reply.bad_format = 0;
	reply.fault_code = 0;
	reply.fault[0] = '\0';
	e->function(&collector, &reply);
	if (reply.bad_format) {
		snprintf(err, errlen, "RPC %s replied with format character '%c', which prom_rs does not know", method,
			reply.bad_format);
		return PROM_RS_RPC_FAILED;
	}
	if (reply.overflow) {
		snprintf(err, errlen, "RPC %s replied with more than %d values or %d bytes of text; reply ignored",
			method, PROM_RS_RPC_MAX_NODES, PROM_RS_RPC_TEXT_LEN);
		return PROM_RS_RPC_FAILED;
	}
	if (reply.fault_code) {
		snprintf(err, errlen, "RPC %s failed: %d %s", method, reply.fault_code, reply.fault);
		return PROM_RS_RPC_FAULT;
	}
	*out = &reply;
	return PROM_RS_RPC_OK;
}

const struct prom_rs_rpc_node *prom_rs_rpc_get(const struct prom_rs_rpc_node *parent, const char *name)
{
	const struct prom_rs_rpc_node *n;

	for (n = parent ? parent->first : NULL; n; n = n->next) {
		if (n->name && !strcmp(n->name, name)) {
			return n;
		}
	}
	return NULL;
}
