/* slowlog.c: a slow request's PHP backtrace, written by the worker itself into its scoreboard slot when the
 * supervisor signals it (no ptrace), and sleep()/usleep() that sleep on through that signal */
#include <main/php.h>

#include <fcntl.h>
#include <signal.h>

#include "log.h"
#include "slowlog.h"

static int trace_pipe[2] = {-1, -1};
static volatile sig_atomic_t trace_interrupted;  /* the trace signal arrived: sleep() goes on */
static volatile sig_atomic_t client_interrupted; /* the client signal arrived: sleep() goes on, unless... */
static volatile sig_atomic_t client_pending;     /* ...and the VM's interrupt check is to look */
static SlowlogHooks hooks;
static void (*previous_interrupt)(zend_execute_data *execute_data);
static ScoreboardSlot *trace_slot;
static unsigned trace_depth;

/* Copies memory that may be unmapped: the kernel's copy through a pipe fails with EFAULT where a plain read would
 * crash the worker in the middle of its request */
_Static_assert(sizeof(zend_op_array) <= 1024 && sizeof(zend_class_entry) <= 1024, "peek() reads them whole");

static bool peek(void *dst, const void *src, size_t n)
{
        char drain[1024];

        if (!src || n > sizeof(drain))
                return false;
        while (read(trace_pipe[0], drain, sizeof(drain)) > 0)
                ;
        if (write(trace_pipe[1], src, n) != (ssize_t)n)
                return false;
        return read(trace_pipe[0], dst, n) == (ssize_t)n;
}

typedef struct TraceBuf {
        char *p;
        size_t left;
} TraceBuf;

static void tb_mem(TraceBuf *b, const char *s, size_t n)
{
        n = MIN(n, b->left);
        memcpy(b->p, s, n);
        b->p += n;
        b->left -= n;
}

static void tb_str(TraceBuf *b, const char *s)
{
        tb_mem(b, s, strlen(s));
}

static void tb_num(TraceBuf *b, uint64_t v, unsigned base, unsigned width)
{
        char d[24];
        unsigned n = 0;

        do {
                d[sizeof(d) - 1 - n++] = "0123456789abcdef"[v % base];
                v /= base;
        } while (v > 0 && n < sizeof(d));
        while (n < width && n < sizeof(d))
                d[sizeof(d) - 1 - n++] = '0';
        tb_mem(b, d + sizeof(d) - n, n);
}

/* A zend_string's text, read safely, at most max bytes */
static void tb_zstr(TraceBuf *b, const zend_string *zs, size_t max)
{
        zend_string head;
        char text[256];
        size_t n;

        if (!peek(&head, zs, sizeof(head))) {
                tb_str(b, "???");
                return;
        }
        n = MIN(MIN(ZSTR_LEN(&head), max), sizeof(text));
        if (peek(text, ZSTR_VAL(zs), n))
                tb_mem(b, text, n);
        else
                tb_str(b, "???");
}

/* The file and line where a frame runs: its own for user code, its caller's for an internal function */
static void tb_location(TraceBuf *b, const zend_execute_data *ex)
{
        for (unsigned hops = 0; ex && hops < 64; hops++) {
                zend_execute_data frame;
                zend_op_array op;
                zend_op opline;

                if (!peek(&frame, ex, sizeof(frame)) || !frame.func)
                        break;
                if (peek(&op, frame.func, sizeof(op)) && ZEND_USER_CODE(op.type)) {
                        tb_zstr(b, op.filename, 200);
                        tb_str(b, ":");
                        tb_num(b, frame.opline && peek(&opline, frame.opline, sizeof(opline)) ? opline.lineno : 0, 10,
                                0);
                        return;
                }
                ex = frame.prev_execute_data;
        }
        tb_str(b, "unknown:0");
}

/* PHP-FPM's slowlog lines: "[0x<frame>] function() file:line", innermost first */
static void on_trace_signal(int sig)
{
        ScoreboardSlot *s = trace_slot;
        const zend_execute_data *ex;
        int saved = errno;
        TraceBuf b;

        (void)sig;
        if (!s || trace_pipe[0] < 0)
                return;
        b = (TraceBuf){s->trace, sizeof(s->trace) - 1};
        ex = EG(current_execute_data);
        for (unsigned depth = 0; ex && depth < trace_depth; depth++) {
                zend_execute_data frame;
                zend_function f;

                if (!peek(&frame, ex, sizeof(frame)))
                        break;
                tb_str(&b, "[0x");
                tb_num(&b, (uintptr_t)ex, 16, 16);
                tb_str(&b, "] ");
                if (frame.func && peek(&f, frame.func, sizeof(f.common))) {
                        zend_class_entry ce;

                        if (f.common.scope && peek(&ce, f.common.scope, sizeof(ce))) {
                                tb_zstr(&b, ce.name, 100);
                                tb_str(&b, "::");
                        }
                        if (f.common.function_name)
                                tb_zstr(&b, f.common.function_name, 100);
                        else
                                tb_str(&b, "{main}");
                } else
                        tb_str(&b, "???");
                tb_str(&b, "() ");
                tb_location(&b, ex);
                tb_str(&b, "\n");
                ex = frame.prev_execute_data;
        }
        *b.p = 0;
        trace_interrupted = 1;
        __atomic_add_fetch(&s->trace_seq, 1, __ATOMIC_RELEASE);
        errno = saved;
}

/* The trace signal interrupts a nanosleep() in progress, which the kernel never restarts after a handler. PHP's
 * sleep() and usleep() are replaced by versions that go on sleeping when it was that signal, so a script does not
 * notice the slowlog; another signal still ends them early, as in PHP. */
static bool sleep_resumes(void)
{
        if (client_interrupted) {
                client_interrupted = 0;
                /* The client is gone: the sleep ends, and the interrupt check that follows ends the script */
                return !(hooks.client_gone && hooks.client_gone());
        }
        if (!trace_interrupted)
                return false;
        trace_interrupted = 0;
        return true;
}

static void on_client_signal(int sig)
{
        (void)sig;
        client_interrupted = 1;
        client_pending = 1;
        zend_atomic_bool_store_ex(&EG(vm_interrupt), true);
}

/* Between two opcodes, where PHP looks at its timeouts: a script may end here */
static void slowlog_interrupt(zend_execute_data *execute_data)
{
        if (client_pending) {
                client_pending = 0;
                if (hooks.client_check)
                        hooks.client_check();
        }
        if (previous_interrupt)
                previous_interrupt(execute_data);
}

static PHP_FUNCTION(fpmd_sleep)
{
        struct timespec ts;
        zend_long seconds;

        ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_LONG(seconds)
        ZEND_PARSE_PARAMETERS_END();

        if (seconds < 0) {
                zend_argument_value_error(1, "must be greater than or equal to 0");
                RETURN_THROWS();
        }
        ts = (struct timespec){.tv_sec = (time_t)seconds};
        while (nanosleep(&ts, &ts) < 0)
                if (errno != EINTR || !sleep_resumes())
                        RETURN_LONG((zend_long)ts.tv_sec + (ts.tv_nsec > 0));
        RETURN_LONG(0);
}

static PHP_FUNCTION(fpmd_usleep)
{
        struct timespec ts;
        zend_long usec;

        ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_LONG(usec)
        ZEND_PARSE_PARAMETERS_END();

        if (usec < 0) {
                zend_argument_value_error(1, "must be greater than or equal to 0");
                RETURN_THROWS();
        }
        ts = (struct timespec){.tv_sec = (time_t)(usec / 1000000), .tv_nsec = (long)(usec % 1000000) * 1000};
        while (nanosleep(&ts, &ts) < 0)
                if (errno != EINTR || !sleep_resumes())
                        return;
}

static void replace_function(const char *name, zif_handler handler)
{
        zend_function *f = zend_hash_str_find_ptr(CG(function_table), name, strlen(name));

        if (f && f->type == ZEND_INTERNAL_FUNCTION)
                f->internal_function.handler = handler;
}

int slowlog_init(ScoreboardSlot *slot, unsigned depth, const SlowlogHooks *h)
{
        struct sigaction sa = {.sa_handler = on_trace_signal, .sa_flags = SA_RESTART};
        struct sigaction client = {.sa_handler = on_client_signal, .sa_flags = SA_RESTART};

        trace_slot = slot;
        trace_depth = depth;
        replace_function("sleep", zif_fpmd_sleep);
        replace_function("usleep", zif_fpmd_usleep);
        if (pipe2(trace_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return log_warning_errno(errno, "Failed to set up the slowlog's backtraces, ignoring: %m");
        if (h)
                hooks = *h;
        previous_interrupt = zend_interrupt_function;
        zend_interrupt_function = slowlog_interrupt;
        sigemptyset(&client.sa_mask);
        if (sigaction(SCOREBOARD_CLIENT_SIGNAL, &client, NULL) < 0)
                log_warning_errno(errno, "Failed to set up the look for gone clients, ignoring: %m");
        sigemptyset(&sa.sa_mask);
        if (sigaction(SCOREBOARD_TRACE_SIGNAL, &sa, NULL) < 0)
                return log_warning_errno(errno, "Failed to set up the slowlog's backtraces, ignoring: %m");
        return 0;
}
