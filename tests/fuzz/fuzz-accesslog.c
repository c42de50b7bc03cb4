/* fuzz-accesslog: access.format on any format and any request. The input is the format (up to a NUL byte), the
 * entry's strings (NUL-separated), its numbers, then NAME=VALUE pairs for %{NAME}e and %{NAME}o. A format that
 * access_format_check() accepts renders; one it refuses does not, with a reason; text without a '%' comes out as
 * it went in. */
#include "accesslog.h"
#include "fuzz.h"

#define STRINGS   7
#define PAIRS_MAX 16

typedef struct Vars {
        char *names[PAIRS_MAX], *values[PAIRS_MAX];
        size_t n;
} Vars;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        fuzz_quiet();
        setenv("TZ", "America/New_York", 1);
        tzset();
        return 0;
}

static const char *lookup(void *userdata, const char *name)
{
        const Vars *v = userdata;

        FUZZ_CHECK(name && strlen(name) < 128, "a modifier of %zu bytes", name ? strlen(name) : 0);
        for (size_t i = 0; i < v->n; i++)
                if (streq(v->names[i], name))
                        return v->values[i];
        return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Input in = {data, size};
        _cleanup_free_ char *format = input_until(&in, 0, NULL), *line = NULL;
        char *strings[STRINGS];
        const char *error = NULL;
        Vars vars = {};
        AccessEntry e;
        int check, r;

        for (size_t i = 0; i < STRINGS; i++) {
                strings[i] = input_until(&in, 0, NULL);
                /* NULL and "" both print "-" where a dash stands for nothing */
                if (!strings[i][0] && input_bool(&in))
                        strings[i] = mfree(strings[i]);
        }
        e = (AccessEntry){
                .pool = strings[0],
                .client_ip = strings[1],
                .auth_user = strings[2],
                .method = strings[3],
                .request_uri = strings[4],
                .query_string = strings[5],
                .script = strings[6],
                .pid = (long)input_uint(&in, 4),
                .ppid = (long)input_uint(&in, 8),
                .status = (int)input_uint(&in, 4),
                .content_length = input_uint(&in, 8),
                .duration_usec = input_uint(&in, 8),
                .cpu_user_usec = input_uint(&in, 8),
                .cpu_system_usec = input_uint(&in, 8),
                .memory_peak = input_uint(&in, 8),
                .start_realtime = input_uint(&in, 8),
                .now_realtime = input_uint(&in, 8),
                .env = lookup,
                .header = lookup,
                .userdata = &vars,
        };
        while (in.left > 0 && vars.n < PAIRS_MAX) {
                vars.names[vars.n] = input_until(&in, '=', NULL);
                vars.values[vars.n] = input_until(&in, 0, NULL);
                vars.n++;
        }

        check = access_format_check(format, &error);
        FUZZ_CHECK(check == 0 || (check == -EINVAL && error && error[0]), "check returned %d, error %s", check,
                strna(error));
        FUZZ_CHECK(access_format_check(format, NULL) == check, "the check depends on ret_error");

        r = access_format(format, &e, &line);
        /* What the check accepts at startup renders for every request, and the other way round */
        FUZZ_CHECK(r == check, "access_format returned %d where the check gave %d", r, check);
        if (r == 0) {
                FUZZ_CHECK(line, "no line");
                if (!strchr(format, '%'))
                        FUZZ_CHECK(streq(line, format), "plain text changed: '%s' -> '%s'", format, line);
        } else
                FUZZ_CHECK(!line, "a line with an error");

        for (size_t i = 0; i < STRINGS; i++)
                free(strings[i]);
        for (size_t i = 0; i < vars.n; i++) {
                free(vars.names[i]);
                free(vars.values[i]);
        }
        return 0;
}
