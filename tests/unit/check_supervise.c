/* check_supervise.c: the supervisor's spec parser (unix and TCP sockets), its restart
 * back-off, how it names an exit, a real start of a process on a real socket, and the
 * runtime's listening addresses (si_listen.h). */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervise.h"
#include "si_listen.h"
#include "health.h"

static int parse(struct sv_spec *spec, const char *text, char *err, size_t n)
{
    char *copy = strdup(text);
    ck_assert_ptr_nonnull(copy);
    int rc = sv_spec_parse(spec, copy, err, n);
    if (rc != 0)
        free(copy);
    return rc;
}

START_TEST(a_spec_lists_processes_with_rank_signal_timeout_socket_and_argv)
{
    struct sv_spec spec;
    char err[200] = "";
    int rc = parse(&spec,
                   "# comment\n"
                   "\n"
                   "ingest-statement 3 TERM 10 /run/si/ingest.sock /usr/lib/si/smartimport-ingest-statement\n"
                   "nginx 2 SIGQUIT 15 - /usr/sbin/nginx -p /var/nginx -c /var/nginx/nginx.conf\n",
                   err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(spec.n, 2);
    ck_assert_str_eq(spec.procs[0].name, "ingest-statement");
    ck_assert_int_eq(spec.procs[0].rank, 3);
    ck_assert_int_eq(spec.procs[0].stop_signal, SIGTERM);
    ck_assert_int_eq(spec.procs[0].stop_timeout_ms, 10000);
    ck_assert_str_eq(spec.procs[0].socket_path, "/run/si/ingest.sock");
    ck_assert_str_eq(spec.procs[0].argv[0], "/usr/lib/si/smartimport-ingest-statement");
    ck_assert_ptr_null(spec.procs[0].argv[1]);
    ck_assert_int_eq(spec.procs[1].stop_signal, SIGQUIT);
    ck_assert_ptr_null(spec.procs[1].socket_path);
    ck_assert_str_eq(spec.procs[1].argv[4], "/var/nginx/nginx.conf");
    ck_assert_ptr_null(spec.procs[1].argv[5]);
    sv_spec_free(&spec);
}
END_TEST

static const struct { const char *text, *why; } bad_specs[] = {
    { "", "no process listed" },
    { "a 1 TERM 10 -\n", "expected NAME" },
    { "Bad 1 TERM 10 - /bin/true\n", "bad name" },
    { "a x TERM 10 - /bin/true\n", "bad rank" },
    { "a 1 NOPE 10 - /bin/true\n", "unknown signal" },
    { "a 1 TERM 0 - /bin/true\n", "bad stop timeout" },
    { "a 1 TERM 10 rel.sock /bin/true\n", "must be absolute" },
    { "a 1 TERM 10 - true\n", "must be absolute" },
    { "a 1 TERM 10 - /bin/true\na 2 TERM 10 - /bin/true\n", "line 2: 'a' is listed twice" },
    { "a 1 TERM 10 tcp:10.0.0.1:0 /bin/true\n", "the port must be 1..65535" },
    { "a 1 TERM 10 tcp:10.0.0.1:65536 /bin/true\n", "the port must be 1..65535" },
    { "a 1 TERM 10 tcp:10.0.0.1:90x1 /bin/true\n", "the port must be 1..65535" },
    { "a 1 TERM 10 tcp:10.0.0.1: /bin/true\n", "the port must be 1..65535" },
    { "a 1 TERM 10 tcp::9001 /bin/true\n", "expected a host" },
    { "a 1 TERM 10 tcp:9001 /bin/true\n", "expected tcp:HOST:PORT" },
    { "a 1 TERM 10 tcp:::1:9001 /bin/true\n", "IPv6 address goes in brackets" },
    { "a 1 TERM 10 tcp:[::1]9001 /bin/true\n", "[ADDR]:PORT" },
    { "a 1 TERM 10 tcp:ho$t:9001 /bin/true\n", "unexpected character" },
    { "a 1 TERM 10 rel:x.sock /bin/true\n", "the port must be 1..65535" },
};

/* The socket field also takes TCP: tcp:HOST:PORT, HOST:PORT, [IPv6]:PORT (si_listen.h). */
START_TEST(a_spec_socket_may_be_a_tcp_address)
{
    struct sv_spec spec;
    char err[200] = "";
    int rc = parse(&spec,
                   "a 3 TERM 10 tcp:10.77.0.11:9001 /bin/a\n"
                   "b 3 TERM 10 10.77.0.11:9002 /bin/b\n"
                   "c 3 TERM 10 tcp:[fd00::11]:9003 /bin/c\n"
                   "d 3 TERM 10 tcp:host-1.internal:9004 /bin/d\n"
                   "e 3 TERM 10 /run/si/x:y.sock /bin/e\n",
                   err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(spec.n, 5);
    ck_assert_str_eq(spec.procs[0].socket_path, "tcp:10.77.0.11:9001");
    ck_assert(spec.procs[0].socket_tcp && spec.procs[1].socket_tcp && spec.procs[2].socket_tcp &&
              spec.procs[3].socket_tcp);
    ck_assert(!spec.procs[4].socket_tcp);
    struct si_listen_addr a;
    ck_assert_int_eq(si_listen_parse("tcp:[fd00::11]:9003", &a, err, sizeof err), 0);
    ck_assert(a.tcp);
    ck_assert_str_eq(a.host, "fd00::11");
    ck_assert_str_eq(a.port, "9003");
    ck_assert_int_eq(si_listen_parse("10.77.0.11:09002", &a, err, sizeof err), 0);
    ck_assert_str_eq(a.host, "10.77.0.11");
    ck_assert_str_eq(a.port, "9002");
    /* SMARTIMPORT_LISTEN also takes a relative unix path, as FCGX_OpenSocket did. */
    ck_assert_int_eq(si_listen_parse("run/fn.sock", &a, err, sizeof err), 0);
    ck_assert(!a.tcp);
    ck_assert_str_eq(a.path, "run/fn.sock");
    sv_spec_free(&spec);
}
END_TEST

/* FCGI_WEB_SERVER_ADDRS as libfcgi reads it: a comma-separated IPv4 list; unset allows all. */
START_TEST(only_the_listed_peers_are_allowed_over_tcp)
{
    struct sockaddr_in in = { .sin_family = AF_INET };
    ck_assert_int_eq(inet_pton(AF_INET, "10.77.0.1", &in.sin_addr), 1);
    const struct sockaddr *peer = (const struct sockaddr *)&in;
    ck_assert(si_listen_peer_allowed(peer, NULL));
    ck_assert(si_listen_peer_allowed(peer, ""));
    ck_assert(si_listen_peer_allowed(peer, "10.77.0.1"));
    ck_assert(si_listen_peer_allowed(peer, "127.0.0.1, 10.77.0.1"));
    ck_assert(!si_listen_peer_allowed(peer, "10.77.0.11"));
    ck_assert(!si_listen_peer_allowed(peer, "10.77.0.10,10.77.0.100,junk"));
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
    ck_assert(!si_listen_peer_allowed((const struct sockaddr *)&in6, "10.77.0.1"));
    ck_assert(si_listen_peer_allowed((const struct sockaddr *)&in6, NULL));
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    ck_assert(si_listen_peer_allowed((const struct sockaddr *)&un, "10.77.0.1"));
}
END_TEST

/* A TCP socket the supervisor owns: a client that connects before the process starts waits in
 * the backlog, and the address can be bound again at once after the socket is closed
 * (SO_REUSEADDR: a connection left in TIME_WAIT does not block the rebind). */
START_TEST(a_tcp_socket_queues_clients_and_rebinds_at_once)
{
    /* A free port: bind :0, read it, close. */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    ck_assert_int_eq(bind(probe, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(getsockname(probe, (struct sockaddr *)&addr, &len), 0);
    close(probe);
    char spec[64], err[200] = "";
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));

    for (int round = 0; round < 2; round++) {
        int fd = sv_listen(spec, err, sizeof err);
        ck_assert_msg(fd >= 0, "round %d: %s", round, err);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
        int s = accept(fd, NULL, NULL);
        ck_assert_int_ge(s, 0);
        /* The server side closes first: its end of the connection stays in TIME_WAIT. */
        close(s);
        close(c);
        close(fd);
    }
}
END_TEST

START_TEST(a_bad_spec_is_refused_with_its_line_and_reason)
{
    struct sv_spec spec;
    char err[200] = "";
    ck_assert_int_eq(parse(&spec, bad_specs[_i].text, err, sizeof err), -1);
    ck_assert_msg(strstr(err, bad_specs[_i].why) != NULL, "'%s' does not say '%s'", err, bad_specs[_i].why);
}
END_TEST

START_TEST(restarts_are_immediate_first_then_back_off_to_a_cap)
{
    ck_assert_int_eq(sv_restart_delay_ms(1), 0);
    ck_assert_int_eq(sv_restart_delay_ms(2), SV_BACKOFF_FIRST_MS);
    ck_assert_int_eq(sv_restart_delay_ms(3), 2 * SV_BACKOFF_FIRST_MS);
    ck_assert_int_eq(sv_restart_delay_ms(4), 4 * SV_BACKOFF_FIRST_MS);
    for (int f = 2; f < 200; f++)
        ck_assert_int_ge(sv_restart_delay_ms(f + 1), sv_restart_delay_ms(f));
    ck_assert_int_eq(sv_restart_delay_ms(1000), SV_BACKOFF_MAX_MS);
}
END_TEST

static int status_of(int how)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, how > 0 ? "kill -%d $$" : "exit %d", how > 0 ? how : -how);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(an_exit_is_named_by_its_signal_or_code)
{
    char out[48];
    int st = status_of(SIGKILL);
    sv_describe_exit(st, out, sizeof out);
    ck_assert_str_eq(out, "signal SIGKILL");
    ck_assert(!sv_exit_was_requested(st));
    st = status_of(SIGTERM);
    sv_describe_exit(st, out, sizeof out);
    ck_assert_str_eq(out, "signal SIGTERM");
    ck_assert(sv_exit_was_requested(st));
    st = status_of(-3);
    sv_describe_exit(st, out, sizeof out);
    ck_assert_str_eq(out, "exit 3");
    ck_assert(sv_exit_was_requested(st));
}
END_TEST

/* A real socket and a real child: the child gets the listening socket as
 * its standard input and answers a client that connected BEFORE it started
 * (the backlog holds connections while a process restarts). */
START_TEST(a_child_gets_the_socket_as_stdin_and_finds_waiting_clients)
{
    char dir[] = "/tmp/check_supervise.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sock[256], err[200] = "";
    snprintf(sock, sizeof sock, "%s/fn.sock", dir);
    struct sv_proc p = { .name = "echo", .listen_fd = -1 };
    p.socket_path = sock;
    p.listen_fd = sv_listen(sock, err, sizeof err);
    ck_assert_msg(p.listen_fd >= 0, "%s", err);

    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy(addr.sun_path, sock, strlen(sock) + 1);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);

    /* The child is a shell that checks its standard input is a socket and
     * says so in its log (the log path and SMARTIMPORT_FUNCTION come from
     * sv_start). */
    p.argv[0] = "/bin/sh";
    p.argv[1] = "-c";
    p.argv[2] = "readlink /proc/$$/fd/0 | grep -q '^socket:' && echo ok";
    p.argv[3] = NULL;
    pid_t pid = sv_start(&p, dir);
    ck_assert_int_gt(pid, 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char log[300], line[64] = "";
    snprintf(log, sizeof log, "%s/echo.log", dir);
    FILE *f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "ok\n");
    ck_assert_str_eq(getenv("SMARTIMPORT_FUNCTION"), "echo");

    /* The client that connected before the child started is still queued. */
    int s = accept(p.listen_fd, NULL, NULL);
    ck_assert_int_ge(s, 0);
    close(s);
    close(c);
    close(p.listen_fd);
    unlink(sock);
    unlink(log);
    rmdir(dir);
}
END_TEST

/* /health's reading of the state file (modules/health/functions.c). */
START_TEST(health_reads_every_process_state_and_names_the_first_one_down)
{
    char path[] = "/tmp/check_supervise_state.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "{\"processes\":{\"a\":{\"state\":\"up\",\"restarts\":0},"
                       "\"b\":{\"state\":\"restarting\",\"restarts\":3,\"last_exit\":\"signal SIGSEGV\","
                       "\"last_exit_at\":\"2026-01-01T00:00:00.000Z\"}}}";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    bool all_up = true;
    char down[64];
    json_t *f = health_functions(path, &all_up, down, sizeof down);
    ck_assert_ptr_nonnull(f);
    ck_assert(!all_up);
    ck_assert_str_eq(down, "b");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "b"), "lastExit")), "signal SIGSEGV");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(f, "b"), "restarts")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "a"), "state")), "up");
    json_decref(f);
    unlink(path);

    /* The supervisor is gone (no file): not up, and said so. */
    f = health_functions(path, &all_up, down, sizeof down);
    ck_assert(!all_up);
    ck_assert_str_eq(down, "supervisor");
    json_decref(f);

    /* No supervisor configured: no "functions" at all. */
    ck_assert_ptr_null(health_functions(NULL, &all_up, down, sizeof down));
    ck_assert(all_up);
}
END_TEST

static void write_state(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *state_of(const char *path, const char *process)
{
    bool all_up;
    char down[64];
    json_t *f = health_functions(path, &all_up, down, sizeof down);
    ck_assert_ptr_nonnull(f);
    static char state[32];
    const char *s = json_string_value(json_object_get(json_object_get(f, process), "state"));
    snprintf(state, sizeof state, "%s", s ? s : "(none)");
    json_decref(f);
    return state;
}

/* /health parses the state file again only when it changed: the same file (inode, size,
 * modification time) is answered from what was read; a new file renamed into place (what
 * the supervisor does) is read at once. */
START_TEST(health_rereads_the_state_file_only_when_it_changed)
{
    char dir[] = "/tmp/check_health_cache.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], next[256];
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(next, sizeof next, "%s/state.json.new", dir);
    write_state(path, "{\"processes\":{\"a\":{\"state\":\"up\",\"restarts\":0}}}");
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_str_eq(state_of(path, "a"), "up");

    /* Overwritten in place with the same size and its old modification time put back:
     * the same file as far as the cache can tell, so the first answer stays. */
    write_state(path, "{\"processes\":{\"a\":{\"state\":\"XX\",\"restarts\":0}}}");
    struct timespec times[2] = { st.st_atim, st.st_mtim };
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    ck_assert_str_eq(state_of(path, "a"), "up");

    /* A new file renamed into place: read again. */
    write_state(next, "{\"processes\":{\"a\":{\"state\":\"restarting\",\"restarts\":1}}}");
    ck_assert_int_eq(rename(next, path), 0);
    ck_assert_str_eq(state_of(path, "a"), "restarting");

    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *supervise_suite(void)
{
    Suite *s = suite_create("supervise");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, a_spec_lists_processes_with_rank_signal_timeout_socket_and_argv);
    tcase_add_loop_test(tc, a_bad_spec_is_refused_with_its_line_and_reason, 0, sizeof bad_specs / sizeof bad_specs[0]);
    tcase_add_test(tc, a_spec_socket_may_be_a_tcp_address);
    tcase_add_test(tc, only_the_listed_peers_are_allowed_over_tcp);
    tcase_add_test(tc, a_tcp_socket_queues_clients_and_rebinds_at_once);
    suite_add_tcase(s, tc);
    tc = tcase_create("restarts");
    tcase_add_test(tc, restarts_are_immediate_first_then_back_off_to_a_cap);
    tcase_add_test(tc, an_exit_is_named_by_its_signal_or_code);
    tcase_add_test(tc, a_child_gets_the_socket_as_stdin_and_finds_waiting_clients);
    tcase_add_test(tc, health_reads_every_process_state_and_names_the_first_one_down);
    tcase_add_test(tc, health_rereads_the_state_file_only_when_it_changed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(supervise_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
