/* main_cdc.c: smartimport-cdc, the daemon that reads committed purchase inserts from the
 * logical replication slot smartimport_cdc and enqueues the loyalty consumers' jobs
 * (cdc_stream.c).  Started by the supervisor (scripts/up, spec name "cdc"); SIGTERM/SIGINT
 * commit and confirm what was read, then exit 0.  Exit 2: bad configuration.
 * --check-config checks every setting and exits 0/1 (si_config.h); SIGUSR1 reopens
 * SMARTIMPORT_LOG_FILE (si_log.h). */
#include "cdc_stream.h"
#include "si_metrics.h"
#include "si_log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

extern char **environ;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int check_settings(const struct si_config *cfg, void *arg, struct si_error *err)
{
    (void)cfg;
    (void)arg;
    struct cdc_settings s;
    return cdc_settings_load(&s, environ, err);
}

int main(int argc, char **argv)
{
    struct si_config cfg;
    struct cdc_settings s;
    struct si_error err;
    si_error_clear(&err);
    si_log_setup("cdc");
    if (si_check_config_asked(argc, argv))
        return si_check_config_main(environ, true, false, check_settings, NULL);
    if (argc != 1) {
        si_log(SI_LOG_ERROR, "usage: smartimport-cdc (no arguments; settings from the environment)", NULL);
        return 2;
    }
    if (si_config_load(&cfg, environ, &err) != 0 || cdc_settings_load(&s, environ, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    if (cfg.database_url == NULL) {
        si_log(SI_LOG_ERROR, "DATABASE_URL is not set", NULL);
        return 2;
    }
    if (cfg.log_file != NULL && si_log_to_file(cfg.log_file) != 0) {
        si_logf(SI_LOG_ERROR, "cannot open SMARTIMPORT_LOG_FILE: %s", strerror(errno));
        return 2;
    }
    if (si_log_reopen_on_sigusr1() != 0) {
        si_log(SI_LOG_ERROR, "cannot start the log reopener", NULL);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
        si_log(SI_LOG_ERROR, "sigaction failed", NULL);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (si_metrics_open("cdc", environ) != 0)
        si_logf(SI_LOG_WARN, "metrics: cannot map SMARTIMPORT_METRICS_DIR/cdc.<pid>: %s (not counted)", strerror(errno));
    int rc = cdc_run(&cfg, &s, &stop_flag);
    si_metrics_close();
    si_log(SI_LOG_INFO, "stopped", json_pack("{s:i}", "status", rc));
    return rc;
}
