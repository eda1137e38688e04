/* modparam.h - reader for OpenSIPS/Kamailio-style `modparam("prom_rs", "key", "value")` configuration files. */
#ifndef MODPARAM_H
#define MODPARAM_H

/* Called once per prom_rs parameter, in file order. Returns 0 to continue, non-zero to stop reading; the callback
 * prints its own message (it gets file and line for that). */
typedef int (*modparam_fn)(const char *key, const char *value, const char *file, unsigned long line, void *ctx);

/* Reads PATH and calls FN for every modparam() of module "prom_rs"; other modules are skipped with a notice.
 * Blank lines, `#` and `//` comments are ignored. Strings may contain \" \\ \n \t \r escapes; a value may also be a
 * bare token (modparam("prom_rs", "port", 9100)). Returns 0 on success, -1 after printing "FILE:LINE: reason" for a
 * malformed line or an unreadable file, or the callback's non-zero result. */
int modparam_read_file(const char *path, modparam_fn fn, void *ctx);

#endif
