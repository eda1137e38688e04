/* prom_api.c - loading the core with dlopen() into a struct prom_api; see prom_api.h. */
#include "prom_api.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct symbol_entry {
  const char *name;
  size_t offset; /* of the function pointer inside struct prom_api */
};

#define PROM_API_ENTRY(n) {"prom_rs_" #n, offsetof(struct prom_api, n)},
static const struct symbol_entry SYMBOLS[] = {PROM_API_SYMBOLS(PROM_API_ENTRY)};

/* POSIX guarantees dlsym's void * converts to a function pointer; we store it bytewise into the table slot. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers must be object-pointer sized");

/* Fills every slot of API from the SYMBOLS table. Returns 0, or -1 after naming the first missing symbol. */
static int resolve_symbols(struct prom_api *api, const char *path) {
  for (size_t i = 0; i < sizeof SYMBOLS / sizeof SYMBOLS[0]; i++) {
    (void)dlerror(); /* clear any stale error so the check below is about this lookup */
    void *sym = dlsym(api->handle, SYMBOLS[i].name);
    if (!sym) { /* dlerror() would only repeat the path and the name */
      fprintf(stderr, "%s: %s: missing symbol %s (not a res_prom_rs core, or too old)\n", api->who, path,
              SYMBOLS[i].name);
      return -1;
    }
    memcpy((char *)api + SYMBOLS[i].offset, &sym, sizeof sym);
  }
  return 0;
}

void prom_api_unload(struct prom_api *api) {
  if (!api->handle) return;
  if (dlclose(api->handle) != 0) fprintf(stderr, "%s: dlclose: %s\n", api->who, dlerror());
  api->handle = NULL;
}

int prom_api_load(struct prom_api *api, const char *path, const char *who) {
  /* A bare file name would make dlopen search the library path; the host means "relative to the cwd". */
  char buf[4096];
  const char *open_path = path;
  if (!strchr(path, '/')) {
    int n = snprintf(buf, sizeof buf, "./%s", path);
    if (n < 0 || (size_t)n >= sizeof buf) {
      fprintf(stderr, "%s: library path too long: %s\n", who, path);
      return -1;
    }
    open_path = buf;
  }
  memset(api, 0, sizeof *api);
  api->who = who;
  api->handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
  if (!api->handle) {
    fprintf(stderr, "%s: cannot load %s: %s\n", who, path, dlerror());
    return -1;
  }
  if (resolve_symbols(api, path) != 0) {
    prom_api_unload(api);
    return -1;
  }
  uint32_t abi = api->abi_version();
  if (abi != (uint32_t)PROM_RS_ABI_VERSION) {
    fprintf(stderr, "%s: %s implements ABI version %u but this host was built for version %u; refusing it\n", who,
            path, (unsigned)abi, (unsigned)PROM_RS_ABI_VERSION);
    prom_api_unload(api);
    return -1;
  }
  return 0;
}

const char *prom_api_error(const struct prom_api *api, int rc, char *buf, size_t len) {
  if (len == 0) return "";
  buf[0] = '\0';
  if (api->last_error(buf, len) > 0 && buf[0] != '\0') return buf; /* truncation is fine for a log line */
  const char *name = api->strerror(rc);
  if (snprintf(buf, len, "%s (code %d)", name ? name : "unknown error", rc) < 0) buf[0] = '\0';
  return buf;
}
