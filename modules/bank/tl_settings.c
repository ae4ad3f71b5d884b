/* tl_settings.c: the TrueLayer settings (TRUELAYER_*, SMARTIMPORT_TOKEN_KEY), read
 * once at start by the bank responders' init hooks and the bank tasks' register
 * call; read-only afterwards, so every thread shares one copy.
 *
 * Strict on what is set (a bad URL or key stops the start, naming the variable and
 * never quoting a secret), lenient on what is missing: without client credentials the
 * stack still starts and the bank endpoints answer 503 bank_not_configured, so a stack
 * without a bank contract runs everything else.  The token key is the exception: in
 * jwt mode (real users) a bank function refuses to start without it. */
#include "tl_client.h"
#include "si_config.h"

#include <string.h>

static int url_setting(char *const *envp, const char *name, const char *def, char out[TL_URL_MAX],
                       struct si_error *err)
{
    const char *v = si_env_get(envp, name);
    if (v == NULL || *v == '\0')
        v = def;
    size_t len = strlen(v);
    if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || len >= TL_URL_MAX ||
        strpbrk(v, " \t\r\n?#") != NULL)
        return si_error_set(err, 500, "bad_config", "%s must be an http:// or https:// URL without query", name);
    memcpy(out, v, len + 1);
    while (len > 0 && out[len - 1] == '/')
        out[--len] = '\0';
    return 0;
}

/* TRUELAYER_PROVIDERS: provider ids or scopes (e.g. "uk-ob-all uk-oauth-all", the sandbox's
 * "uk-cs-mock") of [a-z0-9-], separated by single spaces. */
static int providers_setting(char *const *envp, char out[TL_PROVIDERS_MAX], struct si_error *err)
{
    const char *v = si_env_get(envp, "TRUELAYER_PROVIDERS");
    if (v == NULL || *v == '\0')
        v = TL_PROVIDERS_DEFAULT;
    size_t len = strlen(v);
    bool ok = len < TL_PROVIDERS_MAX && v[0] != ' ' && v[len - 1] != ' ' && strstr(v, "  ") == NULL;
    for (const char *p = v; ok && *p != '\0'; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == ' ';
    if (!ok)
        return si_error_set(err, 500, "bad_config",
                            "TRUELAYER_PROVIDERS must be provider ids of a-z, 0-9 and '-' separated by single "
                            "spaces, at most %d bytes", TL_PROVIDERS_MAX - 1);
    memcpy(out, v, len + 1);
    return 0;
}

int tl_settings_load(struct tl_settings *s, char *const *envp, struct si_error *err)
{
    memset(s, 0, sizeof *s);
    s->timeout_ms = TL_TIMEOUT_MS_DEFAULT;
    s->deadline_ms = TL_DEADLINE_MS_DEFAULT;
    s->attempts = TL_ATTEMPTS_DEFAULT;
    s->max_response = TL_MAX_RESPONSE_DEFAULT;
    if (url_setting(envp, "TRUELAYER_AUTH_URL", TL_AUTH_URL_DEFAULT, s->auth_url, err) != 0 ||
        url_setting(envp, "TRUELAYER_API_URL", TL_API_URL_DEFAULT, s->api_url, err) != 0 ||
        providers_setting(envp, s->providers, err) != 0 ||
        si_env_long(envp, "TRUELAYER_TIMEOUT_MS", 100, 600000, &s->timeout_ms, err) != 0 ||
        si_env_long(envp, "TRUELAYER_DEADLINE_MS", 100, 3600000, &s->deadline_ms, err) != 0 ||
        si_env_int(envp, "TRUELAYER_ATTEMPTS", 1, SI_HTTP_ATTEMPTS_MAX, &s->attempts, err) != 0 ||
        si_env_long(envp, "TRUELAYER_MAX_RESPONSE_BYTES", 64 * 1024, 1024LL * 1024 * 1024, &s->max_response, err) != 0)
        return -1;
    if (s->deadline_ms < s->timeout_ms)
        return si_error_set(err, 500, "bad_config", "TRUELAYER_DEADLINE_MS must be at least TRUELAYER_TIMEOUT_MS");
    const char *id = si_env_get(envp, "TRUELAYER_CLIENT_ID"), *secret = si_env_get(envp, "TRUELAYER_CLIENT_SECRET");
    s->client_id = id != NULL && *id != '\0' ? id : NULL;
    s->client_secret = secret != NULL && *secret != '\0' ? secret : NULL;
    const char *key = si_env_get(envp, "SMARTIMPORT_TOKEN_KEY");
    if (key != NULL && *key != '\0')
        return si_crypt_key_parse(key, &s->key, err) == 0 ? 0 : -1;
    const char *mode = si_env_get(envp, "SMARTIMPORT_AUTH");
    if (mode == NULL || *mode == '\0' || strcmp(mode, "trust-body") != 0)
        return si_error_set(err, 500, "bad_config",
                            "SMARTIMPORT_TOKEN_KEY is required in jwt mode (64 hex digits: openssl rand -hex 32); "
                            "bank tokens are never stored unencrypted");
    return 0;
}

void tl_settings_cleanup(struct tl_settings *s)
{
    si_crypt_key_clear(&s->key);
}

int tl_settings_ready(const struct tl_settings *s, struct si_error *err)
{
    if (s->client_id == NULL || s->client_secret == NULL || !s->key.set)
        return si_error_set(err, 503, "bank_not_configured",
                            "bank connections are not configured on this server (TRUELAYER_CLIENT_ID, "
                            "TRUELAYER_CLIENT_SECRET, SMARTIMPORT_TOKEN_KEY)");
    return 0;
}
