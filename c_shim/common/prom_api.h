/* prom_api.h - the table of res_prom_rs entry points a host that dlopen()s the core calls (the reference host today).
 *
 * Such a host never links against the core: it dlopen()s the shared object and resolves every symbol below into a
 * struct of function pointers (prom_api_load). The pointer types are taken from the header's own
 * prototypes with __typeof__, so a signature change in the generated header is caught by the compiler here instead
 * of becoming a silent ABI mismatch at run time. Host code stores results in plain `int` and compares them with
 * PROM_RS_OK, so it does not depend on the exact enum type name cbindgen chooses.
 */
#ifndef PROM_API_H
#define PROM_API_H

#include <stddef.h>
#include <stdint.h>

#include "res_prom_rs.h"

/* X(name): the library exports prom_rs_<name>. Only the entry points the host actually calls are listed, so a
 * library that lacks one of them is refused up front with the symbol's name. */
#define PROM_API_SYMBOLS(X)                                                                                      \
  X(abi_version) X(version) X(strerror) X(last_error) X(set_logger)                                               \
  X(config_new) X(config_set) X(config_check) X(config_free)                                                                      \
  X(core_start) X(core_reload) X(core_stop)                                                                       \
  X(channel_created) X(channel_state) X(channel_hangup) X(dial_result)                                            \
  X(endpoint_state) X(endpoint_contact) X(rtcp_report)                                                            \
  X(bridge_created) X(bridge_destroyed) X(bridge_enter) X(bridge_leave)                                           \
  X(confbridge_event) X(queue_caller) X(security_event) X(outbound_registration)                                  \
  X(sample_system) X(sample_codecs_begin) X(sample_channel_codec) X(sample_codecs_end)                            \
  X(trace_apply)

#define PROM_API_MEMBER(name) __typeof__(prom_rs_##name) *name;

struct prom_api {
  void *handle;    /* dlopen handle; NULL once unloaded */
  const char *who; /* first word of our messages on stderr, e.g. "prom_host" */
  PROM_API_SYMBOLS(PROM_API_MEMBER)
};

/* dlopen()s the core at PATH (a bare file name means the current directory, not the library search path), resolves
 * every symbol and checks that it speaks our ABI version. Returns 0, or -1 after a message starting with WHO (a
 * static string, kept for later messages); nothing is left open then. */
int prom_api_load(struct prom_api *api, const char *path, const char *who);

/* dlclose()s the core; a second call, or one after a failed load, does nothing. */
void prom_api_unload(struct prom_api *api);

/* Copy the core's message for the last failing call made on THIS thread (the core keeps it thread-local) into buf,
 * falling back to prom_rs_strerror(rc) when the core left no message. Returns buf. */
const char *prom_api_error(const struct prom_api *api, int rc, char *buf, size_t len);

#endif
