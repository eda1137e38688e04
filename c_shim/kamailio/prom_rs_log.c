/* prom_rs_log.c - the core process's log lines, sent to the supervisor, which writes them to Kamailio's log.
 *
 * Any thread of the core process may log (the Rust core's threads through the logger callback, the main thread's
 * sampling directly); only the supervisor's main thread calls Kamailio's LM_* (prom_rs_exporter.c).
 */

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "prom_rs_kam.h"

/* The core process's end of the log pipe (write side, non-blocking). */
static int log_fd = -1;
static atomic_ulong logs_dropped;

/* One line per message on the log pipe: the level digit, then the text (newlines flattened). Writes of at most
 * PIPE_BUF bytes are atomic, so lines from several threads never interleave; a full pipe drops the line (counted)
 * rather than block a core thread. */
static void log_line(int level, const char *msg)
{
	char line[1024];
	size_t n, i;

	if (level < 1 || level > 4) {
		level = 4;
	}
	n = (size_t)snprintf(line, sizeof(line) - 1, "%d%s", level, msg);
	if (n > sizeof(line) - 2) {
		n = sizeof(line) - 2;
	}
	for (i = 1; i < n; i++) {
		if (line[i] == '\n' || line[i] == '\r') {
			line[i] = ' ';
		}
	}
	line[n++] = '\n';
	if (log_fd < 0 || write(log_fd, line, n) != (ssize_t)n) {
		atomic_fetch_add(&logs_dropped, 1);
	}
}

void prom_rs_kam_log(int level, const char *fmt, ...)
{
	char msg[1000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(level, msg);
}

static void core_logger(int32_t level, const char *message, void *userdata)
{
	(void)userdata;
	log_line((int)level, message ? message : "(null)");
}

void prom_rs_kam_log_open(int fd)
{
	log_fd = fd;
	fcntl(log_fd, F_SETFL, fcntl(log_fd, F_GETFL) | O_NONBLOCK);
	prom_rs_set_logger(core_logger, NULL);
}

unsigned long prom_rs_kam_logs_dropped(void)
{
	return (unsigned long)atomic_load(&logs_dropped);
}
