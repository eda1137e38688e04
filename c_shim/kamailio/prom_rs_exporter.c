/* prom_rs_exporter.c - the exporter process Kamailio forks for prom_rs, and the core process it runs.
 *
 * Kamailio shuts the whole server down as soon as any of its children exits, so the process it forked for us (the
 * supervisor) only does things that cannot fail that way: it starts the core process, writes the core process's
 * log lines to Kamailio's log (from its own main thread, the only thread it has), restarts the core process with
 * backoff if it dies (a Rust abort, a crash, a kill), and on SIGTERM stops it and exits 0.
 *
 * The core process runs the Rust core: the HTTP listener and the core's other threads (with every signal blocked,
 * so SIGTERM reaches the main thread), and on its main thread, every sample interval, Kamailio's counters pushed
 * with prom_rs_stat_set() and the status text for `kamcmd prom_rs.status`. If the port is taken, it logs why and
 * tries again with backoff (1 s doubling to 30 s) while SIP service goes on. On SIGTERM it stops the core (joins its
 * threads, releases the port) and exits 0.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/dprint.h"
#include "core/cfg/cfg_struct.h"

#include "prom_rs_kam.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
/* A core process that lived this long resets the restart backoff. */
#define RESTART_RESET_MS 60000
/* How long the supervisor waits for the core process to stop before it kills it. */
#define STOP_WAIT_MS 5000

static volatile sig_atomic_t stop_requested;
static int wake_pipe[2] = {-1, -1};
/* The core process's end of the log pipe (write side, non-blocking). */
static int log_fd = -1;
static atomic_ulong logs_dropped;

int64_t prom_rs_kam_now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_stop_signal(int signo)
{
	int saved = errno;
	char c = (char)signo;

	stop_requested = 1;
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], &c, 1) < 0) {
		/* full: the loop is being woken anyway */
	}
	errno = saved;
}

static int make_wake_pipe(void)
{
	if (wake_pipe[0] >= 0) {
		close(wake_pipe[0]);
		close(wake_pipe[1]);
	}
	return pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK);
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0) {
	}
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

/* ---- the status text ---------------------------------------------------------------------------------------- */

void prom_rs_kam_publish(const char *text)
{
	struct prom_rs_kam_shared *s = prom_rs_kam_shm;
	size_t n;

	if (!s) {
		return;
	}
	n = strlen(text);
	if (n >= sizeof(s->text)) {
		n = sizeof(s->text) - 1;
	}
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(s->text, text, n);
	s->text[n] = '\0';
	s->updated_us = prom_rs_kam_now_us();
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

/* ---- logging ------------------------------------------------------------------------------------------------ */

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

/* Supervisor side: writes complete lines from the core process to Kamailio's log. */
struct line_reader {
	char buf[8192];
	size_t len;
};

static void emit(const char *line)
{
	const char *text = line + 1;

	switch (line[0]) {
	case '1':
		LM_ERR("%s\n", text);
		break;
	case '2':
		LM_WARN("%s\n", text);
		break;
	case '3':
		LM_NOTICE("%s\n", text);
		break;
	default:
		LM_DBG("%s\n", text);
		break;
	}
}

/* Returns 0 at end of file (the core process closed its end: it has exited). */
static int read_lines(int fd, struct line_reader *r)
{
	for (;;) {
		ssize_t got = read(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
		char *start, *nl;

		if (got == 0) {
			return 0;
		}
		if (got < 0) {
			return errno == EAGAIN || errno == EINTR ? 1 : 0;
		}
		r->len += (size_t)got;
		r->buf[r->len] = '\0';
		start = r->buf;
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			if (nl > start) {
				emit(start);
			}
			start = nl + 1;
		}
		r->len -= (size_t)(start - r->buf);
		memmove(r->buf, start, r->len);
		if (r->len == sizeof(r->buf) - 1) {
			r->buf[r->len] = '\0';
			emit(r->buf);
			r->len = 0;
		}
	}
}

/* ---- the core process ----------------------------------------------------------------------------------------- */

static void publish_not_serving(const char *why, int64_t retry_ms)
{
	char text[2048];

	snprintf(text, sizeof(text),
		"Listening:        not serving: %s\nNext attempt:     in %.0f s (SIP service is not affected)\n", why,
		(double)retry_ms / 1000.0);
	prom_rs_kam_publish(text);
}

static void publish_status(const prom_rs_core *core, int sampled, int refused, int64_t sample_ms)
{
	char text[PROM_RS_KAM_STATUS_LEN];
	size_t n = prom_rs_core_status(core, text, sizeof(text));

	if (n >= sizeof(text)) {
		n = sizeof(text) - 1;
	}
	snprintf(text + n, sizeof(text) - n,
		"Host statistics:  %d Kamailio counters sampled every %.3g s, %d refused by the core (see the log)\n",
		sampled, (double)sample_ms / 1000.0, refused);
	if (atomic_load(&logs_dropped)) {
		size_t m = strlen(text);

		snprintf(text + m, sizeof(text) - m, "Log lines dropped: %lu (log pipe full)\n",
			(unsigned long)atomic_load(&logs_dropped));
	}
	prom_rs_kam_publish(text);
}

/* Starts the core with every signal blocked, so the threads it starts inherit a full mask and signals meant for
 * this process land on the main thread. */
static prom_rs_result start_core(prom_rs_core **core, char *err, size_t errlen)
{
	sigset_t all, old;
	prom_rs_result r;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = prom_rs_core_start(prom_rs_kam_cfg, core);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != PROM_RS_OK) {
		*core = NULL;
		if (!prom_rs_last_error(err, errlen)) {
			snprintf(err, errlen, "%s", prom_rs_strerror(r));
		}
	}
	return r;
}

static void wait_until(int64_t deadline_ms)
{
	struct pollfd p = {.fd = wake_pipe[0], .events = POLLIN};
	int64_t left = deadline_ms - mono_ms();

	if (stop_requested) {
		return;
	}
	if (left > 0 && poll(&p, 1, left > 60000 ? 60000 : (int)left) > 0) {
		drain(wake_pipe[0]);
	}
}

static void __attribute__((noreturn)) core_process(int fd)
{
	prom_rs_core *core = NULL;
	int64_t retry_ms = RETRY_MIN_MS, next_try = 0, next_sample = 0;
	int64_t sample_ms = prom_rs_kam_sample_ms > 0 ? prom_rs_kam_sample_ms : 1000;
	int sampled = 0, refused = 0, failures = 0;
	unsigned script_refused;
	int64_t script_logged = -60000;
	char err[1024];

	log_fd = fd;
	fcntl(log_fd, F_SETFL, fcntl(log_fd, F_GETFL) | O_NONBLOCK);
	prom_rs_set_logger(core_logger, NULL);
	atomic_store(&prom_rs_kam_shm->core_pid, getpid());

	while (!stop_requested) {
		int64_t now = mono_ms();

		if (!core && now >= next_try) {
			if (start_core(&core, err, sizeof(err)) == PROM_RS_OK) {
				if (failures) {
					prom_rs_kam_log(3, "serving now, after %d failed attempt%s", failures,
						failures == 1 ? "" : "s");
				}
				failures = 0;
				retry_ms = RETRY_MIN_MS;
				next_sample = now;
				if (prom_rs_kam_script_declare(core, err, sizeof(err))) {
					prom_rs_kam_log(1, "%s", err);
				}
			} else {
				failures++;
				prom_rs_kam_log(failures == 1 ? 1 : 2,
					"cannot start the exporter: %s; SIP service is not affected, next attempt in %.0f s", err,
					(double)retry_ms / 1000.0);
				publish_not_serving(err, retry_ms);
				next_try = now + retry_ms;
				retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
			}
		}
		if (core && now >= next_sample) {
			sampled = prom_rs_kam_sample(core, &refused);
			script_refused = prom_rs_kam_script_sample(core, err, sizeof(err));
			if (script_refused && mono_ms() - script_logged >= 60000) {
				script_logged = mono_ms();
				prom_rs_kam_log(2, "%u script series refused by the core (retried every sample), first: %s",
					script_refused, err);
			}
			publish_status(core, sampled, refused, sample_ms);
			next_sample += sample_ms;
			if (next_sample <= now) {
				next_sample = now + sample_ms;
			}
		}
		wait_until(core ? next_sample : next_try);
	}
	if (core) {
		prom_rs_core_stop(core);
	}
	prom_rs_kam_publish("Listening:        stopped (Kamailio is shutting down)\n");
	atomic_store(&prom_rs_kam_shm->core_pid, 0);
	prom_rs_kam_log(3, "exporter stopped, port released");
	_exit(0);
}

/* ---- the supervisor ------------------------------------------------------------------------------------------- */

static pid_t spawn_core(int *log_read)
{
	int fds[2];
	pid_t parent = getpid(), pid;

	if (pipe2(fds, O_CLOEXEC)) {
		LM_ERR("cannot create the log pipe: %s\n", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		LM_ERR("cannot fork the core process: %s\n", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		/* Not left behind if the supervisor is killed (Kamailio's SIGKILL after its exit timeout). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) {
			_exit(0);
		}
		make_wake_pipe();
		core_process(fds[1]);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	*log_read = fds[0];
	return pid;
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status)) {
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	}
}

/* Waits for the core process to stop, forwarding its last log lines; kills it after STOP_WAIT_MS. */
static void stop_core(pid_t pid, int log_read, struct line_reader *lines)
{
	int64_t deadline = mono_ms() + STOP_WAIT_MS;
	int status, open = 1;

	kill(pid, SIGTERM);
	for (;;) {
		struct pollfd p = {.fd = log_read, .events = POLLIN};
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (open && poll(&p, 1, 50) > 0) {
			open = read_lines(log_read, lines);
		}
		if (r == pid) {
			if (open) {
				read_lines(log_read, lines);
			}
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				char how[128];

				describe_exit(status, how, sizeof(how));
				LM_WARN("the core process %s while stopping\n", how);
			}
			return;
		}
		if (r < 0 && errno != EINTR) {
			return;
		}
		if (mono_ms() > deadline) {
			LM_WARN("the core process did not stop within %d s; killing it\n", STOP_WAIT_MS / 1000);
			kill(pid, SIGKILL);
			deadline = mono_ms() + 60000;
		}
		if (!open) {
			usleep(20000);
		}
	}
}

void prom_rs_kam_supervise(void)
{
	pid_t core = 0;
	int log_read = -1;
	struct line_reader lines = {.len = 0};
	int64_t restart_ms = RETRY_MIN_MS, next_start = 0, started_at = 0;

	install_signals();
	if (make_wake_pipe()) {
		LM_ERR("cannot create a pipe (%s); the exporter idles until Kamailio stops\n", strerror(errno));
	}
	atomic_store(&prom_rs_kam_shm->supervisor_pid, getpid());
	LM_NOTICE("exporter process started (pid %d), sample interval %.3g s\n", getpid(),
		(double)prom_rs_kam_sample_ms / 1000.0);

	while (!stop_requested) {
		struct pollfd p[2] = {{.fd = wake_pipe[0], .events = POLLIN}, {.fd = log_read, .events = POLLIN}};
		int64_t now = mono_ms(), timeout = 1000;
		int status;

		if (!core && wake_pipe[0] >= 0 && now >= next_start) {
			lines.len = 0;
			core = spawn_core(&log_read);
			if (core < 0) {
				core = 0;
				next_start = now + RETRY_MAX_MS;
			} else {
				started_at = now;
			}
		}
		if (!core && next_start > now && next_start - now < timeout) {
			timeout = next_start - now;
		}
		if (poll(p, core ? 2 : 1, (int)timeout) > 0) {
			if (p[0].revents & POLLIN) {
				drain(wake_pipe[0]);
			}
			if (core && (p[1].revents & (POLLIN | POLLHUP))) {
				read_lines(log_read, &lines);
			}
		}
		cfg_update();
		if (core && !stop_requested && waitpid(core, &status, WNOHANG) == core) {
			char how[128];

			read_lines(log_read, &lines);
			close(log_read);
			log_read = -1;
			now = mono_ms();
			if (now - started_at >= RESTART_RESET_MS) {
				restart_ms = RETRY_MIN_MS;
			}
			describe_exit(status, how, sizeof(how));
			LM_ERR("the core process (pid %d) %s; SIP service is not affected, restarting it in %.0f s\n", core,
				how, (double)restart_ms / 1000.0);
			{
				char text[512];

				snprintf(text, sizeof(text),
					"Listening:        not serving: the core process %s\nNext attempt:     restart in %.0f s\n",
					how, (double)restart_ms / 1000.0);
				prom_rs_kam_publish(text);
			}
			atomic_store(&prom_rs_kam_shm->core_pid, 0);
			core = 0;
			next_start = now + restart_ms;
			restart_ms = restart_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : restart_ms * 2;
		}
	}
	if (core) {
		stop_core(core, log_read, &lines);
	}
	LM_NOTICE("exporter process stopped\n");
	_exit(0);
}
