/* fake_llm.c: a stand-in OpenAI-compatible chat-completions server for the
 * integration tests (see README.md in this folder).
 *
 *   fake_llm PORT RECORD_DIR REPLIES_DIR
 *
 * One thread per connection, one request per connection.  The mode, the
 * 429 flag, the last bodies and the request counters are shared between the
 * connection threads and guarded by one mutex.  A request whose user message
 * is the JSON {"categories":[...],"merchants":[...]} (the ingest's merchant
 * categories, modules/ingest/llm_categorize.c) is a "categories" request:
 * in the good modes it is answered from replies/categories.tsv.  A request
 * whose first message begins "You are Crystal, chatting" (crystal-chat) is
 * answered in the good modes with replies/chat.txt as the content. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_HEAD   (64 * 1024)
#define MAX_BODY   (1024 * 1024)
#define MAX_REPLY  (64 * 1024)
#define IO_WAIT_MS 10000
#define HANG_MAX_MS 60000

enum mode { MODE_GOOD, MODE_500, MODE_429_THEN_GOOD, MODE_HANG, MODE_GARBAGE, MODE_WRONG_KEYS };
static const char *mode_names[] = { "good", "500", "429-then-good", "hang", "garbage", "wrong-keys" };

static const char *record_dir, *replies_dir;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum mode mode = MODE_GOOD;   /* guarded by lock */
static bool next_429;                /* guarded by lock */
static char *last_body;              /* guarded by lock */
static size_t last_len;              /* guarded by lock */
static unsigned long recorded;       /* guarded by lock */
static char *last_cat_body;          /* guarded by lock: the last categories request */
static size_t last_cat_len;          /* guarded by lock */
static unsigned long recorded_cat;   /* guarded by lock: categories requests */

struct conn {
    int fd;
    char head[MAX_HEAD + 1];
    size_t head_len;
    char *body;
    size_t body_len;
};

/* ---- I/O ---------------------------------------------------------------------- */

static int wait_readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int rc;
    do
        rc = poll(&p, 1, ms);
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

static void respond(int fd, int status, const char *reason, const char *type, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     reason, type, len);
    if (n > 0 && (size_t)n < sizeof head && write_all(fd, head, (size_t)n) == 0 && len > 0)
        write_all(fd, body, len);
}

static void respond_text(int fd, int status, const char *reason, const char *text)
{
    respond(fd, status, reason, "text/plain", text, strlen(text));
}

/* The value of header name (case-insensitive) in the request head, copied to out. */
static bool header(const struct conn *c, const char *name, char *out, size_t n)
{
    size_t len = strlen(name);
    for (const char *line = strstr(c->head, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1, *end = strstr(v, "\r\n");
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vn = end ? (size_t)(end - v) : strlen(v);
            if (vn >= n)
                vn = n - 1;
            memcpy(out, v, vn);
            out[vn] = '\0';
            return true;
        }
    }
    return false;
}

/* Reads the head and the Content-Length body.  0, or -1 after answering. */
static int read_request(struct conn *c)
{
    char *end = NULL;
    while ((end = strstr(c->head, "\r\n\r\n")) == NULL) {
        if (c->head_len >= MAX_HEAD) {
            respond_text(c->fd, 431, "Request Header Fields Too Large", "head too large\n");
            return -1;
        }
        if (wait_readable(c->fd, IO_WAIT_MS) <= 0)
            return -1;
        ssize_t r = recv(c->fd, c->head + c->head_len, MAX_HEAD - c->head_len, 0);
        if (r <= 0)
            return -1;
        c->head_len += (size_t)r;
        c->head[c->head_len] = '\0';
    }
    size_t head_end = (size_t)(end - c->head) + 4;
    c->head[head_end - 2] = '\0';   /* the head without its blank line; the body's first bytes follow */
    char value[64];
    size_t want = 0;
    if (header(c, "Content-Length", value, sizeof value)) {
        char *e;
        unsigned long v = strtoul(value, &e, 10);
        if (*e != '\0' || v > MAX_BODY) {
            respond_text(c->fd, 413, "Payload Too Large", "body too large\n");
            return -1;
        }
        want = v;
    } else if (header(c, "Transfer-Encoding", value, sizeof value)) {
        respond_text(c->fd, 411, "Length Required", "send a Content-Length\n");
        return -1;
    }
    if (header(c, "Expect", value, sizeof value) && strcasecmp(value, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (write_all(c->fd, cont, sizeof cont - 1) != 0)
            return -1;
    }
    c->body = malloc(want + 1);
    if (c->body == NULL)
        return -1;
    size_t have = c->head_len - head_end;
    if (have > want)
        have = want;
    memcpy(c->body, c->head + head_end, have);
    while (have < want) {
        if (wait_readable(c->fd, IO_WAIT_MS) <= 0)
            return -1;
        ssize_t r = recv(c->fd, c->body + have, want - have, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    c->body[want] = '\0';
    c->body_len = want;
    return 0;
}

/* ---- replies ------------------------------------------------------------------------ */

static char *read_reply(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", replies_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(MAX_REPLY + 1);
    size_t n = buf ? fread(buf, 1, MAX_REPLY, f) : 0;
    fclose(f);
    if (buf == NULL)
        return NULL;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* A chat.completion whose message content is the file's text. */
static void respond_completion(int fd, const char *file, unsigned long id)
{
    size_t len = 0;
    char *content = read_reply(file, &len);
    if (content == NULL) {
        respond_text(fd, 500, "Internal Server Error", "reply file missing\n");
        return;
    }
    size_t cap = len * 6 + 1024, o = 0;
    char *out = malloc(cap);
    if (out == NULL) {
        free(content);
        return;
    }
    o += (size_t)snprintf(out, cap,
                          "{\"id\":\"chatcmpl-fake-%lu\",\"object\":\"chat.completion\",\"created\":%lld,"
                          "\"model\":\"fake-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                          "\"content\":\"", id, (long long)time(NULL));
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)content[i];
        if (ch == '"' || ch == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", ch);
        else if (ch == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (ch < 0x20)
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        else
            out[o++] = (char)ch;
    }
    o += (size_t)snprintf(out + o, cap - o,
                          "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,"
                          "\"total_tokens\":2}}");
    respond(fd, 200, "OK", "application/json", out, o);
    free(out);
    free(content);
}

/* ---- routes --------------------------------------------------------------------------- */

/* Keeps a copy of the body in *last (guarded by lock). */
static void keep(const struct conn *c, char **last, size_t *len)
{
    char *copy = malloc(c->body_len + 1);
    if (copy != NULL) {
        memcpy(copy, c->body, c->body_len + 1);
        free(*last);
        *last = copy;
        *len = c->body_len;
    }
}

static void record(const struct conn *c, bool categories, unsigned long *id)
{
    pthread_mutex_lock(&lock);
    *id = ++recorded;
    keep(c, &last_body, &last_len);
    if (categories) {
        recorded_cat++;
        keep(c, &last_cat_body, &last_cat_len);
    }
    pthread_mutex_unlock(&lock);
    char path[4096];
    snprintf(path, sizeof path, "%s/request-%04lu.json", record_dir, *id);
    FILE *f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(c->body, 1, c->body_len, f);
        fclose(f);
    }
}

/* The merchants of a categories request (a new reference), NULL when the
 * request is not one: the last message's content is a JSON object with a
 * "merchants" array and a "categories" array. */
static json_t *categories_request(const struct conn *c)
{
    json_t *body = json_loadb(c->body, c->body_len, 0, NULL), *merchants = NULL;
    json_t *messages = json_object_get(body, "messages");
    json_t *last = json_array_get(messages, json_array_size(messages) - 1);
    const char *content = json_string_value(json_object_get(last, "content"));
    json_t *user = content != NULL ? json_loads(content, 0, NULL) : NULL;
    if (json_is_array(json_object_get(user, "merchants")) && json_is_array(json_object_get(user, "categories")))
        merchants = json_incref(json_object_get(user, "merchants"));
    json_decref(user);
    json_decref(body);
    return merchants;
}

/* A chat request (crystal-chat, modules/advice/crystal_chat.c): its first
 * message's content begins with CHAT_MARK.  In the good modes it is answered
 * with replies/chat.txt as the content. */
#define CHAT_MARK "You are Crystal, chatting"
static bool chat_request(const struct conn *c)
{
    json_t *body = json_loadb(c->body, c->body_len, 0, NULL);
    const char *first = json_string_value(json_object_get(json_array_get(json_object_get(body, "messages"), 0), "content"));
    bool yes = first != NULL && strncmp(first, CHAT_MARK, strlen(CHAT_MARK)) == 0;
    json_decref(body);
    return yes;
}

/* The category replies/categories.tsv gives the first of its fragments found
 * in merchant ("fragment<TAB>category" lines, # comments), else "Other". */
static void tsv_category(const char *merchant, char *out, size_t n)
{
    char path[4096], line[512];
    snprintf(out, n, "Other");
    snprintf(path, sizeof path, "%s/categories.tsv", replies_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || tab == NULL)
            continue;
        *tab = '\0';
        if (line[0] != '\0' && strstr(merchant, line) != NULL) {
            snprintf(out, n, "%s", tab + 1);
            break;
        }
    }
    fclose(f);
}

/* A chat.completion answering every merchant from the table, plus one
 * merchant nobody asked for (a model that adds things: the client must
 * ignore it). */
static void respond_categories(int fd, const json_t *merchants, unsigned long id)
{
    json_t *answers = json_object(), *content = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(merchants, i, m) {
        char category[128];
        if (!json_is_string(m))
            continue;
        tsv_category(json_string_value(m), category, sizeof category);
        json_object_set_new(answers, json_string_value(m), json_string(category));
    }
    json_object_set_new(answers, "zz merchant nobody asked for", json_string("Groceries"));
    json_object_set_new(content, "answers", answers);
    char *text = json_dumps(content, JSON_COMPACT);
    char cid[48];
    snprintf(cid, sizeof cid, "chatcmpl-fake-%lu", id);
    json_t *completion = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:i, s:i, s:i}}",
                                   "id", cid, "object", "chat.completion", "created", (json_int_t)time(NULL),
                                   "model", "fake-model", "choices", "index", 0, "message", "role", "assistant",
                                   "content", text ? text : "", "finish_reason", "stop", "usage", "prompt_tokens", 1,
                                   "completion_tokens", 1, "total_tokens", 2);
    char *out = completion ? json_dumps(completion, JSON_COMPACT) : NULL;
    if (out != NULL)
        respond(fd, 200, "OK", "application/json", out, strlen(out));
    else
        respond_text(fd, 500, "Internal Server Error", "out of memory\n");
    free(out);
    free(text);
    json_decref(completion);
    json_decref(content);
}

static void chat(struct conn *c)
{
    char auth[512];
    if (!header(c, "Authorization", auth, sizeof auth) || strncmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0') {
        static const char err401[] = "{\"error\":{\"message\":\"missing API key\",\"type\":\"invalid_request_error\"}}";
        respond(c->fd, 401, "Unauthorized", "application/json", err401, sizeof err401 - 1);
        return;
    }
    unsigned long id;
    json_t *merchants = categories_request(c);
    record(c, merchants != NULL, &id);
    pthread_mutex_lock(&lock);
    enum mode m = mode;
    bool send_429 = m == MODE_429_THEN_GOOD && next_429;
    if (send_429)
        next_429 = false;
    pthread_mutex_unlock(&lock);

    static const char err500[] = "{\"error\":{\"message\":\"fake server error\",\"type\":\"server_error\"}}";
    static const char err429[] = "{\"error\":{\"message\":\"rate limited\",\"type\":\"rate_limit_error\"}}";
    switch (m) {
    case MODE_500:
        respond(c->fd, 500, "Internal Server Error", "application/json", err500, sizeof err500 - 1);
        break;
    case MODE_429_THEN_GOOD:
        if (send_429) {
            respond(c->fd, 429, "Too Many Requests", "application/json", err429, sizeof err429 - 1);
            break;
        }
        if (merchants != NULL)
            respond_categories(c->fd, merchants, id);
        else
            respond_completion(c->fd, chat_request(c) ? "chat.txt" : "good.json", id);
        break;
    case MODE_HANG: {
        /* Never answer: wait until the client gives up and closes. */
        char sink[512];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
            if (spent >= HANG_MAX_MS || wait_readable(c->fd, (int)(HANG_MAX_MS - spent)) <= 0)
                break;
            if (recv(c->fd, sink, sizeof sink, 0) <= 0)
                break;
        }
        break;
    }
    case MODE_GARBAGE: {
        size_t len = 0;
        char *text = read_reply("garbage.txt", &len);
        if (text != NULL)
            respond(c->fd, 200, "OK", "application/json", text, len);
        else
            respond_text(c->fd, 500, "Internal Server Error", "reply file missing\n");
        free(text);
        break;
    }
    case MODE_WRONG_KEYS:
        respond_completion(c->fd, "wrong-keys.json", id);
        break;
    case MODE_GOOD:
    default:
        if (merchants != NULL)
            respond_categories(c->fd, merchants, id);
        else
            respond_completion(c->fd, chat_request(c) ? "chat.txt" : "good.json", id);
        break;
    }
    json_decref(merchants);
}

static void control(struct conn *c)
{
    char want[32];
    size_t n = c->body_len < sizeof want - 1 ? c->body_len : sizeof want - 1;
    memcpy(want, c->body, n);
    want[n] = '\0';
    while (n > 0 && (want[n - 1] == '\n' || want[n - 1] == '\r' || want[n - 1] == ' '))
        want[--n] = '\0';
    for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
        if (strcmp(want, mode_names[i]) == 0) {
            pthread_mutex_lock(&lock);
            mode = (enum mode)i;
            next_429 = mode == MODE_429_THEN_GOOD;
            pthread_mutex_unlock(&lock);
            respond_text(c->fd, 200, "OK", "ok\n");
            return;
        }
    respond_text(c->fd, 400, "Bad Request", "unknown mode\n");
}

static void *serve(void *arg)
{
    struct conn *c = arg;
    char method[16] = "", path[256] = "";
    if (read_request(c) != 0)
        goto out;
    if (sscanf(c->head, "%15s %255s", method, path) != 2) {
        respond_text(c->fd, 400, "Bad Request", "bad request line\n");
        goto out;
    }
    if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/chat/completions") == 0) {
        chat(c);
    } else if (strcmp(method, "POST") == 0 && strcmp(path, "/_control") == 0) {
        control(c);
    } else if (strcmp(method, "GET") == 0 &&
               (strcmp(path, "/_last") == 0 || strcmp(path, "/_last?kind=categories") == 0)) {
        bool cat = path[6] == '?';
        pthread_mutex_lock(&lock);
        const char *b = cat ? last_cat_body : last_body;
        if (b != NULL)
            respond(c->fd, 200, "OK", "application/json", b, cat ? last_cat_len : last_len);
        else
            respond_text(c->fd, 404, "Not Found", "nothing recorded yet\n");
        pthread_mutex_unlock(&lock);
    } else if (strcmp(method, "GET") == 0 &&
               (strcmp(path, "/_count") == 0 || strcmp(path, "/_count?kind=categories") == 0)) {
        char text[32];
        pthread_mutex_lock(&lock);
        snprintf(text, sizeof text, "%lu\n", path[7] == '?' ? recorded_cat : recorded);
        pthread_mutex_unlock(&lock);
        respond_text(c->fd, 200, "OK", text);
    } else {
        respond_text(c->fd, 404, "Not Found", "no such route\n");
    }
out:
    close(c->fd);
    free(c->body);
    free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT RECORD_DIR REPLIES_DIR\n", argv[0]);
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "fake_llm: bad port %s\n", argv[1]);
        return 2;
    }
    record_dir = argv[2];
    replies_dir = argv[3];
    signal(SIGPIPE, SIG_IGN);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
        fprintf(stderr, "fake_llm: cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    fprintf(stderr, "fake_llm: listening on 127.0.0.1:%ld\n", port);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0)
        return 1;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            fprintf(stderr, "fake_llm: accept: %s\n", strerror(errno));
            return 1;
        }
        struct conn *c = calloc(1, sizeof *c);
        pthread_t t;
        if (c == NULL) {
            close(cfd);
            continue;
        }
        c->fd = cfd;
        if (pthread_create(&t, &attr, serve, c) != 0) {
            close(cfd);
            free(c);
        }
    }
}
