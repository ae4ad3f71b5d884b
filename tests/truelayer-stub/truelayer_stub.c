/* truelayer_stub.c: a stand-in for TrueLayer's auth server and Data API v1,
 * for the integration tests, the benchmark and a first try of the bank flow
 * without a bank account (see README.md in this folder).
 *
 *   truelayer_stub PORT
 *
 * It speaks the real wire protocol (form-encoded token grants, Bearer-checked
 * JSON data endpoints, TrueLayer's error bodies), so the client code runs
 * against it unchanged.  Its data is a pure function of (account id, date):
 * the same window asked twice answers the same transactions, which is what
 * lets tests assert exact counts.  Faults are scripted through an admin
 * endpoint (POST /_stub/script) and every call is counted (GET /_stub/stats)
 * so a test can prove that a retried job made no extra calls.
 *
 * GET /?response_type=code&client_id&redirect_uri&state is its consent page: it
 * consents at once and sends the browser back to redirect_uri with a new code.
 *
 * One thread per connection, one request per connection (Connection: close);
 * every shared table (tokens, faults, counters) is guarded by one mutex,
 * never held while sleeping or writing to a socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD      (64 * 1024)
#define MAX_BODY      (1024 * 1024)
#define IO_WAIT_MS    10000
#define MAX_TOKENS    8192
#define MAX_CODES     4096
#define MAX_FAULTS    64
#define MAX_ACCOUNTS  64
#define MAX_STATS     256
#define MAX_DAYS      3700      /* a window longer than this is a 400 */
#define MAX_PER_DAY_MILLI 100000 /* 100 transactions a day */
#define TOKEN_LEN     40
#define ID_LEN        64
#define PROVIDER_ID   "ob-stub"

/* ---- shared state (all guarded by lock) --------------------------------------- */

struct token {
    char value[TOKEN_LEN];
    bool refresh;          /* a refresh token (one use) or an access token */
    bool used;             /* refresh token already exchanged */
    time_t expires_at;     /* access tokens */
    long calls_left;       /* data calls before it answers 401; -1 = unlimited */
};

struct fault {
    char account[ID_LEN];  /* an account id, or "*" = every data call (the accounts list too) */
    int n429;              /* answer the next n calls 429 */
    int retry_after_s;
    int n5xx;              /* then the next n calls this status */
    int status5xx;
    long slow_ms;          /* every call waits this long first */
    bool book_pending;     /* the account's pending transaction has booked */
};

struct counter {
    char key[ID_LEN + 16]; /* "<account>/<kind>" or "path:<name>" */
    unsigned long n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct token tokens[MAX_TOKENS];
static size_t n_tokens;
static char used_codes[MAX_CODES][ID_LEN];
static size_t n_codes;
static struct fault faults[MAX_FAULTS];
static size_t n_faults;
static struct counter counters[MAX_STATS];
static size_t n_counters;
static unsigned long total_calls;
static json_t *last_token_request;    /* the last grant's non-secret fields */
/* Settings: start from the environment, changed by /_stub/script, restored by /_stub/reset. */
struct settings {
    int accounts;          /* STUB_ACCOUNTS (3) */
    long per_day_milli;    /* STUB_TX_PER_DAY (1) x 1000: transactions per account per day */
    long latency_ms;       /* STUB_LATENCY_MS (0): every answer waits this long */
    long token_ttl_s;      /* STUB_TOKEN_TTL_S (3600): expires_in of new access tokens */
    long token_calls;      /* data calls a new access token allows (-1 = unlimited) */
    int code_invalid;      /* the next n code exchanges answer invalid_grant (-1 = all) */
    int refresh_invalid;   /* the next n refreshes answer invalid_grant (-1 = all) */
    const char *client_id, *client_secret;
};
static struct settings cfg, cfg_start;

/* ---- small helpers ------------------------------------------------------------ */

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? strtol(v, NULL, 10) : def;
}

/* "0.7" -> 700; "3" -> 3000. */
static long env_milli(const char *name, long def_milli)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def_milli;
    return (long)(strtod(v, NULL) * 1000.0 + 0.5);
}

static uint64_t hash(const char *s, uint64_t salt)
{
    uint64_t h = 1469598103934665603ULL ^ salt;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static void sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void random_hex(char *out, size_t n_hex)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[32];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f != NULL ? fread(b, 1, sizeof b, f) : 0;
    if (f != NULL)
        fclose(f);
    for (size_t i = 0; i < n_hex; i++) {
        unsigned v = i / 2 < got ? b[i / 2] : (unsigned)rand();
        out[i] = hex[(i % 2 ? v : v >> 4) & 15];
    }
    out[n_hex] = '\0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* "YYYY-MM-DD" (anything after it, like "T00:00:00Z", ignored) -> day number; -1 when bad. */
static int parse_day(const char *s, long *out)
{
    int y, m, d;
    if (strlen(s) < 10 || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || s[4] != '-' || s[7] != '-' || m < 1 ||
        m > 12 || d < 1 || d > 31 || y < 1970 || y > 9999)
        return -1;
    long z = days_from_civil(y, m, d);
    int yy, mm, dd;
    civil_from_days(z, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d)
        return -1;
    *out = z;
    return 0;
}

static void day_text(long z, char *out, size_t n)
{
    int y, m, d;
    civil_from_days(z, &y, &m, &d);
    snprintf(out, n, "%04d-%02d-%02d", y, m, d);
}

static long today(void)
{
    return (long)(time(NULL) / 86400);
}

/* A JSON number holding exactly minor / 10^exp, written as decimal text
 * ("-0.1", "1234567.89", "-12.345"), the way a bank's JSON carries it. */
static json_t *decimal(long long minor, int exp)
{
    char buf[48];
    unsigned long long a = minor < 0 ? 0ULL - (unsigned long long)minor : (unsigned long long)minor;
    unsigned long long scale = exp == 3 ? 1000 : exp == 0 ? 1 : 100;
    int n = snprintf(buf, sizeof buf, "%s%llu", minor < 0 ? "-" : "", a / scale);
    unsigned long long frac = a % scale;
    if (frac != 0) {
        char f[8];
        snprintf(f, sizeof f, "%0*llu", exp, frac);
        size_t l = strlen(f);
        while (l > 0 && f[l - 1] == '0')
            f[--l] = '\0';
        snprintf(buf + n, sizeof buf - (size_t)n, ".%s", f);
    }
    /* jansson keeps a real as a double; answers are printed with 15 significant digits
     * (respond_json), which gives this text back exactly for every amount here. */
    return json_real(strtod(buf, NULL));
}

/* ---- the accounts and their transactions -------------------------------------- */

struct account {
    char id[ID_LEN];
    const char *currency;
    int exp;
    const char *type;
    int index;             /* 1-based */
};

static void account_of(int i, struct account *a)
{
    snprintf(a->id, sizeof a->id, "stub-acc-%02d", i);
    a->index = i;
    a->currency = i == 3 ? "BHD" : "GBP";
    a->exp = i == 3 ? 3 : 2;
    a->type = i == 2 ? "SAVINGS" : "TRANSACTION";
}

/* 1..accounts, or 0 when id is not one of them. */
static int account_index(const char *id, int accounts)
{
    int i;
    char tail;
    if (sscanf(id, "stub-acc-%2d%c", &i, &tail) != 1 || i < 1 || i > accounts)
        return 0;
    char want[ID_LEN];
    snprintf(want, sizeof want, "stub-acc-%02d", i);
    return strcmp(want, id) == 0 ? i : 0;
}

static json_t *account_json(const struct account *a)
{
    char number[16], iban[40], name[48];
    snprintf(number, sizeof number, "9911%04d", a->index);
    /* GBkk TLSB 040072 9911nnnn: the check digits are not computed (no client validates them). */
    snprintf(iban, sizeof iban, "GB%02dTLSB040072%s", (int)(hash(a->id, 7) % 90 + 10), number);
    snprintf(name, sizeof name, "Stub %s %d", strcmp(a->type, "SAVINGS") == 0 ? "Savings" : "Current", a->index);
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s}",
                     "account_id", a->id, "account_type", a->type, "display_name", name, "currency", a->currency,
                     "account_number", "iban", iban, "number", number, "sort_code", "04-00-72", "swift_bic",
                     "TLSBGB2L", "provider", "provider_id", PROVIDER_ID, "display_name", "Stub Bank", "logo_uri",
                     "https://truelayer-stub.invalid/logo.svg", "update_timestamp", "2026-01-01T00:00:00Z");
}

/* The amounts every account cycles through, in minor units of a 2-decimal currency:
 * 0.1, 0.29 and 1234567.89 are the ones floating point gets wrong. */
static const long long AMOUNTS2[] = { -10, -29, -1250, -4599, 123456789, -899, -32000, 250000, -1, -7 };
/* ... and of the 3-decimal one (BHD): 0.001 and 12.345. */
static const long long AMOUNTS3[] = { -1, -12345, -100, 1234567890, -5250, 75000, -999, -3 };

static const char *const CATEGORIES[] = { "PURCHASE", "DIRECT_DEBIT", "BILL_PAYMENT", "CREDIT", "ATM", "TRANSFER" };

/* How many transactions day z of an account has: a rate of per_day_milli/1000 spread evenly
 * (floor((z+1) r) - floor(z r)), so a year at 0.7 a day is 255 or 256, the same every time. */
static long count_on_day(long z, long per_day_milli, int account_index)
{
    long long zz = z + account_index * 7;   /* accounts do not all step on the same days */
    return (long)(((zz + 1) * per_day_milli) / 1000 - (zz * per_day_milli) / 1000);
}

static json_t *transaction_json(const struct account *a, long z, long k, const char *id, long long minor,
                                const char *when_suffix)
{
    char ts[48], desc[64], merchant[48], day[16], seed[ID_LEN + 48];
    day_text(z, day, sizeof day);
    snprintf(ts, sizeof ts, "%sT%s", day, when_suffix);
    snprintf(seed, sizeof seed, "%s/%ld/%ld", a->id, z, k);
    uint64_t h = hash(seed, 3);
    snprintf(merchant, sizeof merchant, "TLSTUB Merchant %u", (unsigned)(h % 97));
    snprintf(desc, sizeof desc, "TLSTUB CARD PAYMENT %u", (unsigned)(h % 9973));
    const char *cat = minor >= 0 ? "CREDIT" : CATEGORIES[h % (sizeof CATEGORIES / sizeof *CATEGORIES)];
    if (minor < 0 && strcmp(cat, "CREDIT") == 0)
        cat = "PURCHASE";
    long long balance = (long long)(h % 5000000);
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:[s], s:s, s:{s:o, s:s}, s:{s:s, s:s}}",
                     "transaction_id", id, "timestamp", ts, "description", desc, "amount", decimal(minor, a->exp),
                     "currency", a->currency, "transaction_type", minor < 0 ? "DEBIT" : "CREDIT",
                     "transaction_category", cat, "transaction_classification", "Shopping", "merchant_name",
                     merchant, "running_balance", "amount", decimal(balance, a->exp), "currency", a->currency,
                     "meta", "provider_transaction_category", minor < 0 ? "DEB" : "CRE", "provider_reference",
                     "stub");
}

/* The pending transaction of an account: dated three days ago; once booked it is a new
 * transaction (new id, same amount) two days later. */
static long long pending_amount(const struct account *a)
{
    return -(long long)(hash(a->id, 11) % 5000 + 100);
}

static json_t *transactions(const struct account *a, long from, long to, long per_day_milli, bool booked_pending)
{
    json_t *results = json_array();
    if (results == NULL)
        return NULL;
    const long long *amounts = a->exp == 3 ? AMOUNTS3 : AMOUNTS2;
    size_t n_amounts = a->exp == 3 ? sizeof AMOUNTS3 / sizeof *AMOUNTS3 : sizeof AMOUNTS2 / sizeof *AMOUNTS2;
    /* Newest first, as TrueLayer answers. */
    for (long z = to; z >= from; z--) {
        long n = count_on_day(z, per_day_milli, a->index);
        for (long k = n - 1; k >= 0; k--) {
            char id[ID_LEN + 48], day[16];
            day_text(z, day, sizeof day);
            snprintf(id, sizeof id, "tx-%s-%s-%ld", a->id, day, k);
            char seed[ID_LEN + 48];
            snprintf(seed, sizeof seed, "%s/%ld/%ld", a->id, z, k);
            long long minor = amounts[hash(seed, 5) % n_amounts];
            char when[24];
            snprintf(when, sizeof when, "%02ld:%02ld:00+00:00", (k / 60) % 24, k % 60);
            if (json_array_append_new(results, transaction_json(a, z, k, id, minor, when)) != 0)
                goto fail;
        }
    }
    long booked_day = today() - 1;
    if (booked_pending && booked_day >= from && booked_day <= to) {
        char id[ID_LEN + 48];
        snprintf(id, sizeof id, "tx-%s-booked-pending", a->id);
        if (json_array_insert_new(results, 0, transaction_json(a, booked_day, 999, id, pending_amount(a),
                                                               "12:00:00+00:00")) != 0)
            goto fail;
    }
    return results;
fail:
    json_decref(results);
    return NULL;
}

static json_t *pending_transactions(const struct account *a, bool booked)
{
    json_t *results = json_array();
    if (results == NULL || booked)
        return results;
    char id[ID_LEN + 48];
    snprintf(id, sizeof id, "pending-%s-1", a->id);
    if (json_array_append_new(results, transaction_json(a, today() - 3, 998, id, pending_amount(a),
                                                        "09:30:00+00:00")) != 0) {
        json_decref(results);
        return NULL;
    }
    return results;
}

/* ---- counters, tokens, faults (call with lock held) ---------------------------- */

static void count(const char *key)
{
    size_t i;
    for (i = 0; i < n_counters && strcmp(counters[i].key, key) != 0; i++)
        ;
    if (i == n_counters) {
        if (n_counters == MAX_STATS)
            return;
        snprintf(counters[i].key, sizeof counters[i].key, "%s", key);
        counters[i].n = 0;
        n_counters++;
    }
    counters[i].n++;
}

static struct token *token_find(const char *value, bool refresh)
{
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i].refresh == refresh && strcmp(tokens[i].value, value) == 0)
            return &tokens[i];
    return NULL;
}

static struct token *token_new(bool refresh)
{
    if (n_tokens == MAX_TOKENS) {
        /* Forget the oldest half: long runs (the benchmark) keep working. */
        memmove(tokens, tokens + MAX_TOKENS / 2, sizeof tokens[0] * (MAX_TOKENS / 2));
        n_tokens = MAX_TOKENS / 2;
    }
    struct token *t = &tokens[n_tokens++];
    memset(t, 0, sizeof *t);
    char hex[33];
    random_hex(hex, 32);
    snprintf(t->value, sizeof t->value, "%s%s", refresh ? "tlrt_" : "tlat_", hex);
    t->refresh = refresh;
    t->expires_at = time(NULL) + cfg.token_ttl_s;
    t->calls_left = refresh ? -1 : cfg.token_calls;
    return t;
}

static struct fault *fault_for(const char *account, bool create)
{
    for (size_t i = 0; i < n_faults; i++)
        if (strcmp(faults[i].account, account) == 0)
            return &faults[i];
    if (!create || n_faults == MAX_FAULTS)
        return NULL;
    struct fault *f = &faults[n_faults++];
    memset(f, 0, sizeof *f);
    snprintf(f->account, sizeof f->account, "%s", account);
    f->retry_after_s = 1;
    f->status5xx = 503;
    return f;
}

/* The fault a data call on `account` meets now (consuming one 429/5xx), as a status, or 0. */
static int fault_take(struct fault *f, int *retry_after_s, long *slow_ms)
{
    if (f == NULL)
        return 0;
    *slow_ms += f->slow_ms;
    if (f->n429 > 0) {
        f->n429--;
        *retry_after_s = f->retry_after_s;
        return 429;
    }
    if (f->n5xx > 0) {
        f->n5xx--;
        return f->status5xx;
    }
    return 0;
}

/* ---- HTTP --------------------------------------------------------------------- */

struct req {
    int fd;
    char head[MAX_HEAD + 1];
    char method[8];
    char path[2048];
    char *body;
    size_t body_len;
};

static int wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int rc;
    do
        rc = poll(&p, 1, IO_WAIT_MS);
    while (rc < 0 && errno == EINTR);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *header(const struct req *r, const char *name, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *h = strcasestr(r->head, pat);
    if (h == NULL)
        return NULL;
    h += strlen(pat);
    while (*h == ' ' || *h == '\t')
        h++;
    size_t l = strcspn(h, "\r\n");
    if (l >= n)
        l = n - 1;
    memcpy(out, h, l);
    out[l] = '\0';
    return out;
}

static int read_request(struct req *r)
{
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        if (len == MAX_HEAD || wait_readable(r->fd) <= 0)
            return -1;
        ssize_t got = read(r->fd, r->head + len, MAX_HEAD - len);
        if (got <= 0)
            return -1;
        len += (size_t)got;
        r->head[len] = '\0';
        end = strstr(r->head, "\r\n\r\n");
    }
    if (sscanf(r->head, "%7s %2047s", r->method, r->path) != 2)
        return -1;
    char v[32];
    long clen = header(r, "content-length", v, sizeof v) != NULL ? strtol(v, NULL, 10) : 0;
    if (clen < 0 || clen > MAX_BODY)
        return -1;
    if (header(r, "expect", v, sizeof v) != NULL && strcasecmp(v, "100-continue") == 0 &&
        write_all(r->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
        return -1;
    r->body = malloc((size_t)clen + 1);
    if (r->body == NULL)
        return -1;
    size_t have = len - (size_t)(end + 4 - r->head);
    if (have > (size_t)clen)
        have = (size_t)clen;
    memcpy(r->body, end + 4, have);
    while (have < (size_t)clen) {
        if (wait_readable(r->fd) <= 0)
            return -1;
        ssize_t got = read(r->fd, r->body + have, (size_t)clen - have);
        if (got <= 0)
            return -1;
        have += (size_t)got;
    }
    r->body[have] = '\0';
    r->body_len = have;
    return 0;
}

static void respond_text(int fd, int status, const char *extra_headers, const char *body)
{
    char head[512];
    size_t len = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n",
                     status, len, extra_headers != NULL ? extra_headers : "");
    if (n > 0 && write_all(fd, head, (size_t)n) == 0)
        (void)write_all(fd, body, len);
}

/* Sends doc (stolen) as the JSON answer. */
static void respond_json(int fd, int status, const char *extra_headers, json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    if (text == NULL) {
        respond_text(fd, 500, NULL, "{\"error\":\"internal_error\"}");
        return;
    }
    respond_text(fd, status, extra_headers, text);
    free(text);
}

static void respond_error(int fd, int status, const char *extra_headers, const char *error, const char *description)
{
    respond_json(fd, status, extra_headers,
                 json_pack("{s:s, s:s, s:{}}", "error", error, "error_description", description, "error_details"));
}

/* ---- form and query parameters ---------------------------------------------- */

static int unhex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of name in "a=b&c=d" (URL-decoded into out), or NULL. */
static const char *param(const char *pairs, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    const char *p = pairs;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t o = 0;
            for (; *v != '\0' && *v != '&' && o + 1 < n; v++) {
                if (*v == '+')
                    out[o++] = ' ';
                else if (*v == '%' && unhex(v[1]) >= 0 && unhex(v[2]) >= 0) {
                    out[o++] = (char)(unhex(v[1]) * 16 + unhex(v[2]));
                    v += 2;
                } else
                    out[o++] = *v;
            }
            out[o] = '\0';
            return out;
        }
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return NULL;
}

/* ---- endpoints ---------------------------------------------------------------- */

/* Sleeps the configured latency (outside the lock). */
static void latency(void)
{
    pthread_mutex_lock(&lock);
    long ms = cfg.latency_ms;
    pthread_mutex_unlock(&lock);
    sleep_ms(ms);
}

static json_t *token_answer(const struct token *access, const struct token *refresh, long ttl)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:s}", "access_token", access->value, "expires_in", (int)ttl,
                     "refresh_token", refresh->value, "token_type", "Bearer", "scope",
                     "info accounts balance transactions offline_access");
}

static void handle_token(struct req *r)
{
    char grant[64] = "", cid[128] = "", secret[128] = "", code[ID_LEN] = "", redirect[512] = "",
         refresh[TOKEN_LEN] = "";
    param(r->body, "grant_type", grant, sizeof grant);
    param(r->body, "client_id", cid, sizeof cid);
    param(r->body, "client_secret", secret, sizeof secret);
    param(r->body, "code", code, sizeof code);
    param(r->body, "redirect_uri", redirect, sizeof redirect);
    param(r->body, "refresh_token", refresh, sizeof refresh);
    latency();
    pthread_mutex_lock(&lock);
    total_calls++;
    count("path:token");
    json_decref(last_token_request);
    last_token_request = json_pack("{s:s, s:s, s:s, s:b}", "grant_type", grant, "client_id", cid, "redirect_uri",
                                   redirect, "client_secret_matches", strcmp(secret, cfg.client_secret) == 0);
    if (strcmp(cid, cfg.client_id) != 0 || strcmp(secret, cfg.client_secret) != 0) {
        pthread_mutex_unlock(&lock);
        respond_error(r->fd, 401, NULL, "invalid_client", "unknown client or wrong secret");
        return;
    }
    json_t *answer = NULL;
    const char *error = NULL;
    if (strcmp(grant, "authorization_code") == 0) {
        count("grant:authorization_code");
        bool seen = false;
        for (size_t i = 0; i < n_codes && !seen; i++)
            seen = strcmp(used_codes[i], code) == 0;
        if (code[0] == '\0' || seen || redirect[0] == '\0' || cfg.code_invalid != 0) {
            if (cfg.code_invalid > 0)
                cfg.code_invalid--;
            error = "invalid_grant";
        } else {
            if (n_codes < MAX_CODES)
                snprintf(used_codes[n_codes++], ID_LEN, "%s", code);
            struct token *a = token_new(false), *f = token_new(true);
            answer = token_answer(a, f, cfg.token_ttl_s);
        }
    } else if (strcmp(grant, "refresh_token") == 0) {
        count("grant:refresh_token");
        struct token *old = token_find(refresh, true);
        if (old == NULL || old->used || cfg.refresh_invalid != 0) {
            if (cfg.refresh_invalid > 0)
                cfg.refresh_invalid--;
            error = "invalid_grant";
        } else {
            old->used = true;   /* refresh tokens rotate: each works once */
            struct token *a = token_new(false), *f = token_new(true);
            answer = token_answer(a, f, cfg.token_ttl_s);
        }
    } else {
        error = "unsupported_grant_type";
    }
    pthread_mutex_unlock(&lock);
    if (error != NULL)
        respond_json(r->fd, 400, NULL, json_pack("{s:s}", "error", error));
    else
        respond_json(r->fd, 200, NULL, answer);
}

/* GET /?response_type=code&client_id=&redirect_uri=&state=... (the auth link): the user
 * "consents" at once: 302 to redirect_uri?code=<a new one-time code>&state=<state>. */
static void handle_consent(struct req *r)
{
    static const char hex[] = "0123456789ABCDEF";
    char cid[128] = "", redirect[1024] = "", state[512] = "", code[ID_LEN];
    const char *q = strchr(r->path, '?');
    q = q != NULL ? q + 1 : "";
    param(q, "client_id", cid, sizeof cid);
    param(q, "redirect_uri", redirect, sizeof redirect);
    param(q, "state", state, sizeof state);
    latency();
    pthread_mutex_lock(&lock);
    total_calls++;
    count("path:consent");
    bool client_ok = strcmp(cid, cfg.client_id) == 0;
    pthread_mutex_unlock(&lock);
    if (!client_ok) {
        respond_error(r->fd, 400, NULL, "invalid_client", "unknown client_id");
        return;
    }
    bool ctl = false;
    for (const unsigned char *p = (const unsigned char *)redirect; *p != '\0'; p++)
        ctl = ctl || *p < 0x20 || *p == 0x7f;
    if (ctl || (strncmp(redirect, "http://", 7) != 0 && strncmp(redirect, "https://", 8) != 0)) {
        respond_error(r->fd, 400, NULL, "invalid_request", "redirect_uri must be an http(s) URL");
        return;
    }
    memcpy(code, "stubcode-", 9);
    random_hex(code + 9, 32);
    /* Location: redirect_uri, '?' or '&', code, state (percent-encoded: it is the client's text). */
    char head[4096];
    size_t n = (size_t)snprintf(head, sizeof head, "HTTP/1.1 302 Found\r\nLocation: %s%scode=%s&state=", redirect,
                                strchr(redirect, '?') != NULL ? "&" : "?", code);
    for (const unsigned char *p = (const unsigned char *)state; *p != '\0' && n + 4 < sizeof head; p++) {
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (keep) {
            head[n++] = (char)*p;
        } else {
            head[n++] = '%';
            head[n++] = hex[*p >> 4];
            head[n++] = hex[*p & 15];
        }
    }
    static const char tail[] = "\r\nContent-Length: 0\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
    if (n + sizeof tail > sizeof head) {
        respond_error(r->fd, 400, NULL, "invalid_request", "redirect_uri and state are too long");
        return;
    }
    memcpy(head + n, tail, sizeof tail);
    (void)write_all(r->fd, head, n + sizeof tail - 1);
}

/* Checks the bearer token of a data call: 0, or answers 401 and returns -1. */
static int check_bearer(struct req *r)
{
    char auth[128];
    const char *h = header(r, "authorization", auth, sizeof auth);
    bool ok = false;
    pthread_mutex_lock(&lock);
    if (h != NULL && strncmp(h, "Bearer ", 7) == 0) {
        struct token *t = token_find(h + 7, false);
        if (t != NULL && t->expires_at > time(NULL) && t->calls_left != 0) {
            ok = true;
            if (t->calls_left > 0)
                t->calls_left--;
        }
    }
    if (!ok)
        count("status:401");
    pthread_mutex_unlock(&lock);
    if (!ok)
        respond_error(r->fd, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n", "invalid_token",
                      "the access token is expired, revoked or unknown");
    return ok ? 0 : -1;
}

/* The fault this call meets: answers it (and returns -1) or returns 0 after its slowness. */
static int apply_faults(struct req *r, const char *account)
{
    int retry_after = 0, status = 0;
    long slow = 0;
    pthread_mutex_lock(&lock);
    status = fault_take(fault_for("*", false), &retry_after, &slow);
    if (status == 0 && account != NULL)
        status = fault_take(fault_for(account, false), &retry_after, &slow);
    if (status != 0) {
        char key[32];
        snprintf(key, sizeof key, "status:%d", status);
        count(key);
        if (account != NULL) {
            char akey[ID_LEN + 16];
            snprintf(akey, sizeof akey, "%s/%d", account, status);
            count(akey);
        }
    }
    pthread_mutex_unlock(&lock);
    sleep_ms(slow);
    if (status == 429) {
        char h[64];
        snprintf(h, sizeof h, "Retry-After: %d\r\n", retry_after);
        respond_error(r->fd, 429, h, "rate_limit_exceeded", "too many requests for this account");
        return -1;
    }
    if (status != 0) {
        respond_error(r->fd, status, NULL, "provider_error", "the provider is unavailable");
        return -1;
    }
    return 0;
}

static void handle_data(struct req *r)
{
    const char *prefix = "/data/v1/accounts";
    char path[2048];
    snprintf(path, sizeof path, "%s", r->path + strlen(prefix));
    char *query = strchr(path, '?');
    if (query != NULL)
        *query++ = '\0';
    latency();
    pthread_mutex_lock(&lock);
    total_calls++;
    int accounts = cfg.accounts;
    long per_day = cfg.per_day_milli;
    pthread_mutex_unlock(&lock);
    if (strcmp(r->method, "GET") != 0) {
        respond_error(r->fd, 405, NULL, "method_not_allowed", "use GET");
        return;
    }
    if (path[0] == '\0' || strcmp(path, "/") == 0) {
        pthread_mutex_lock(&lock);
        count("path:accounts");
        pthread_mutex_unlock(&lock);
        if (check_bearer(r) != 0 || apply_faults(r, NULL) != 0)
            return;
        json_t *results = json_array();
        for (int i = 1; i <= accounts && results != NULL; i++) {
            struct account a;
            account_of(i, &a);
            if (json_array_append_new(results, account_json(&a)) != 0) {
                json_decref(results);
                results = NULL;
            }
        }
        respond_json(r->fd, 200, NULL, json_pack("{s:o, s:s}", "results", results, "status", "Succeeded"));
        return;
    }
    /* /{id}/transactions or /{id}/transactions/pending */
    char id[ID_LEN] = "";
    const char *rest = path + 1;
    size_t idl = strcspn(rest, "/");
    if (idl == 0 || idl >= sizeof id) {
        respond_error(r->fd, 404, NULL, "account_not_found", "no such account");
        return;
    }
    memcpy(id, rest, idl);
    rest += idl;
    bool pending;
    if (strcmp(rest, "/transactions") == 0)
        pending = false;
    else if (strcmp(rest, "/transactions/pending") == 0)
        pending = true;
    else {
        respond_error(r->fd, 404, NULL, "not_found", "no such endpoint");
        return;
    }
    int index = account_index(id, accounts);
    char key[ID_LEN + 16];
    snprintf(key, sizeof key, "%s/%s", index > 0 ? id : "unknown", pending ? "pending" : "transactions");
    pthread_mutex_lock(&lock);
    count(pending ? "path:pending" : "path:transactions");
    count(key);
    pthread_mutex_unlock(&lock);
    if (check_bearer(r) != 0)
        return;
    if (index == 0) {
        respond_error(r->fd, 404, NULL, "account_not_found", "no such account");
        return;
    }
    if (apply_faults(r, id) != 0)
        return;
    struct account a;
    account_of(index, &a);
    pthread_mutex_lock(&lock);
    struct fault *f = fault_for(id, false);
    bool booked = f != NULL && f->book_pending;
    pthread_mutex_unlock(&lock);
    json_t *results;
    if (pending) {
        results = pending_transactions(&a, booked);
    } else {
        char from_s[64], to_s[64];
        long from = today() - 89, to = today();
        if ((query != NULL && param(query, "from", from_s, sizeof from_s) != NULL && parse_day(from_s, &from) != 0) ||
            (query != NULL && param(query, "to", to_s, sizeof to_s) != NULL && parse_day(to_s, &to) != 0) ||
            to < from || to - from > MAX_DAYS) {
            respond_error(r->fd, 400, NULL, "invalid_date_range", "from and to must be ISO 8601 dates, from <= to");
            return;
        }
        results = transactions(&a, from, to, per_day, booked);
    }
    if (results == NULL) {
        respond_error(r->fd, 500, NULL, "internal_error", "out of memory");
        return;
    }
    respond_json(r->fd, 200, NULL, json_pack("{s:o, s:s}", "results", results, "status", "Succeeded"));
}

static int script_int(const json_t *doc, const char *name, long *out)
{
    const json_t *v = json_object_get(doc, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return -1;
    *out = (long)json_integer_value(v);
    return 1;
}

/* POST /_stub/script: see README.md for the fields. */
static void handle_script(struct req *r)
{
    json_error_t jerr;
    json_t *doc = json_loads(r->body, 0, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        respond_error(r->fd, 400, NULL, "bad_script", "the body must be a JSON object");
        return;
    }
    const char *account = json_string_value(json_object_get(doc, "account_id"));
    long v;
    int bad = 0;
    pthread_mutex_lock(&lock);
    struct fault *f = NULL;
    if (json_object_get(doc, "status_429") != NULL || json_object_get(doc, "status_5xx") != NULL ||
        json_object_get(doc, "slow_ms") != NULL || json_object_get(doc, "book_pending") != NULL) {
        f = fault_for(account != NULL ? account : "*", true);
        if (f == NULL)
            bad = 1;
    }
    if (f != NULL) {
        if (script_int(doc, "status_429", &v) > 0)
            f->n429 = (int)v;
        if (script_int(doc, "retry_after", &v) > 0)
            f->retry_after_s = (int)v;
        if (script_int(doc, "status_5xx", &v) > 0)
            f->n5xx = (int)v;
        if (script_int(doc, "status", &v) > 0)
            f->status5xx = (int)v;
        if (script_int(doc, "slow_ms", &v) > 0)
            f->slow_ms = v;
        if (json_is_boolean(json_object_get(doc, "book_pending")))
            f->book_pending = json_is_true(json_object_get(doc, "book_pending"));
    }
    if (script_int(doc, "accounts", &v) > 0)
        cfg.accounts = v < 0 ? 0 : v > MAX_ACCOUNTS ? MAX_ACCOUNTS : (int)v;
    const json_t *pd = json_object_get(doc, "tx_per_day");
    if (json_is_number(pd)) {
        long m = (long)(json_number_value(pd) * 1000.0 + 0.5);
        cfg.per_day_milli = m < 0 ? 0 : m > MAX_PER_DAY_MILLI ? MAX_PER_DAY_MILLI : m;
    }
    if (script_int(doc, "latency_ms", &v) > 0)
        cfg.latency_ms = v;
    if (script_int(doc, "token_ttl", &v) > 0)
        cfg.token_ttl_s = v;
    if (script_int(doc, "token_calls", &v) > 0)
        cfg.token_calls = v;
    if (script_int(doc, "code_invalid_grant", &v) > 0)
        cfg.code_invalid = (int)v;
    if (script_int(doc, "refresh_invalid_grant", &v) > 0)
        cfg.refresh_invalid = (int)v;
    if (json_is_true(json_object_get(doc, "expire_tokens")))
        for (size_t i = 0; i < n_tokens; i++)
            if (!tokens[i].refresh)
                tokens[i].expires_at = 0;
    pthread_mutex_unlock(&lock);
    json_decref(doc);
    if (bad)
        respond_error(r->fd, 400, NULL, "too_many_faults", "too many scripted accounts");
    else
        respond_text(r->fd, 200, NULL, "{\"ok\":true}");
}

static void handle_stats(struct req *r)
{
    pthread_mutex_lock(&lock);
    json_t *doc = json_pack("{s:I, s:{}, s:O?}", "total", (json_int_t)total_calls, "counts", "last_token_request",
                            last_token_request);
    json_t *counts = json_object_get(doc, "counts");
    for (size_t i = 0; i < n_counters && counts != NULL; i++)
        json_object_set_new(counts, counters[i].key, json_integer((json_int_t)counters[i].n));
    pthread_mutex_unlock(&lock);
    respond_json(r->fd, 200, NULL, doc);
}

static void handle_reset(struct req *r)
{
    pthread_mutex_lock(&lock);
    cfg = cfg_start;
    n_faults = 0;
    n_counters = 0;
    total_calls = 0;
    json_decref(last_token_request);
    last_token_request = NULL;
    pthread_mutex_unlock(&lock);
    respond_text(r->fd, 200, NULL, "{\"ok\":true}");
}

static void *serve(void *arg)
{
    struct req *r = arg;
    if (read_request(r) != 0)
        goto out;
    if (strcmp(r->path, "/connect/token") == 0) {
        if (strcmp(r->method, "POST") != 0)
            respond_error(r->fd, 405, NULL, "method_not_allowed", "use POST");
        else
            handle_token(r);
    } else if (strncmp(r->path, "/data/v1/accounts", 17) == 0 &&
               (r->path[17] == '\0' || r->path[17] == '/' || r->path[17] == '?')) {
        handle_data(r);
    } else if ((r->path[0] == '/' && (r->path[1] == '\0' || r->path[1] == '?')) && strcmp(r->method, "GET") == 0) {
        handle_consent(r);
    } else if (strcmp(r->path, "/_stub/script") == 0 && strcmp(r->method, "POST") == 0) {
        handle_script(r);
    } else if (strcmp(r->path, "/_stub/reset") == 0 && strcmp(r->method, "POST") == 0) {
        handle_reset(r);
    } else if (strcmp(r->path, "/_stub/stats") == 0) {
        handle_stats(r);
    } else {
        respond_error(r->fd, 404, NULL, "not_found", "no such endpoint");
    }
out:
    close(r->fd);
    free(r->body);
    free(r);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: truelayer_stub PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    cfg.accounts = (int)env_long("STUB_ACCOUNTS", 3);
    if (cfg.accounts < 0 || cfg.accounts > MAX_ACCOUNTS)
        cfg.accounts = 3;
    cfg.per_day_milli = env_milli("STUB_TX_PER_DAY", 1000);
    if (cfg.per_day_milli < 0 || cfg.per_day_milli > MAX_PER_DAY_MILLI)
        cfg.per_day_milli = 1000;
    cfg.latency_ms = env_long("STUB_LATENCY_MS", 0);
    cfg.token_ttl_s = env_long("STUB_TOKEN_TTL_S", 3600);
    cfg.token_calls = -1;
    cfg.client_id = getenv("STUB_CLIENT_ID") != NULL ? getenv("STUB_CLIENT_ID") : "stub-client";
    cfg.client_secret = getenv("STUB_CLIENT_SECRET") != NULL ? getenv("STUB_CLIENT_SECRET") : "stub-secret";
    cfg_start = cfg;
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        return 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 256) != 0) {
        perror("truelayer_stub");
        return 1;
    }
    fprintf(stderr, "truelayer_stub listening on 127.0.0.1:%s\n", argv[1]);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            return 1;
        }
        struct req *r = calloc(1, sizeof *r);
        pthread_t t;
        if (r == NULL) {
            close(c);
            continue;
        }
        r->fd = c;
        if (pthread_create(&t, NULL, serve, r) != 0) {
            close(c);
            free(r);
            continue;
        }
        pthread_detach(t);
    }
}
