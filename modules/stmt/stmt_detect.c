/* stmt_detect.c: guesses a statement's format from its first bytes (never
 * from the file name).
 *
 * Order of the checks, most specific first:
 *   binary (NUL bytes, or more than 1 in 20 bytes a control character) -> UNKNOWN
 *   OFX 1.x: an "OFXHEADER:" line, or SGML headers ("DATA:OFXSGML") before <OFX>
 *   XML: <?OFX ...?> processing instruction or an <OFX> root -> OFX (2.x / QFX);
 *        a "Document" root (any prefix) whose namespace starts with the
 *        camt.052, camt.053 or camt.054 URN -> CAMT053 (one reader for the
 *        three); any other XML (pain...) -> UNKNOWN
 *   QIF: the first non-blank line starts "!Type:", "!Account" or "!Option:"
 *   MT940: a line starting ":20:" among the first lines (after an optional
 *        {1:...}{2:...}{4: SWIFT header and a few bank header lines such as
 *        "ABNANL2A" / "940"), and a ":25:", ":60F:", ":60M:" or ":61:" line;
 *        MT942 (interim report) instead when the head has a "{2:I942"/"{2:O942"
 *        block, a "942" header line, or a ":34F:" or ":13D:" field and no
 *        ":60F:"/":60M:" opening balance
 *   CSV: some delimiter (, ; tab |), counted outside double quotes, appears the
 *        same number of times on at least half of the non-blank lines (a bank's
 *        preamble lines are tolerated) -> CSV
 *   otherwise UNKNOWN.
 * The head may be cut anywhere (it is only the first few KiB): the last line
 * is ignored by the CSV check when there are others. */
#include "stmt.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define CAMT_NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:camt.05"

static bool starts_with_ci(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && strncasecmp(s, prefix, k) == 0;
}

static bool looks_binary(const unsigned char *s, size_t n)
{
    size_t ctrl = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == 0)
            return true;
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f)
            ctrl++;
    }
    return ctrl * 20 > n;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\f'))
        i++;
    return i;
}

/* Finds needle in s[0..n) (ignoring ASCII case when ci); returns its offset or n. */
static size_t find_in(const char *s, size_t n, const char *needle, bool ci)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if ((ci ? strncasecmp(s + i, needle, k) : memcmp(s + i, needle, k)) == 0)
            return i;
    return n;
}

static size_t find(const char *s, size_t n, const char *needle)
{
    return find_in(s, n, needle, false);
}

static size_t find_ci(const char *s, size_t n, const char *needle)
{
    return find_in(s, n, needle, true);
}

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || (unsigned char)c >= 0x80;
}

/* XML or SGML starting at s[i] == '<': returns the format of its root element. */
static enum stmt_format detect_markup(const char *s, size_t n, size_t i)
{
    if (find(s, n, "<?OFX") < n)
        return STMT_FORMAT_OFX;
    while (i < n) {
        i = skip_space(s, n, i);
        if (i >= n || s[i] != '<')
            return STMT_FORMAT_UNKNOWN;
        if (i + 1 < n && s[i + 1] == '?') {              /* <?xml ...?> */
            size_t e = find(s + i, n - i, "?>");
            if (i + e >= n)
                return STMT_FORMAT_UNKNOWN;
            i += e + 2;
            continue;
        }
        if (i + 3 < n && memcmp(s + i, "<!--", 4) == 0) {
            size_t e = find(s + i, n - i, "-->");
            if (i + e >= n)
                return STMT_FORMAT_UNKNOWN;
            i += e + 3;
            continue;
        }
        if (i + 1 < n && s[i + 1] == '!') {              /* <!DOCTYPE ... [ ... ]> */
            size_t e = find(s + i, n - i, ">");
            size_t b = find(s + i, n - i, "[");
            if (b < e)
                e = b + find(s + i + b, n - i - b, "]>") + 1;
            if (i + e >= n)
                return STMT_FORMAT_UNKNOWN;
            i += e + 1;
            continue;
        }
        break;
    }
    /* The root element's start tag. */
    size_t name = i + 1, e = name;
    while (e < n && is_name_char(s[e]))
        e++;
    if (e == name || e >= n)
        return STMT_FORMAT_UNKNOWN;
    size_t colon = name;
    for (size_t k = name; k < e; k++)
        if (s[k] == ':')
            colon = k + 1;
    size_t lname = e - colon;
    if (lname == 3 && strncasecmp(s + colon, "OFX", 3) == 0)
        return STMT_FORMAT_OFX;
    if (!(lname == 8 && memcmp(s + colon, "Document", 8) == 0))
        return STMT_FORMAT_UNKNOWN;
    /* The namespace of Document: xmlns="..." or xmlns:prefix="..." matching its prefix. */
    char attr[80];
    if (colon > name) {
        size_t plen = colon - 1 - name;
        if (plen + 7 > sizeof attr)
            return STMT_FORMAT_UNKNOWN;
        memcpy(attr, "xmlns:", 6);
        memcpy(attr + 6, s + name, plen);
        attr[6 + plen] = '\0';
    } else {
        memcpy(attr, "xmlns", 6);
    }
    size_t tag_end = e + find(s + e, n - e, ">");
    size_t alen = strlen(attr);
    for (size_t k = e; k + alen < tag_end; k++) {
        if ((s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\n' || s[k - 1] == '\r') &&
            memcmp(s + k, attr, alen) == 0) {
            size_t v = skip_space(s, tag_end, k + alen);
            if (v >= tag_end || s[v] != '=')
                continue;
            v = skip_space(s, tag_end, v + 1);
            if (v >= tag_end || (s[v] != '"' && s[v] != '\''))
                continue;
            v++;
            size_t nl = strlen(CAMT_NS_PREFIX);
            if (tag_end - v > nl && memcmp(s + v, CAMT_NS_PREFIX, nl) == 0 &&
                (s[v + nl] == '2' || s[v + nl] == '3' || s[v + nl] == '4'))
                return STMT_FORMAT_CAMT053;
            return STMT_FORMAT_UNKNOWN;
        }
    }
    return STMT_FORMAT_UNKNOWN;
}

/* OFX 1.x: an OFXHEADER line, or "KEY:VALUE" header lines with DATA:OFXSGML
 * and an <OFX> tag later in the head. */
static bool detect_ofx_sgml(const char *s, size_t n, size_t i)
{
    if (starts_with_ci(s + i, n - i, "OFXHEADER"))
        return true;
    return find_ci(s, n, "DATA:OFXSGML") < n && find_ci(s, n, "<OFX>") < n;
}

static bool detect_qif(const char *s, size_t n, size_t i)
{
    return starts_with_ci(s + i, n - i, "!Type:") || starts_with_ci(s + i, n - i, "!Account") ||
           starts_with_ci(s + i, n - i, "!Option:");
}

/* MT940 (or MT942): STMT_FORMAT_MT940, STMT_FORMAT_MT942 or UNKNOWN. */
static enum stmt_format detect_mt94x(const char *s, size_t n, size_t i)
{
    bool mt942 = false;
    /* SWIFT blocks {1:...}{2:...}{3:...} then {4: and the text block. */
    if (i < n && s[i] == '{') {
        size_t b4 = find(s + i, n - i, "{4:");
        if (i + b4 >= n)
            return STMT_FORMAT_UNKNOWN;
        size_t b2 = find(s + i, b4, "{2:");
        if (b2 + 6 <= b4 && (s[i + b2 + 3] == 'I' || s[i + b2 + 3] == 'O') &&
            memcmp(s + i + b2 + 4, "942", 3) == 0)
            mt942 = true;
        i += b4 + 3;
    }
    bool f20 = false, other = false, opening = false, interim = false;
    int lines = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && s[end] != '\n')
            end++;
        const char *l = s + i;
        size_t len = end - i;
        while (len > 0 && (l[len - 1] == '\r' || l[len - 1] == ' '))
            len--;
        if (starts_with_ci(l, len, ":20:")) {
            f20 = true;
        } else if (!f20 && len > 0 && ++lines > 5) {
            return STMT_FORMAT_UNKNOWN;   /* too many header lines before the first :20: */
        } else if (!f20 && len == 3 && memcmp(l, "942", 3) == 0) {
            mt942 = true;
        } else if (f20) {
            if (starts_with_ci(l, len, ":25:") || starts_with_ci(l, len, ":61:"))
                other = true;
            if (starts_with_ci(l, len, ":60F:") || starts_with_ci(l, len, ":60M:"))
                other = opening = true;
            if (starts_with_ci(l, len, ":34F:") || starts_with_ci(l, len, ":13D:"))
                other = interim = true;
        }
        i = end + 1;
    }
    if (!f20 || !other)
        return STMT_FORMAT_UNKNOWN;
    if (mt942 || (interim && !opening))
        return STMT_FORMAT_MT942;
    return STMT_FORMAT_MT940;
}

/* Counts d in s[0..n) outside double quotes. */
static int count_delim(const char *s, size_t n, char d)
{
    int count = 0;
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (s[i] == d && !quoted)
            count++;
    }
    return count;
}

#define CSV_MAX_LINES 40

static bool detect_csv(const char *s, size_t n)
{
    static const char delims[] = { ',', ';', '\t', '|' };
    size_t starts[CSV_MAX_LINES], lens[CSV_MAX_LINES];
    int lines = 0;
    size_t i = 0;
    bool last_cut = false;
    while (i < n && lines < CSV_MAX_LINES) {
        size_t end = i;
        while (end < n && s[end] != '\n')
            end++;
        size_t len = end - i;
        while (len > 0 && (s[i + len - 1] == '\r' || s[i + len - 1] == ' ' || s[i + len - 1] == '\t'))
            len--;
        last_cut = end >= n;
        if (len > 0) {
            starts[lines] = i;
            lens[lines] = len;
            lines++;
        }
        i = end + 1;
    }
    if (lines > 1 && last_cut)
        lines--;          /* the head cut that line short */
    if (lines == 0)
        return false;
    for (size_t d = 0; d < sizeof delims; d++) {
        int counts[CSV_MAX_LINES];
        for (int k = 0; k < lines; k++)
            counts[k] = count_delim(s + starts[k], lens[k], delims[d]);
        for (int k = 0; k < lines; k++) {
            if (counts[k] == 0)
                continue;
            int same = 0;
            for (int j = 0; j < lines; j++)
                same += counts[j] == counts[k];
            if (same * 2 >= lines && (same >= 2 || lines == 1))
                return true;
        }
    }
    return false;
}

enum stmt_format stmt_detect(const char *head, size_t n)
{
    if (head == NULL || n == 0)
        return STMT_FORMAT_UNKNOWN;
    if (looks_binary((const unsigned char *)head, n))
        return STMT_FORMAT_UNKNOWN;
    size_t i = 0;
    if (n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    i = skip_space(head, n, i);
    if (i >= n)
        return STMT_FORMAT_UNKNOWN;
    if (detect_ofx_sgml(head, n, i))
        return STMT_FORMAT_OFX;
    if (head[i] == '<')
        return detect_markup(head, n, i);
    if (detect_qif(head, n, i))
        return STMT_FORMAT_QIF;
    enum stmt_format mt = detect_mt94x(head, n, i);
    if (mt != STMT_FORMAT_UNKNOWN)
        return mt;
    if (detect_csv(head + i, n - i))
        return STMT_FORMAT_CSV;
    return STMT_FORMAT_UNKNOWN;
}

const char *stmt_format_name(enum stmt_format f)
{
    switch (f) {
    case STMT_FORMAT_CSV:
        return "csv";
    case STMT_FORMAT_OFX:
        return "ofx";
    case STMT_FORMAT_QIF:
        return "qif";
    case STMT_FORMAT_CAMT053:
        return "camt053";
    case STMT_FORMAT_MT940:
        return "mt940";
    case STMT_FORMAT_MT942:
        return "mt942";
    case STMT_FORMAT_UNKNOWN:
        break;
    }
    return "unknown";
}
