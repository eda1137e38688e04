/* modparam.c - line-oriented parser for `modparam("module", "key", "value")` statements.
 *
 * Each line is parsed by a tiny cursor-based scanner; quoted strings are unescaped in place (the decoded text is never
 * longer than the source), so a line needs no allocation beyond getline's buffer and may be of any length.
 */
#include "modparam.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODULE_NAME "prom_rs"

/* A parsed statement: pointers into the (modified) line buffer. */
struct modparam_stmt {
  const char *module;
  const char *key;
  const char *value;
};

/* Scanner state for one line. `error` is a static description of the first problem found. */
struct scan {
  char *p;
  const char *error;
};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

static void skip_space(struct scan *s) {
  while (is_space(*s->p)) s->p++;
}

/* True at end of line or at the start of a trailing comment. */
static int at_end(const struct scan *s) { return *s->p == '\0' || *s->p == '#' || (s->p[0] == '/' && s->p[1] == '/'); }

static int fail(struct scan *s, const char *why) {
  if (!s->error) s->error = why;
  return -1;
}

static int expect_char(struct scan *s, char c, const char *why) {
  skip_space(s);
  if (*s->p != c) return fail(s, why);
  s->p++;
  return 0;
}

static int expect_word(struct scan *s, const char *word, const char *why) {
  size_t n = strlen(word);
  skip_space(s);
  if (strncmp(s->p, word, n) != 0) return fail(s, why);
  s->p += n;
  return 0;
}

/* Maps the character after a backslash to what it stands for; 0 for an unknown escape. */
static char unescape(char c) {
  switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    default: return 0;
  }
}

/* Parses "..." at the cursor, decoding escapes in place; *out points at the NUL-terminated result. */
static int parse_quoted(struct scan *s, const char **out) {
  skip_space(s);
  if (*s->p != '"') return fail(s, "expected a double-quoted string");
  char *src = s->p + 1;
  char *dst = src;
  *out = dst;
  for (;;) {
    char c = *src++;
    if (c == '\0') return fail(s, "unterminated string (missing closing '\"')");
    if (c == '"') break;
    if (c == '\\') {
      char e = unescape(*src);
      if (e == 0) return fail(s, *src ? "unknown escape sequence in string (use \\\" \\\\ \\n \\t \\r)"
                                        : "unterminated string (line ends in a backslash)");
      src++;
      c = e;
    }
    *dst++ = c;
  }
  /* dst never passes the closing quote we just consumed, so terminating here cannot clobber unread input. */
  s->p = src;
  *dst = '\0';
  return 0;
}

static int is_bare_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-' || c == '+' || c == ':';
}

/* A bare value such as 9100 or 0.5, as OpenSIPS allows for integer parameters. Terminated in place, so the caller
 * must have checked what follows the token before the terminator overwrites it: we copy that char out first. */
static int parse_bare(struct scan *s, const char **out, char *after) {
  skip_space(s);
  char *start = s->p;
  while (is_bare_char(*s->p)) s->p++;
  if (s->p == start) return fail(s, "expected a quoted string or a number as the value");
  *after = *s->p;
  *out = start;
  *s->p = '\0';
  return 0;
}

/* Parses the value, which is the last token before ')'. Handles the bare-token case where the terminating NUL is
 * written over the character following the token. */
static int parse_value(struct scan *s, const char **out) {
  skip_space(s);
  if (*s->p == '"') return parse_quoted(s, out) || expect_char(s, ')', "expected ')' after the value");
  char after = 0;
  if (parse_bare(s, out, &after) != 0) return -1;
  char *term = s->p; /* now holds the NUL we wrote */
  if (after == ')') {
    s->p = term + 1;
    return 0;
  }
  if (!is_space(after)) return fail(s, "expected ')' after the value");
  s->p = term + 1;
  return expect_char(s, ')', "expected ')' after the value");
}

/* Parses one line. Returns 1 for a statement, 0 for a blank/comment line, -1 on error (s->error set). */
static int parse_line(char *line, struct modparam_stmt *st, const char **error) {
  struct scan s = {.p = line, .error = NULL};
  skip_space(&s);
  if (at_end(&s)) return 0;
  int bad = expect_word(&s, "modparam", "expected modparam(\"prom_rs\", \"key\", \"value\")") ||
            expect_char(&s, '(', "expected '(' after modparam") || parse_quoted(&s, &st->module) ||
            expect_char(&s, ',', "expected ',' after the module name") || parse_quoted(&s, &st->key) ||
            expect_char(&s, ',', "expected ',' after the parameter name") || parse_value(&s, &st->value);
  if (!bad) {
    skip_space(&s);
    if (*s.p == ';') s.p++; /* Kamailio/OpenSIPS configs often end statements with ';' */
    skip_space(&s);
    if (!at_end(&s)) bad = fail(&s, "unexpected text after modparam(...)");
  }
  if (bad) {
    *error = s.error;
    return -1;
  }
  return 1;
}

/* Handles one raw line from the file: parse, skip foreign modules, hand prom_rs parameters to the callback. */
static int handle_line(char *line, size_t len, const char *path, unsigned long lineno, modparam_fn fn, void *ctx) {
  if (strlen(line) != len) {
    fprintf(stderr, "%s:%lu: line contains a NUL byte\n", path, lineno);
    return -1;
  }
  if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0'; /* so a line ending in '\' reads as unterminated */
  struct modparam_stmt st;
  const char *error = NULL;
  int r = parse_line(line, &st, &error);
  if (r < 0) {
    fprintf(stderr, "%s:%lu: %s\n", path, lineno, error);
    return -1;
  }
  if (r == 0) return 0;
  if (strcmp(st.module, MODULE_NAME) != 0) {
    fprintf(stderr, "%s:%lu: notice: skipping parameter \"%s\" of module \"%s\" (not %s)\n", path, lineno, st.key,
            st.module, MODULE_NAME);
    return 0;
  }
  return fn(st.key, st.value, path, lineno, ctx);
}

int modparam_read_file(const char *path, modparam_fn fn, void *ctx) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "%s: cannot open config: %s\n", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  unsigned long lineno = 0;
  int rc = 0;
  ssize_t n;
  errno = 0;
  while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    rc = handle_line(line, (size_t)n, path, lineno, fn, ctx);
    errno = 0;
  }
  if (rc == 0 && ferror(f)) {
    fprintf(stderr, "%s:%lu: read error: %s\n", path, lineno + 1, strerror(errno ? errno : EIO));
    rc = -1;
  }
  free(line);
  if (fclose(f) != 0 && rc == 0) {
    fprintf(stderr, "%s: close failed: %s\n", path, strerror(errno));
    rc = -1;
  }
  return rc;
}
