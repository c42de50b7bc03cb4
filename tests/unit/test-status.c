/* test-status: every format byte for byte against PHP-FPM 8.2's own page, fpmd's additions, escaping, and
 * the query string */
#include <math.h>
#include <stdio.h>
#include <sys/mman.h>

#include "scoreboard.h"
#include "status.h"
#include "test.h"

/* The expected pages are PHP-FPM 8.2.36's bodies (php-fpm8.2 -n, one static pool "www" of 2 children,
 * TZ=UTC, queried with cgi-fcgi), with their numbers replaced by test_pool's and test_procs()'s. */

/* PHP-FPM 8.2.36, "?" */
static const char expected_text[] = "pool:                 www\n"
                                    "process manager:      static\n"
                                    "start time:           24/Nov/2026:02:58:35 +0000\n"
                                    "start since:          3\n"
                                    "accepted conn:        11\n"
                                    "listen queue:         1\n"
                                    "max listen queue:     2\n"
                                    "listen queue len:     4096\n"
                                    "idle processes:       1\n"
                                    "active processes:     1\n"
                                    "total processes:      2\n"
                                    "max active processes: 3\n"
                                    "max children reached: 4\n"
                                    "slow requests:        5\n";

/* PHP-FPM 8.2.36, "?full" */
static const char expected_text_full[] = "pool:                 www\n"
                                         "process manager:      static\n"
                                         "start time:           24/Nov/2026:02:58:35 +0000\n"
                                         "start since:          3\n"
                                         "accepted conn:        11\n"
                                         "listen queue:         1\n"
                                         "max listen queue:     2\n"
                                         "listen queue len:     4096\n"
                                         "idle processes:       1\n"
                                         "active processes:     1\n"
                                         "total processes:      2\n"
                                         "max active processes: 3\n"
                                         "max children reached: 4\n"
                                         "slow requests:        5\n"
                                         "\n"
                                         "************************\n"
                                         "pid:                  21031\n"
                                         "state:                Running\n"
                                         "start time:           24/Nov/2026:02:58:35 +0000\n"
                                         "start since:          3\n"
                                         "requests:             5\n"
                                         "request duration:     120\n"
                                         "request method:       GET\n"
                                         "request URI:          /status?full\n"
                                         "content length:       0\n"
                                         "user:                 -\n"
                                         "script:               -\n"
                                         "last request cpu:     0.00\n"
                                         "last request memory:  0\n"
                                         "\n"
                                         "************************\n"
                                         "pid:                  21032\n"
                                         "state:                Idle\n"
                                         "start time:           24/Nov/2026:02:58:35 +0000\n"
                                         "start since:          3\n"
                                         "requests:             4\n"
                                         "request duration:     258\n"
                                         "request method:       GET\n"
                                         "request URI:          /status\n"
                                         "content length:       0\n"
                                         "user:                 -\n"
                                         "script:               -\n"
                                         "last request cpu:     0.00\n"
                                         "last request memory:  2097152\n";

/* PHP-FPM 8.2.36, "?json" */
static const char expected_json[] =
        "{\"pool\":\"www\",\"process manager\":\"static\",\"start time\":1795489115,"
        "\"start since\":3,\"accepted conn\":11,\"listen queue\":1,\"max listen queue\":2,"
        "\"listen queue len\":4096,\"idle processes\":1,\"active processes\":1,\"total processes\":2,"
        "\"max active processes\":3,\"max children reached\":4,\"slow requests\":5}";

/* PHP-FPM 8.2.36, "?json&full" */
static const char expected_json_full[] =
        "{\"pool\":\"www\",\"process manager\":\"static\",\"start time\":1795489115,"
        "\"start since\":3,\"accepted conn\":11,\"listen queue\":1,\"max listen queue\":2,"
        "\"listen queue len\":4096,\"idle processes\":1,\"active processes\":1,\"total processes\":2,"
        "\"max active processes\":3,\"max children reached\":4,"
        "\"slow requests\":5, \"processes\":[{\"pid\":21031,\"state\":\"Running\","
        "\"start time\":1795489115,\"start since\":3,\"requests\":5,\"request duration\":120,"
        "\"request method\":\"GET\",\"request uri\":\"\\/status?json&full\",\"content length\":0,"
        "\"user\":\"-\",\"script\":\"-\",\"last request cpu\":0.00,"
        "\"last request memory\":0},{\"pid\":21032,\"state\":\"Idle\",\"start time\":1795489115,"
        "\"start since\":3,\"requests\":4,\"request duration\":258,\"request method\":\"GET\","
        "\"request uri\":\"\\/status?json\",\"content length\":0,\"user\":\"-\",\"script\":\"-\","
        "\"last request cpu\":0.00,\"last request memory\":2097152}]}";

/* PHP-FPM 8.2.36, "?xml" */
static const char expected_xml[] = "<?xml version=\"1.0\" ?>\n"
                                   "<status>\n"
                                   "<pool>www</pool>\n"
                                   "<process-manager>static</process-manager>\n"
                                   "<start-time>1795489115</start-time>\n"
                                   "<start-since>3</start-since>\n"
                                   "<accepted-conn>11</accepted-conn>\n"
                                   "<listen-queue>1</listen-queue>\n"
                                   "<max-listen-queue>2</max-listen-queue>\n"
                                   "<listen-queue-len>4096</listen-queue-len>\n"
                                   "<idle-processes>1</idle-processes>\n"
                                   "<active-processes>1</active-processes>\n"
                                   "<total-processes>2</total-processes>\n"
                                   "<max-active-processes>3</max-active-processes>\n"
                                   "<max-children-reached>4</max-children-reached>\n"
                                   "<slow-requests>5</slow-requests>\n"
                                   "</status>";

/* PHP-FPM 8.2.36, "?xml&full" */
static const char expected_xml_full[] =
        "<?xml version=\"1.0\" ?>\n"
        "<status>\n"
        "<pool>www</pool>\n"
        "<process-manager>static</process-manager>\n"
        "<start-time>1795489115</start-time>\n"
        "<start-since>3</start-since>\n"
        "<accepted-conn>11</accepted-conn>\n"
        "<listen-queue>1</listen-queue>\n"
        "<max-listen-queue>2</max-listen-queue>\n"
        "<listen-queue-len>4096</listen-queue-len>\n"
        "<idle-processes>1</idle-processes>\n"
        "<active-processes>1</active-processes>\n"
        "<total-processes>2</total-processes>\n"
        "<max-active-processes>3</max-active-processes>\n"
        "<max-children-reached>4</max-children-reached>\n"
        "<slow-requests>5</slow-requests>\n"
        "<processes>\n"
        "<process><pid>21031</pid><state>Running</state><start-time>1795489115</start-time>"
        "<start-since>3</start-since><requests>5</requests><request-duration>120</request-duration>"
        "<request-method>GET</request-method><request-uri>/status?xml&amp;full</request-uri>"
        "<content-length>0</content-length><user>-</user><script>-</script>"
        "<last-request-cpu>0.00</last-request-cpu>"
        "<last-request-memory>0</last-request-memory></process>\n"
        "<process><pid>21032</pid><state>Idle</state><start-time>1795489115</start-time>"
        "<start-since>3</start-since><requests>4</requests><request-duration>258</request-duration>"
        "<request-method>GET</request-method><request-uri>/status?xml</request-uri>"
        "<content-length>0</content-length><user>-</user><script>-</script>"
        "<last-request-cpu>0.00</last-request-cpu>"
        "<last-request-memory>2097152</last-request-memory></process>\n"
        "</processes>\n"
        "</status>";

/* PHP-FPM 8.2.36, "?html" */
static const char expected_html[] = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
                                    "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n"
                                    "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
                                    "<head><title>PHP-FPM Status Page</title></head>\n"
                                    "<body>\n"
                                    "<table>\n"
                                    "<tr><th>pool</th><td>www</td></tr>\n"
                                    "<tr><th>process manager</th><td>static</td></tr>\n"
                                    "<tr><th>start time</th><td>24/Nov/2026:02:58:35 +0000</td></tr>\n"
                                    "<tr><th>start since</th><td>3</td></tr>\n"
                                    "<tr><th>accepted conn</th><td>11</td></tr>\n"
                                    "<tr><th>listen queue</th><td>1</td></tr>\n"
                                    "<tr><th>max listen queue</th><td>2</td></tr>\n"
                                    "<tr><th>listen queue len</th><td>4096</td></tr>\n"
                                    "<tr><th>idle processes</th><td>1</td></tr>\n"
                                    "<tr><th>active processes</th><td>1</td></tr>\n"
                                    "<tr><th>total processes</th><td>2</td></tr>\n"
                                    "<tr><th>max active processes</th><td>3</td></tr>\n"
                                    "<tr><th>max children reached</th><td>4</td></tr>\n"
                                    "<tr><th>slow requests</th><td>5</td></tr>\n"
                                    "</table>\n"
                                    "</body></html>";

/* PHP-FPM 8.2.36, "?html&full" */
static const char expected_html_full[] =
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
        "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n"
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
        "<head><title>PHP-FPM Status Page</title></head>\n"
        "<body>\n"
        "<table>\n"
        "<tr><th>pool</th><td>www</td></tr>\n"
        "<tr><th>process manager</th><td>static</td></tr>\n"
        "<tr><th>start time</th><td>24/Nov/2026:02:58:35 +0000</td></tr>\n"
        "<tr><th>start since</th><td>3</td></tr>\n"
        "<tr><th>accepted conn</th><td>11</td></tr>\n"
        "<tr><th>listen queue</th><td>1</td></tr>\n"
        "<tr><th>max listen queue</th><td>2</td></tr>\n"
        "<tr><th>listen queue len</th><td>4096</td></tr>\n"
        "<tr><th>idle processes</th><td>1</td></tr>\n"
        "<tr><th>active processes</th><td>1</td></tr>\n"
        "<tr><th>total processes</th><td>2</td></tr>\n"
        "<tr><th>max active processes</th><td>3</td></tr>\n"
        "<tr><th>max children reached</th><td>4</td></tr>\n"
        "<tr><th>slow requests</th><td>5</td></tr>\n"
        "</table>\n"
        "<table border=\"1\">\n"
        "<tr><th>pid</th><th>state</th><th>start time</th><th>start since</th><th>requests</th>"
        "<th>request duration</th><th>request method</th><th>request uri</th><th>content length</th>"
        "<th>user</th><th>script</th><th>last request cpu</th><th>last request memory</th></tr>\n"
        "<tr><td>21031</td><td>Running</td><td>24/Nov/2026:02:58:35 +0000</td><td>3</td><td>5</td>"
        "<td>120</td><td>GET</td><td>/status?html&amp;full</td><td>0</td><td>-</td><td>-</td>"
        "<td>0.00</td><td>0</td></tr>\n"
        "<tr><td>21032</td><td>Idle</td><td>24/Nov/2026:02:58:35 +0000</td><td>3</td><td>4</td>"
        "<td>258</td><td>GET</td><td>/status?html</td><td>0</td><td>-</td><td>-</td><td>0.00</td>"
        "<td>2097152</td></tr>\n"
        "</table></body></html>";

/* PHP-FPM 8.2.36, "?openmetrics" ("&full" changes nothing), but with the "_total" that OpenMetrics 1.0
 * requires on the counters' samples (PHP-FPM 8.2 prints "phpfpm_accepted_connections 11") */
static const char expected_openmetrics[] =
        "# HELP phpfpm_up Could pool www using a static PM on PHP-FPM be reached?\n"
        "# TYPE phpfpm_up gauge\n"
        "phpfpm_up 1\n"
        "# HELP phpfpm_start_since The number of seconds since FPM has started.\n"
        "# TYPE phpfpm_start_since counter\n"
        "phpfpm_start_since_total 3\n"
        "# HELP phpfpm_accepted_connections The number of requests accepted by the pool.\n"
        "# TYPE phpfpm_accepted_connections counter\n"
        "phpfpm_accepted_connections_total 11\n"
        "# HELP phpfpm_listen_queue The number of requests in the queue of pending connections.\n"
        "# TYPE phpfpm_listen_queue gauge\n"
        "phpfpm_listen_queue 1\n"
        "# HELP phpfpm_max_listen_queue The maximum number of requests in the queue of pending connections "
        "since FPM has started.\n"
        "# TYPE phpfpm_max_listen_queue counter\n"
        "phpfpm_max_listen_queue_total 2\n"
        "# TYPE phpfpm_listen_queue_length gauge\n"
        "# HELP phpfpm_listen_queue_length The size of the socket queue of pending connections.\n"
        "phpfpm_listen_queue_length 4096\n"
        "# HELP phpfpm_idle_processes The number of idle processes.\n"
        "# TYPE phpfpm_idle_processes gauge\n"
        "phpfpm_idle_processes 1\n"
        "# HELP phpfpm_active_processes The number of active processes.\n"
        "# TYPE phpfpm_active_processes gauge\n"
        "phpfpm_active_processes 1\n"
        "# HELP phpfpm_total_processes The number of idle + active processes.\n"
        "# TYPE phpfpm_total_processes gauge\n"
        "phpfpm_total_processes 2\n"
        "# HELP phpfpm_max_active_processes The maximum number of active processes since FPM has started.\n"
        "# TYPE phpfpm_max_active_processes counter\n"
        "phpfpm_max_active_processes_total 3\n"
        "# HELP phpfpm_max_children_reached The number of times, the process limit has been reached, when "
        "pm tries to start more children (works only for pm 'dynamic' and 'ondemand').\n"
        "# TYPE phpfpm_max_children_reached counter\n"
        "phpfpm_max_children_reached_total 4\n"
        "# HELP phpfpm_slow_requests The number of requests that exceeded your 'request_slowlog_timeout' "
        "value.\n"
        "# TYPE phpfpm_slow_requests counter\n"
        "phpfpm_slow_requests_total 5\n"
        "# EOF\n";

static const StatusPool test_pool = {
        .pool = "www",
        .process_manager = "static",
        .start_time = 1795489115, /* 24/Nov/2026:02:58:35 +0000 */
        .start_since = 3,
        .accepted_conn = 11,
        .listen_queue = 1,
        .max_listen_queue = 2,
        .listen_queue_len = 4096,
        .idle_processes = 1,
        .active_processes = 1,
        .total_processes = 2,
        .max_active_processes = 3,
        .max_children_reached = 4,
        .slow_requests = 5,
        .memory_peak = UINT64_MAX,
        .cgroup_memory_current = UINT64_MAX,
        .cgroup_cpu_usage_usec = UINT64_MAX,
        .requests_abandoned = UINT64_MAX,
        .requests_aborted = UINT64_MAX,
        .requests_shed = UINT64_MAX,
};

/* The worker serving the status request, and the other one, idle since the previous status request */
static void test_procs(StatusProc procs[2], const char *query_running, const char *query_idle)
{
        procs[0] = (StatusProc){
                .pid = 21031,
                .state = "Running",
                .start_time = 1795489115,
                .start_since = 3,
                .requests = 5,
                .request_duration = 120,
                .request_method = "GET",
                .request_uri = "/status",
                .query_string = query_running,
                .content_length = 0,
                .user = NULL,
                .script = NULL,
                .last_request_cpu = 0.0,
                .last_request_memory = 0,
        };
        procs[1] = (StatusProc){
                .pid = 21032,
                .state = "Idle",
                .start_time = 1795489115,
                .start_since = 3,
                .requests = 4,
                .request_duration = 258,
                .request_method = "GET",
                .request_uri = "/status",
                .query_string = query_idle,
                .content_length = 0,
                .user = "",
                .script = "",
                .last_request_cpu = 0.0,
                .last_request_memory = 2097152,
        };
}

static void set_tz(const char *tz)
{
        ck_assert_int_eq(setenv("TZ", tz, 1), 0);
        tzset();
}

static char *render(StatusFormat format, bool full, const StatusPool *pool, const StatusProc *procs, size_t n_procs,
        const char *expected_content_type)
{
        char *body = NULL;
        size_t len = SIZE_MAX;
        const char *content_type = NULL;

        ck_assert_int_eq(status_render(format, full, pool, procs, n_procs, &body, &len, &content_type), 0);
        ck_assert_ptr_nonnull(body);
        ck_assert_uint_eq(len, strlen(body));
        ck_assert_str_eq(content_type, expected_content_type);
        return body;
}

static void assert_page(StatusFormat format, bool full, const StatusPool *pool, const StatusProc *procs, size_t n_procs,
        const char *expected_content_type, const char *expected)
{
        _cleanup_free_ char *body = render(format, full, pool, procs, n_procs, expected_content_type);

        ck_assert_str_eq(body, expected);
}

static void assert_contains(const char *body, const char *fragment)
{
        ck_assert_msg(strstr(body, fragment), "\"%s\" not found in:\n%s", fragment, body);
}

static void assert_starts_with(const char *body, const char *prefix)
{
        ck_assert_msg(strneq(body, prefix, strlen(prefix)), "\"%s\" does not start with:\n%s", body, prefix);
}

#define CT_TEXT        "text/plain;charset=UTF-8"
#define CT_JSON        "application/json"
#define CT_XML         "text/xml;charset=UTF-8"
#define CT_HTML        "text/html;charset=UTF-8"
#define CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

START_TEST(test_text)
{
        StatusProc procs[2];

        set_tz("UTC");
        assert_page(STATUS_FORMAT_TEXT, false, &test_pool, NULL, 0, CT_TEXT, expected_text);
        test_procs(procs, "full", NULL);
        assert_page(STATUS_FORMAT_TEXT, true, &test_pool, procs, 2, CT_TEXT, expected_text_full);
        /* Without "full" the processes are not looked at */
        assert_page(STATUS_FORMAT_TEXT, false, &test_pool, procs, 2, CT_TEXT, expected_text);
}
END_TEST

START_TEST(test_json)
{
        StatusProc procs[2];

        set_tz("UTC");
        assert_page(STATUS_FORMAT_JSON, false, &test_pool, NULL, 0, CT_JSON, expected_json);
        test_procs(procs, "json&full", "json");
        assert_page(STATUS_FORMAT_JSON, true, &test_pool, procs, 2, CT_JSON, expected_json_full);
}
END_TEST

START_TEST(test_xml)
{
        StatusProc procs[2];

        set_tz("UTC");
        assert_page(STATUS_FORMAT_XML, false, &test_pool, NULL, 0, CT_XML, expected_xml);
        test_procs(procs, "xml&full", "xml");
        assert_page(STATUS_FORMAT_XML, true, &test_pool, procs, 2, CT_XML, expected_xml_full);
}
END_TEST

START_TEST(test_html)
{
        StatusProc procs[2];

        set_tz("UTC");
        assert_page(STATUS_FORMAT_HTML, false, &test_pool, NULL, 0, CT_HTML, expected_html);
        test_procs(procs, "html&full", "html");
        assert_page(STATUS_FORMAT_HTML, true, &test_pool, procs, 2, CT_HTML, expected_html_full);
}
END_TEST

START_TEST(test_openmetrics)
{
        StatusProc procs[2];

        set_tz("UTC");
        assert_page(STATUS_FORMAT_OPENMETRICS, false, &test_pool, NULL, 0, CT_OPENMETRICS, expected_openmetrics);
        test_procs(procs, "openmetrics&full", "openmetrics");
        assert_page(STATUS_FORMAT_OPENMETRICS, true, &test_pool, procs, 2, CT_OPENMETRICS, expected_openmetrics);
}
END_TEST

/* "full" with no process to show: the frame of the list stays, as in PHP-FPM */
START_TEST(test_full_without_processes)
{
        _cleanup_free_ char *text = NULL, *json = NULL, *xml = NULL, *html = NULL;

        set_tz("UTC");
        text = render(STATUS_FORMAT_TEXT, true, &test_pool, NULL, 0, CT_TEXT);
        ck_assert_str_eq(text, expected_text);

        json = render(STATUS_FORMAT_JSON, true, &test_pool, NULL, 0, CT_JSON);
        ck_assert_uint_eq(strlen(json), strlen(expected_json) + strlen(", \"processes\":[]"));
        ck_assert_str_eq(json + strlen(expected_json) - 1, ", \"processes\":[]}");

        xml = render(STATUS_FORMAT_XML, true, &test_pool, NULL, 0, CT_XML);
        ck_assert_str_eq(xml + strlen(expected_xml) - strlen("</status>"), "<processes>\n</processes>\n</status>");

        html = render(STATUS_FORMAT_HTML, true, &test_pool, NULL, 0, CT_HTML);
        ck_assert_str_eq(html + strlen(expected_html) - strlen("</body></html>"),
                "<table border=\"1\">\n"
                "<tr><th>pid</th><th>state</th><th>start time</th><th>start since</th><th>requests</th>"
                "<th>request duration</th><th>request method</th><th>request uri</th><th>content length</th>"
                "<th>user</th><th>script</th><th>last request cpu</th><th>last request memory</th></tr>\n"
                "</table></body></html>");
}
END_TEST

/* memory peak and the cgroup's numbers: after PHP-FPM 8.2's fields, only when known */
START_TEST(test_additions)
{
        StatusPool pool = test_pool;
        _cleanup_free_ char *text = NULL, *json = NULL, *xml = NULL, *html = NULL, *om = NULL;
        size_t n;

        set_tz("UTC");
        pool.memory_peak = 2097152;
        pool.cgroup_memory_current = 7340032;
        pool.cgroup_cpu_usage_usec = 61000042;
        pool.requests_abandoned = 7;
        pool.requests_aborted = 8;
        pool.requests_shed = 9;

        text = render(STATUS_FORMAT_TEXT, false, &pool, NULL, 0, CT_TEXT);
        n = strlen(expected_text);
        assert_starts_with(text, expected_text);
        ck_assert_str_eq(text + n, "memory peak:          2097152\n"
                                   "cgroup memory current: 7340032\n"
                                   "cgroup cpu usage usec: 61000042\n"
                                   "requests abandoned:   7\n"
                                   "requests aborted:     8\n"
                                   "requests shed:        9\n");

        json = render(STATUS_FORMAT_JSON, false, &pool, NULL, 0, CT_JSON);
        n = strlen(expected_json) - 1;
        ck_assert(strneq(json, expected_json, n));
        ck_assert_str_eq(json + n, ",\"memory peak\":2097152,\"cgroup memory current\":7340032,\"cgroup cpu "
                                   "usage usec\":61000042,\"requests abandoned\":7,\"requests aborted\":8,\"requests "
                                   "shed\":9}");

        xml = render(STATUS_FORMAT_XML, false, &pool, NULL, 0, CT_XML);
        n = strlen(expected_xml) - strlen("</status>");
        ck_assert(strneq(xml, expected_xml, n));
        ck_assert_str_eq(xml + n, "<memory-peak>2097152</memory-peak>\n"
                                  "<cgroup-memory-current>7340032</cgroup-memory-current>\n"
                                  "<cgroup-cpu-usage-usec>61000042</cgroup-cpu-usage-usec>\n"
                                  "<requests-abandoned>7</requests-abandoned>\n"
                                  "<requests-aborted>8</requests-aborted>\n"
                                  "<requests-shed>9</requests-shed>\n"
                                  "</status>");

        html = render(STATUS_FORMAT_HTML, false, &pool, NULL, 0, CT_HTML);
        n = strlen(expected_html) - strlen("</table>\n</body></html>");
        ck_assert(strneq(html, expected_html, n));
        ck_assert_str_eq(html + n, "<tr><th>memory peak</th><td>2097152</td></tr>\n"
                                   "<tr><th>cgroup memory current</th><td>7340032</td></tr>\n"
                                   "<tr><th>cgroup cpu usage usec</th><td>61000042</td></tr>\n"
                                   "<tr><th>requests abandoned</th><td>7</td></tr>\n"
                                   "<tr><th>requests aborted</th><td>8</td></tr>\n"
                                   "<tr><th>requests shed</th><td>9</td></tr>\n"
                                   "</table>\n"
                                   "</body></html>");

        om = render(STATUS_FORMAT_OPENMETRICS, false, &pool, NULL, 0, CT_OPENMETRICS);
        n = strlen(expected_openmetrics) - strlen("# EOF\n");
        ck_assert(strneq(om, expected_openmetrics, n));
        ck_assert_str_eq(om + n, "# HELP phpfpm_memory_peak The memory usage peak since FPM has started.\n"
                                 "# TYPE phpfpm_memory_peak gauge\n"
                                 "phpfpm_memory_peak 2097152\n"
                                 "# HELP phpfpm_cgroup_memory_current_bytes The memory the pool's cgroup uses "
                                 "(memory.current).\n"
                                 "# TYPE phpfpm_cgroup_memory_current_bytes gauge\n"
                                 "# UNIT phpfpm_cgroup_memory_current_bytes bytes\n"
                                 "phpfpm_cgroup_memory_current_bytes 7340032\n"
                                 "# HELP phpfpm_cgroup_cpu_usage_seconds The CPU time the pool's cgroup has used "
                                 "(cpu.stat usage_usec).\n"
                                 "# TYPE phpfpm_cgroup_cpu_usage_seconds counter\n"
                                 "# UNIT phpfpm_cgroup_cpu_usage_seconds seconds\n"
                                 "phpfpm_cgroup_cpu_usage_seconds_total 61.000042\n"
                                 "# HELP phpfpm_requests_abandoned The number of requests not run because the web "
                                 "server had given up on them.\n"
                                 "# TYPE phpfpm_requests_abandoned counter\n"
                                 "phpfpm_requests_abandoned_total 7\n"
                                 "# HELP phpfpm_requests_aborted The number of scripts whose web server went away "
                                 "while they ran.\n"
                                 "# TYPE phpfpm_requests_aborted counter\n"
                                 "phpfpm_requests_aborted_total 8\n"
                                 "# HELP phpfpm_requests_shed The number of requests answered 503 by "
                                 "request_queue_timeout or request_queue_max.\n"
                                 "# TYPE phpfpm_requests_shed counter\n"
                                 "phpfpm_requests_shed_total 9\n"
                                 "# EOF\n");
}
END_TEST

/* fpmd's labelled families: histograms cumulative with the seconds of their bounds, counters by class, and per
 * worker with "full" */
START_TEST(test_openmetrics_extra)
{
        StatusExtra x = {.max_children = 4,
                .status_classes = {0, 7, 1, 2, 3},
                .requests_terminated = 1,
                .workers_killed = 2,
                .duration = {.buckets = {1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1}, .sum_usec = 12500042}};
        StatusProc procs[1] = {{.pid = 42, .state = "Idle", .requests = 9, .rss = 5 << 20}};
        StatusPool pool = test_pool;
        _cleanup_free_ char *om = NULL, *full = NULL;

        pool.extra = &x;
        om = render(STATUS_FORMAT_OPENMETRICS, false, &pool, procs, 1, CT_OPENMETRICS);
        ck_assert_ptr_nonnull(strstr(om, "# TYPE phpfpm_max_children gauge\n"
                                         "# HELP phpfpm_max_children The pool's pm.max_children.\n"
                                         "phpfpm_max_children{pool=\"www\"} 4\n"));
        ck_assert_ptr_nonnull(strstr(om, "phpfpm_responses_total{pool=\"www\",class=\"2xx\"} 7\n"
                                         "phpfpm_responses_total{pool=\"www\",class=\"3xx\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(om, "# TYPE phpfpm_request_duration_seconds histogram\n"
                                         "# UNIT phpfpm_request_duration_seconds seconds\n"));
        ck_assert_ptr_nonnull(strstr(om, "phpfpm_request_duration_seconds_bucket{pool=\"www\",le=\"0.005000\"} 1\n"
                                         "phpfpm_request_duration_seconds_bucket{pool=\"www\",le=\"0.010000\"} 1\n"
                                         "phpfpm_request_duration_seconds_bucket{pool=\"www\",le=\"0.025000\"} 3\n"));
        ck_assert_ptr_nonnull(strstr(om, "phpfpm_request_duration_seconds_bucket{pool=\"www\",le=\"10.000000\"} 3\n"
                                         "phpfpm_request_duration_seconds_bucket{pool=\"www\",le=\"+Inf\"} 4\n"
                                         "phpfpm_request_duration_seconds_count{pool=\"www\"} 4\n"
                                         "phpfpm_request_duration_seconds_sum{pool=\"www\"} 12.500042\n"));
        ck_assert_ptr_null(strstr(om, "phpfpm_opcache_"));
        ck_assert_ptr_null(strstr(om, "phpfpm_process_"));
        ck_assert_str_eq(om + strlen(om) - 7, "\n# EOF\n");

        full = render(STATUS_FORMAT_OPENMETRICS, true, &pool, procs, 1, CT_OPENMETRICS);
        ck_assert_ptr_nonnull(strstr(full, "phpfpm_process_requests_total{pool=\"www\",pid=\"42\"} 9\n"));
        ck_assert_ptr_nonnull(strstr(full, "phpfpm_process_resident_memory_bytes{pool=\"www\",pid=\"42\"} 5242880\n"));
        ck_assert_ptr_nonnull(strstr(full, "phpfpm_process_state{pool=\"www\",pid=\"42\",state=\"Idle\"} 1\n"));
}
END_TEST

/* The same figures in the other formats: cumulative buckets named by their bound in seconds, count and sum, and
 * the opcache when the page has it */
START_TEST(test_extra_fields)
{
        StatusExtra x = {.max_children = 4,
                .duration = {.buckets = {1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1}, .sum_usec = 12500042},
                .wait = {.buckets = {5}, .sum_usec = 7},
                .has_opcache = true,
                .opcache = {.enabled = true,
                        .used = 100,
                        .free = 200,
                        .wasted = 3,
                        .cached_keys = 9,
                        .hits = 70,
                        .misses = 2,
                        .oom_restarts = 1}};
        StatusPool pool = test_pool;
        _cleanup_free_ char *text = NULL, *json = NULL, *xml = NULL;

        pool.extra = &x;
        text = render(STATUS_FORMAT_TEXT, false, &pool, NULL, 0, CT_TEXT);
        ck_assert_ptr_nonnull(strstr(text, "request duration le 0.005: 1\n"
                                           "request duration le 0.01: 1\n"
                                           "request duration le 0.025: 3\n"));
        ck_assert_ptr_nonnull(strstr(text, "request duration le 10: 3\n"
                                           "request duration le inf: 4\n"
                                           "request duration count: 4\n"
                                           "request duration sum usec: 12500042\n"
                                           "queue wait le 0.005:  5\n"));
        ck_assert_ptr_nonnull(strstr(text, "queue wait le inf:    5\n"
                                           "queue wait count:     5\n"
                                           "queue wait sum usec:  7\n"
                                           "opcache enabled:      1\n"
                                           "opcache used memory:  100\n"
                                           "opcache free memory:  200\n"
                                           "opcache wasted memory: 3\n"
                                           "opcache cached keys:  9\n"
                                           "opcache hits:         70\n"
                                           "opcache misses:       2\n"
                                           "opcache oom restarts: 1\n"));
        json = render(STATUS_FORMAT_JSON, false, &pool, NULL, 0, CT_JSON);
        ck_assert_ptr_nonnull(strstr(json, "\"request duration le 2.5\":3,"));
        ck_assert_ptr_nonnull(strstr(json, "\"opcache hits\":70,"));
        xml = render(STATUS_FORMAT_XML, false, &pool, NULL, 0, CT_XML);
        ck_assert_ptr_nonnull(strstr(xml, "<request-duration-le-inf>4</request-duration-le-inf>"));

        x.has_opcache = false;
        free(text);
        text = render(STATUS_FORMAT_TEXT, false, &pool, NULL, 0, CT_TEXT);
        ck_assert_ptr_null(strstr(text, "opcache"));
}
END_TEST

START_TEST(test_additions_one_known)
{
        StatusPool pool = test_pool;
        _cleanup_free_ char *text = NULL;

        set_tz("UTC");
        pool.cgroup_cpu_usage_usec = 0;
        text = render(STATUS_FORMAT_TEXT, false, &pool, NULL, 0, CT_TEXT);
        assert_starts_with(text, expected_text);
        ck_assert_str_eq(text + strlen(expected_text), "cgroup cpu usage usec: 0\n");
}
END_TEST

/* The URI of the brief: quote, '<', '&', LF, invalid UTF-8 (0xff 0xfe) and a 4-byte emoji; the query has
 * quotes, '&', CR, a control, a tab and DEL */
#define NASTY_URI   "/x\"<&\n\xff\xfe\xf0\x9f\x98\x80.php"
#define NASTY_QUERY "a='b'&c=\r\x01\t\x7f"

static void nasty_proc(StatusProc *p)
{
        *p = (StatusProc){
                .pid = 7,
                .state = "Running",
                .start_time = 1795489115,
                .request_method = "GET",
                .request_uri = NASTY_URI,
                .query_string = NASTY_QUERY,
                .user = "u>s",
                .script = "/srv/\xc3\xa9.php",
        };
}

#define FFFD "\xef\xbf\xbd"

START_TEST(test_escape_text)
{
        StatusProc p;
        _cleanup_free_ char *body = NULL;

        set_tz("UTC");
        nasty_proc(&p);
        body = render(STATUS_FORMAT_TEXT, true, &test_pool, &p, 1, CT_TEXT);
        /* PHP-FPM prints the bytes raw; fpmd keeps one field on one line, and the page valid UTF-8 */
        assert_contains(body, "\nrequest URI:          /x\"<&" FFFD FFFD FFFD
                              "\xf0\x9f\x98\x80.php?a='b'&c=" FFFD FFFD FFFD FFFD "\ncontent length:");
        assert_contains(body, "\nuser:                 u>s\n");
        assert_contains(body, "\nscript:               /srv/\xc3\xa9.php\n");
}
END_TEST

START_TEST(test_escape_json)
{
        StatusProc p;
        _cleanup_free_ char *body = NULL;

        set_tz("UTC");
        nasty_proc(&p);
        body = render(STATUS_FORMAT_JSON, true, &test_pool, &p, 1, CT_JSON);
        /* As PHP's json_encode(), but invalid UTF-8 becomes U+FFFD where PHP-FPM drops it */
        assert_contains(body, ",\"request "
                              "uri\":\"\\/x\\\"<&\\n\\ufffd\\ufffd\\ud83d\\ude00.php?a='b'&c=\\r\\u0001\\t\x7f\",");
        assert_contains(body, ",\"user\":\"u>s\",\"script\":\"\\/srv\\/\\u00e9.php\",");
}
END_TEST

START_TEST(test_escape_xml)
{
        StatusProc p;
        _cleanup_free_ char *body = NULL;

        set_tz("UTC");
        nasty_proc(&p);
        body = render(STATUS_FORMAT_XML, true, &test_pool, &p, 1, CT_XML);
        /* PHP-FPM leaves out a query with invalid UTF-8 altogether, and lets controls through */
        assert_contains(body, "<request-uri>/x&quot;&lt;&amp;\n" FFFD FFFD
                              "\xf0\x9f\x98\x80.php?a=&apos;b&apos;&amp;c=&#13;" FFFD "\t" FFFD "</request-uri>");
        assert_contains(body, "<user>u&gt;s</user><script>/srv/\xc3\xa9.php</script>");
}
END_TEST

START_TEST(test_escape_html)
{
        StatusProc p;
        _cleanup_free_ char *body = NULL;

        set_tz("UTC");
        nasty_proc(&p);
        body = render(STATUS_FORMAT_HTML, true, &test_pool, &p, 1, CT_HTML);
        assert_contains(body,
                "<td>GET</td><td>/x&quot;&lt;&amp;\n" FFFD FFFD "\xf0\x9f\x98\x80.php?a=&#39;b&#39;&amp;c=&#13;" FFFD
                "\t" FFFD "</td><td>0</td><td>u&gt;s</td><td>/srv/\xc3\xa9.php</td>");
}
END_TEST

/* The pool's name, free text from the configuration, in every format */
START_TEST(test_escape_pool)
{
        StatusPool pool = test_pool;
        _cleanup_free_ char *text = NULL, *json = NULL, *xml = NULL, *html = NULL, *om = NULL;

        set_tz("UTC");
        pool.pool = "a\"b\\c\nd<e>&'\xff";
        pool.process_manager = NULL;

        text = render(STATUS_FORMAT_TEXT, false, &pool, NULL, 0, CT_TEXT);
        assert_contains(text, "pool:                 a\"b\\c" FFFD "d<e>&'" FFFD "\nprocess manager:      -\n");

        json = render(STATUS_FORMAT_JSON, false, &pool, NULL, 0, CT_JSON);
        assert_contains(json, "{\"pool\":\"a\\\"b\\\\c\\nd<e>&'\\ufffd\",\"process manager\":\"-\",");

        xml = render(STATUS_FORMAT_XML, false, &pool, NULL, 0, CT_XML);
        assert_contains(
                xml, "<pool>a&quot;b\\c\nd&lt;e&gt;&amp;&apos;" FFFD "</pool>\n<process-manager>-</process-manager>\n");

        html = render(STATUS_FORMAT_HTML, false, &pool, NULL, 0, CT_HTML);
        assert_contains(html, "<tr><th>pool</th><td>a&quot;b\\c\nd&lt;e&gt;&amp;&#39;" FFFD "</td></tr>\n");

        om = render(STATUS_FORMAT_OPENMETRICS, false, &pool, NULL, 0, CT_OPENMETRICS);
        assert_starts_with(om,
                "# HELP phpfpm_up Could pool a\\\"b\\\\c\\nd<e>&'" FFFD " using a - PM on PHP-FPM be reached?\n"
                "# TYPE phpfpm_up gauge\n"
                "phpfpm_up 1\n");
}
END_TEST

static void assert_json_string(const char *in, const char *expected)
{
        StatusPool pool = test_pool;
        _cleanup_free_ char *body = NULL, *want = NULL;

        pool.pool = in;
        body = render(STATUS_FORMAT_JSON, false, &pool, NULL, 0, CT_JSON);
        ck_assert_int_ge(asprintf(&want, "{\"pool\":\"%s\",\"process manager\"", expected), 0);
        ck_assert_msg(strneq(body, want, strlen(want)), "got %s, expected %s", body, want);
}

/* Invalid UTF-8: one U+FFFD per maximal subpart, as Python's and browsers' decoders do */
START_TEST(test_utf8)
{
        set_tz("UTC");
        assert_json_string("\xc3\xa9", "\\u00e9");
        assert_json_string("\xe2\x82\xac", "\\u20ac");
        assert_json_string("\xe2\x80\xa8", "\\u2028");
        assert_json_string("\xef\xbf\xbf", "\\uffff");
        assert_json_string("\xf4\x8f\xbf\xbf", "\\udbff\\udfff");
        assert_json_string("\x7f", "\x7f");
        assert_json_string("\x1f", "\\u001f");
        assert_json_string("\b\f", "\\b\\f");
        /* overlong encodings */
        assert_json_string("\xc0\xaf", "\\ufffd\\ufffd");
        assert_json_string("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd");
        assert_json_string("\xf0\x80\x80\xaf", "\\ufffd\\ufffd\\ufffd\\ufffd");
        /* surrogates, and above U+10FFFF */
        assert_json_string("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");
        assert_json_string("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
        assert_json_string("\xf5\x80", "\\ufffd\\ufffd");
        /* sequences cut short, in the middle and at the end */
        assert_json_string("\xe2\x82"
                           "a",
                "\\ufffda");
        assert_json_string("a\xf0\x9f\x98", "a\\ufffd");
        assert_json_string("\x80\xbf", "\\ufffd\\ufffd");
}
END_TEST

/* XML 1.0's Char production: controls but tab, LF, CR and the non-characters U+FFFE/U+FFFF are out */
START_TEST(test_xml_chars)
{
        StatusPool pool = test_pool;
        _cleanup_free_ char *xml = NULL;

        set_tz("UTC");
        pool.pool = "\x01\x1f\x7f\xef\xbf\xbe\xef\xbf\xbf\xef\xbf\xbd\xc2\x85";
        xml = render(STATUS_FORMAT_XML, false, &pool, NULL, 0, CT_XML);
        assert_contains(xml, "<pool>" FFFD FFFD FFFD FFFD FFFD FFFD "\xc2\x85</pool>\n");
}
END_TEST

static void assert_cpu(double cpu, const char *expected)
{
        StatusProc p = {.pid = 1, .last_request_cpu = cpu};
        _cleanup_free_ char *json = NULL, *want = NULL;

        json = render(STATUS_FORMAT_JSON, true, &test_pool, &p, 1, CT_JSON);
        ck_assert_int_ge(asprintf(&want, "\"last request cpu\":%s,", expected), 0);
        assert_contains(json, want);
}

START_TEST(test_cpu)
{
        set_tz("UTC");
        assert_cpu(0.0, "0.00");
        assert_cpu(1.5, "1.50");
        assert_cpu(12.344, "12.34");
        assert_cpu(12.346, "12.35");
        assert_cpu(99.999, "100.00");
        assert_cpu(250.0, "250.00");
        /* ties round to even, as printf() and PHP's own formatting do */
        assert_cpu(0.125, "0.12");
        assert_cpu(0.375, "0.38");
        /* never "nan", "-0.00" or "inf" in a JSON number */
        assert_cpu(NAN, "0.00");
        assert_cpu(-1.0, "0.00");
        assert_cpu(-0.0, "0.00");
        assert_cpu(INFINITY, "1000000000000000.00");
}
END_TEST

/* Text and HTML print dates in the local time zone with a numeric offset; JSON and XML print epoch seconds
 */
START_TEST(test_time_zones)
{
        _cleanup_free_ char *east = NULL, *west = NULL, *json = NULL;

        set_tz("IST-5:30");
        east = render(STATUS_FORMAT_TEXT, false, &test_pool, NULL, 0, CT_TEXT);
        assert_contains(east, "\nstart time:           24/Nov/2026:08:28:35 +0530\n");

        set_tz("XYZ+3");
        west = render(STATUS_FORMAT_HTML, false, &test_pool, NULL, 0, CT_HTML);
        assert_contains(west, "<tr><th>start time</th><td>23/Nov/2026:23:58:35 -0300</td></tr>\n");
        json = render(STATUS_FORMAT_JSON, false, &test_pool, NULL, 0, CT_JSON);
        assert_contains(json, ",\"start time\":1795489115,");
}
END_TEST

START_TEST(test_empty_fields)
{
        StatusProc p = {
                .pid = 9,
                .state = "Idle",
                .start_time = 1795489115,
                .request_uri = NULL,
                .query_string = "q",
                .request_method = "",
        };
        _cleanup_free_ char *text = NULL;

        set_tz("UTC");
        text = render(STATUS_FORMAT_TEXT, true, &test_pool, &p, 1, CT_TEXT);
        ck_assert_str_eq(text + strlen(expected_text), "\n"
                                                       "************************\n"
                                                       "pid:                  9\n"
                                                       "state:                Idle\n"
                                                       "start time:           24/Nov/2026:02:58:35 +0000\n"
                                                       "start since:          0\n"
                                                       "requests:             0\n"
                                                       "request duration:     0\n"
                                                       "request method:       -\n"
                                                       "request URI:          -?q\n"
                                                       "content length:       0\n"
                                                       "user:                 -\n"
                                                       "script:               -\n"
                                                       "last request cpu:     0.00\n"
                                                       "last request memory:  0\n");
}
END_TEST

START_TEST(test_render_errors)
{
        StatusPool pool = test_pool;
        char *body = (char *)"untouched";
        size_t len = 42;
        const char *ct = "untouched";

        set_tz("UTC");
        ck_assert_int_eq(status_render(_STATUS_FORMAT_INVALID, false, &test_pool, NULL, 0, &body, &len, &ct), -EINVAL);
        ck_assert_int_eq(status_render(_STATUS_FORMAT_MAX, false, &test_pool, NULL, 0, &body, &len, &ct), -EINVAL);
        ck_assert_int_eq(status_render(STATUS_FORMAT_TEXT, false, NULL, NULL, 0, &body, &len, &ct), -EINVAL);
        ck_assert_int_eq(status_render(STATUS_FORMAT_TEXT, true, &test_pool, NULL, 1, &body, &len, &ct), -EINVAL);
        ck_assert_int_eq(status_render(STATUS_FORMAT_TEXT, false, &test_pool, NULL, 0, NULL, &len, &ct), -EINVAL);

        /* A date that cannot be a time_t: text and HTML fail, JSON and XML print the number */
        pool.start_time = UINT64_MAX - 1;
        ck_assert_int_eq(status_render(STATUS_FORMAT_TEXT, false, &pool, NULL, 0, &body, &len, &ct), -ERANGE);
        ck_assert_int_eq(status_render(STATUS_FORMAT_HTML, false, &pool, NULL, 0, &body, &len, &ct), -ERANGE);

        ck_assert_str_eq(body, "untouched");
        ck_assert_uint_eq(len, 42);
        ck_assert_str_eq(ct, "untouched");

        ck_assert_int_eq(status_render(STATUS_FORMAT_JSON, false, &pool, NULL, 0, &body, NULL, NULL), 0);
        assert_contains(body, ",\"start time\":18446744073709551614,");
        free(body);
}
END_TEST

static void assert_query(const char *query, StatusFormat format, bool full)
{
        StatusFormat f = _STATUS_FORMAT_INVALID;
        bool fl = !full;

        status_parse_query(query, &f, &fl);
        ck_assert_msg(f == format, "\"%s\": format %s, expected %s", strna(query), status_format_to_string(f),
                status_format_to_string(format));
        ck_assert_msg(fl == full, "\"%s\": full %d, expected %d", strna(query), fl, full);
}

START_TEST(test_parse_query)
{
        assert_query(NULL, STATUS_FORMAT_TEXT, false);
        assert_query("", STATUS_FORMAT_TEXT, false);
        assert_query("json", STATUS_FORMAT_JSON, false);
        assert_query("full", STATUS_FORMAT_TEXT, true);
        assert_query("json&full", STATUS_FORMAT_JSON, true);
        assert_query("full&json", STATUS_FORMAT_JSON, true);
        assert_query("xml&full", STATUS_FORMAT_XML, true);
        assert_query("html", STATUS_FORMAT_HTML, false);
        assert_query("html&full", STATUS_FORMAT_HTML, true);
        assert_query("openmetrics", STATUS_FORMAT_OPENMETRICS, false);
        assert_query("openmetrics&full", STATUS_FORMAT_OPENMETRICS, true);
        assert_query("xyz", STATUS_FORMAT_TEXT, false);
}
END_TEST

/* How PHP 8.2 fills $_GET, checked against php-fpm8.2 */
START_TEST(test_parse_query_php)
{
        /* the order of the checks, not of the query, picks the format */
        assert_query("html&xml", STATUS_FORMAT_HTML, false);
        assert_query("xml&html", STATUS_FORMAT_HTML, false);
        assert_query("xml&json", STATUS_FORMAT_XML, false);
        assert_query("json&openmetrics", STATUS_FORMAT_JSON, false);
        /* values do not matter, "full=0" is full */
        assert_query("json=1", STATUS_FORMAT_JSON, false);
        assert_query("json=&full=0", STATUS_FORMAT_JSON, true);
        assert_query("a=json", STATUS_FORMAT_TEXT, false);
        /* names are URL-decoded; leading blanks go; arrays count by their name */
        assert_query("%6Ason&fu%6cl", STATUS_FORMAT_JSON, true);
        assert_query("+json", STATUS_FORMAT_JSON, false);
        assert_query("%20json", STATUS_FORMAT_JSON, false);
        assert_query("json[]", STATUS_FORMAT_JSON, false);
        assert_query("json[a]b", STATUS_FORMAT_JSON, false);
        assert_query("json%5B%5D", STATUS_FORMAT_JSON, false);
        assert_query("json[", STATUS_FORMAT_TEXT, false);
        assert_query("json[%00]", STATUS_FORMAT_TEXT, false);
        assert_query("json+", STATUS_FORMAT_TEXT, false);
        assert_query("json%20", STATUS_FORMAT_TEXT, false);
        assert_query(".json", STATUS_FORMAT_TEXT, false);
        assert_query("json.", STATUS_FORMAT_TEXT, false);
        /* a decoded NUL ends the name */
        assert_query("json%00x", STATUS_FORMAT_JSON, false);
        assert_query("%00json", STATUS_FORMAT_TEXT, false);
        /* '&' only separates; empty pieces are skipped */
        assert_query("&&json&", STATUS_FORMAT_JSON, false);
        assert_query("json;full", STATUS_FORMAT_TEXT, false);
        assert_query("=json", STATUS_FORMAT_TEXT, false);
        /* names are case-sensitive */
        assert_query("JSON&FULL", STATUS_FORMAT_TEXT, false);
        assert_query("jsonx&fullx", STATUS_FORMAT_TEXT, false);
        assert_query("%", STATUS_FORMAT_TEXT, false);
        assert_query("json%2", STATUS_FORMAT_TEXT, false);
        assert_query("averyveryverylongnamethatisnoword=1&xml", STATUS_FORMAT_XML, false);
}
END_TEST

/* PHP-FPM 8.2 compares names by the length of the name given, so "j" is json and "f" is full; fpmd takes
 * the words only */
START_TEST(test_parse_query_no_prefixes)
{
        assert_query("j", STATUS_FORMAT_TEXT, false);
        assert_query("x&f", STATUS_FORMAT_TEXT, false);
        assert_query("jso&ful", STATUS_FORMAT_TEXT, false);
        assert_query("js%00on", STATUS_FORMAT_TEXT, false);
}
END_TEST

START_TEST(test_parse_query_null_outputs)
{
        StatusFormat f = _STATUS_FORMAT_INVALID;
        bool full = false;

        status_parse_query("xml&full", &f, NULL);
        ck_assert_int_eq(f, STATUS_FORMAT_XML);
        status_parse_query("xml&full", NULL, &full);
        ck_assert(full);
}
END_TEST

START_TEST(test_format_names)
{
        ck_assert_str_eq(status_format_to_string(STATUS_FORMAT_TEXT), "text");
        ck_assert_str_eq(status_format_to_string(STATUS_FORMAT_JSON), "json");
        ck_assert_str_eq(status_format_to_string(STATUS_FORMAT_XML), "xml");
        ck_assert_str_eq(status_format_to_string(STATUS_FORMAT_HTML), "html");
        ck_assert_str_eq(status_format_to_string(STATUS_FORMAT_OPENMETRICS), "openmetrics");
        ck_assert_ptr_null(status_format_to_string(_STATUS_FORMAT_MAX));
        ck_assert_ptr_null(status_format_to_string(_STATUS_FORMAT_INVALID));
}
END_TEST

/* ---- snapshots of a scoreboard ---- */

static __attribute__((noinline)) int take_snapshot(const Scoreboard *sb, unsigned n, StatusSnapshot *ret)
{
        return status_snapshot(sb, n, 10 * USEC_PER_SEC, 1, 511, ret);
}

/* Writes over the stack where take_snapshot()'s frame was */
static __attribute__((noinline)) void clobber_stack(void)
{
        volatile char junk[8192];

        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char)0xa5;
}

START_TEST(test_snapshot_strings_are_its_own)
{
        _cleanup_close_ int fd = -1;
        StatusSnapshot snap;
        Scoreboard *sb;

        ck_assert_int_eq(scoreboard_new("www", "static", 2, &sb, &fd), 0);
        sb->slots[1].state = WORKER_IDLE;
        sb->slots[1].pid = 42;
        scoreboard_set_str(sb->slots[1].uri, sizeof(sb->slots[1].uri), "/index.php");
        ck_assert_int_eq(take_snapshot(sb, 2, &snap), 0);
        clobber_stack();
        /* the scoreboard changes after the snapshot: the snapshot does not */
        scoreboard_set_str(sb->slots[1].uri, sizeof(sb->slots[1].uri), "/other.php");
        ck_assert_str_eq(snap.pool.pool, "www");
        ck_assert_str_eq(snap.pool.process_manager, "static");
        ck_assert_uint_eq(snap.n_procs, 1);
        ck_assert_int_eq(snap.procs[0].pid, 42);
        ck_assert_str_eq(snap.procs[0].request_uri, "/index.php");
        status_snapshot_done(&snap);
        munmap(sb, scoreboard_size(2));
}
END_TEST

START_TEST(test_snapshot_of_garbage_is_bounded)
{
        _cleanup_close_ int fd = -1;
        StatusSnapshot snap;
        Scoreboard *sb;

        /* A worker wrote over all of it: no NUL anywhere, every state "idle" */
        ck_assert_int_eq(scoreboard_new("www", "static", 3, &sb, &fd), 0);
        memset((char *)sb + sizeof(uint64_t), 'x', scoreboard_size(3) - sizeof(uint64_t));
        for (unsigned i = 0; i < 3; i++)
                sb->slots[i].state = WORKER_IDLE;
        ck_assert_int_eq(take_snapshot(sb, 3, &snap), 0);
        clobber_stack();
        ck_assert_uint_eq(strlen(snap.pool.pool), sizeof(snap.pool_name) - 1);
        ck_assert_uint_eq(strlen(snap.pool.process_manager), sizeof(snap.pm_name) - 1);
        ck_assert_uint_eq(snap.n_procs, 3);
        for (unsigned i = 0; i < 3; i++) {
                ck_assert_uint_eq(strlen(snap.procs[i].request_uri), SCOREBOARD_STR_MAX - 1);
                ck_assert_uint_eq(strlen(snap.procs[i].request_method), sizeof(sb->slots[0].method) - 1);
        }
        status_snapshot_done(&snap);
        munmap(sb, scoreboard_size(3));
}
END_TEST

static Suite *status_suite(void)
{
        Suite *s = suite_create("status");
        TCase *pages = tcase_create("pages"), *escaping = tcase_create("escaping"), *values = tcase_create("values"),
              *query = tcase_create("query");

        tcase_add_test(pages, test_text);
        tcase_add_test(pages, test_json);
        tcase_add_test(pages, test_xml);
        tcase_add_test(pages, test_html);
        tcase_add_test(pages, test_openmetrics);
        tcase_add_test(pages, test_full_without_processes);
        tcase_add_test(pages, test_additions);
        tcase_add_test(pages, test_additions_one_known);
        tcase_add_test(pages, test_openmetrics_extra);
        tcase_add_test(pages, test_extra_fields);
        suite_add_tcase(s, pages);

        tcase_add_test(escaping, test_escape_text);
        tcase_add_test(escaping, test_escape_json);
        tcase_add_test(escaping, test_escape_xml);
        tcase_add_test(escaping, test_escape_html);
        tcase_add_test(escaping, test_escape_pool);
        tcase_add_test(escaping, test_utf8);
        tcase_add_test(escaping, test_xml_chars);
        suite_add_tcase(s, escaping);

        tcase_add_test(values, test_cpu);
        tcase_add_test(values, test_time_zones);
        tcase_add_test(values, test_empty_fields);
        tcase_add_test(values, test_render_errors);
        tcase_add_test(values, test_snapshot_strings_are_its_own);
        tcase_add_test(values, test_snapshot_of_garbage_is_bounded);
        suite_add_tcase(s, values);

        tcase_add_test(query, test_parse_query);
        tcase_add_test(query, test_parse_query_php);
        tcase_add_test(query, test_parse_query_no_prefixes);
        tcase_add_test(query, test_parse_query_null_outputs);
        tcase_add_test(query, test_format_names);
        suite_add_tcase(s, query);

        return s;
}

TEST_MAIN(status_suite)
