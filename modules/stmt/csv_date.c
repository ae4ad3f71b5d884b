/* csv_date.c: date cells of the CSV engine.
 *
 * A cell is cut once into up to three tokens (numbers or month names) with
 * the separators between them; every supported format is then a check on
 * that shape, so a column's statistics can try all formats cheaply.  A time
 * of day after the date ("2024-01-15 10:30", "2024-01-15T10:30:00Z") is
 * allowed and ignored.  Year-first dates with dots are read with or without
 * a space after each dot and a final dot ("2024.01.15", "2024. 01. 15.", as
 * Hungarian and Korean banks write them).  Month names and abbreviations are recognised in
 * English, German, French, Spanish and Dutch.  Calendar checks (leap years)
 * and two-digit years are stmt_make_date's. */
#include "csv.h"

#include <string.h>

#include "stmt_util.h"

static const char *const format_names[CSV_DATE_FORMAT_COUNT] = {
    [CSV_DATE_YMD_DASH] = "YYYY-MM-DD",
    [CSV_DATE_DMY_SLASH] = "DD/MM/YYYY",
    [CSV_DATE_MDY_SLASH] = "MM/DD/YYYY",
    [CSV_DATE_DMY_DOT] = "DD.MM.YYYY",
    [CSV_DATE_DMY_DASH] = "DD-MM-YYYY",
    [CSV_DATE_MDY_DASH] = "MM-DD-YYYY",
    [CSV_DATE_YMD_SLASH] = "YYYY/MM/DD",
    [CSV_DATE_D_MON_Y] = "DD MMM YYYY",
    [CSV_DATE_MON_D_Y] = "MMM DD, YYYY",
    [CSV_DATE_YMD_COMPACT] = "YYYYMMDD",
    [CSV_DATE_DMY_SLASH_YY] = "DD/MM/YY",
    [CSV_DATE_MDY_SLASH_YY] = "MM/DD/YY",
    [CSV_DATE_DMY_DOT_YY] = "DD.MM.YY",
    [CSV_DATE_DMY_DASH_YY] = "DD-MM-YY",
    [CSV_DATE_MDY_DASH_YY] = "MM-DD-YY",
    [CSV_DATE_D_MON_YY] = "DD MMM YY",
    [CSV_DATE_MON_D_YY] = "MMM DD, YY",
    [CSV_DATE_YMD_DOT] = "YYYY.MM.DD",
};

const char *csv_date_format_name(int fmt)
{
    return fmt >= 0 && fmt < CSV_DATE_FORMAT_COUNT ? format_names[fmt] : NULL;
}

int csv_date_format_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int f = 0; f < CSV_DATE_FORMAT_COUNT; f++)
        if (strcmp(name, format_names[f]) == 0)
            return f;
    return -1;
}

int csv_date_format_swap(int fmt)
{
    switch (fmt) {
    case CSV_DATE_DMY_SLASH: return CSV_DATE_MDY_SLASH;
    case CSV_DATE_MDY_SLASH: return CSV_DATE_DMY_SLASH;
    case CSV_DATE_DMY_DASH: return CSV_DATE_MDY_DASH;
    case CSV_DATE_MDY_DASH: return CSV_DATE_DMY_DASH;
    case CSV_DATE_DMY_SLASH_YY: return CSV_DATE_MDY_SLASH_YY;
    case CSV_DATE_MDY_SLASH_YY: return CSV_DATE_DMY_SLASH_YY;
    case CSV_DATE_DMY_DASH_YY: return CSV_DATE_MDY_DASH_YY;
    case CSV_DATE_MDY_DASH_YY: return CSV_DATE_DMY_DASH_YY;
    default: return -1;
    }
}

/* Full month names (accents folded) in en, de, fr, es, nl: a word matches a
 * month when it is a prefix (3+ letters) of one of them and of no other
 * month's, or one of the extra abbreviations. */
static const struct {
    const char *abbr;
    int month;
} month_abbr[] = { { "mrz", 3 }, { "mrt", 3 }, { "set", 9 }, { "sept", 9 } };

/* The month names, en de fr es nl, with their lengths. */
static const struct month_word {
    const char *w;
    size_t len;
    int month;
} month_words[] = {
    { "january", 7, 1 }, { "januar", 6, 1 }, { "janner", 6, 1 }, { "janvier", 7, 1 },
    { "enero", 5, 1 }, { "januari", 7, 1 }, { "february", 8, 2 }, { "februar", 7, 2 },
    { "fevrier", 7, 2 }, { "febrero", 7, 2 }, { "februari", 8, 2 }, { "march", 5, 3 },
    { "marz", 4, 3 }, { "maerz", 5, 3 }, { "mars", 4, 3 }, { "marzo", 5, 3 },
    { "maart", 5, 3 }, { "april", 5, 4 }, { "avril", 5, 4 }, { "abril", 5, 4 },
    { "may", 3, 5 }, { "mai", 3, 5 }, { "mayo", 4, 5 }, { "mei", 3, 5 },
    { "june", 4, 6 }, { "juni", 4, 6 }, { "juin", 4, 6 }, { "junio", 5, 6 },
    { "july", 4, 7 }, { "juli", 4, 7 }, { "juillet", 7, 7 }, { "julio", 5, 7 },
    { "august", 6, 8 }, { "aout", 4, 8 }, { "agosto", 6, 8 }, { "augustus", 8, 8 },
    { "september", 9, 9 }, { "septembre", 9, 9 }, { "septiembre", 10, 9 }, { "october", 7, 10 },
    { "oktober", 7, 10 }, { "octobre", 7, 10 }, { "octubre", 7, 10 }, { "november", 8, 11 },
    { "novembre", 8, 11 }, { "noviembre", 9, 11 }, { "december", 8, 12 }, { "dezember", 8, 12 },
    { "decembre", 8, 12 }, { "diciembre", 9, 12 },
};

int csv_month_from_name(const char *s, size_t n)
{
    char key[32];
    size_t k = csv_norm_key(s, n, key, sizeof key);
    if (k < 3 || k > 12 || memchr(key, ' ', k) != NULL)
        return 0;
    for (size_t i = 0; i < sizeof month_abbr / sizeof month_abbr[0]; i++)
        if (key[0] == month_abbr[i].abbr[0] && strcmp(key, month_abbr[i].abbr) == 0)
            return month_abbr[i].month;
    int found = 0;
    for (size_t i = 0; i < sizeof month_words / sizeof month_words[0]; i++) {
        const struct month_word *w = &month_words[i];
        if (k <= w->len && w->w[0] == key[0] && memcmp(w->w, key, k) == 0) {
            if (found != 0 && found != w->month)
                return 0;
            found = w->month;
        }
    }
    return found;
}

struct dtok {
    bool word;
    int val;        /* number value, or month for a word */
    int ndig;
};
struct dshape {
    struct dtok t[3];
    int nt;
    char sep[2][3];         /* separators after t[0] and t[1] (NUL-terminated, <= 2 chars) */
    size_t end[3];          /* offset just after each token */
    const char *s;
    size_t n;
};

static bool is_sep(char c)
{
    return c == '/' || c == '-' || c == '.' || c == ' ' || c == ',';
}

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static void shape_of(const char *s, size_t n, struct dshape *d)
{
    memset(d, 0, sizeof *d);
    csv_trim(&s, &n);
    d->s = s;
    d->n = n;
    if (n == 0 || n > 64)
        return;
    size_t i = 0;
    while (d->nt < 3 && i < n) {
        struct dtok *t = &d->t[d->nt];
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (t->ndig == 8)
                    return;
                t->val = t->val * 10 + (s[i] - '0');
                t->ndig++;
                i++;
            }
        } else if (is_word_byte(c)) {
            size_t b = i;
            while (i < n && is_word_byte((unsigned char)s[i]))
                i++;
            t->word = true;
            t->val = csv_month_from_name(s + b, i - b);
            if (t->val == 0)
                return;
        } else {
            return;
        }
        d->end[d->nt] = i;
        d->nt++;
        if (d->nt == 3)
            break;
        size_t b = i;
        while (i < n && is_sep(s[i]) && i - b < 3)
            i++;
        if (i - b == 0 || i - b > 2)
            return;
        memcpy(d->sep[d->nt - 1], s + b, i - b);
    }
}

/* What follows the date: nothing, or a time of day. */
static bool rest_ok(const struct dshape *d, size_t from)
{
    if (from == d->n)
        return true;
    if (d->s[from] != ' ' && d->s[from] != 'T')
        return false;
    if (from + 1 >= d->n || d->s[from + 1] < '0' || d->s[from + 1] > '9')
        return false;
    for (size_t i = from + 1; i < d->n; i++) {
        char c = d->s[i];
        if (!((c >= '0' && c <= '9') || c == ':' || c == '.' || c == '+' || c == '-' || c == 'Z' ||
              c == ' ' || c == 'A' || c == 'P' || c == 'M' || c == 'a' || c == 'p' || c == 'm'))
            return false;
    }
    return true;
}

static bool num(const struct dtok *t, int lo, int hi)
{
    return !t->word && t->ndig >= lo && t->ndig <= hi;
}

static bool seps_are(const struct dshape *d, const char *sep)
{
    /* sep is always one character */
    return d->sep[0][0] == sep[0] && d->sep[0][1] == '\0' && d->sep[1][0] == sep[0] &&
           d->sep[1][1] == '\0';
}

/* Month-name formats: any of / - . space between the parts, but no comma
 * right after the first part ("Jan 15, 2024" has it after the day). */
static bool month_seps_ok(const struct dshape *d)
{
    return strchr(d->sep[0], ',') == NULL;
}

static int ymd_of(const struct dshape *d, int fmt, int *y, int *m, int *dd)
{
    const struct dtok *t = d->t;
    if (fmt == CSV_DATE_YMD_COMPACT) {
        if (d->nt < 1 || !num(&t[0], 8, 8) || !rest_ok(d, d->end[0]))
            return -1;
        *y = t[0].val / 10000;
        *m = t[0].val / 100 % 100;
        *dd = t[0].val % 100;
        return 0;
    }
    if (fmt == CSV_DATE_YMD_DOT) {
        /* "YYYY.MM.DD", "YYYY. MM. DD." and "YYYY.MM.DD." (then maybe a time) */
        if (d->nt < 3 || !num(&t[0], 4, 4) || !num(&t[1], 1, 2) || !num(&t[2], 1, 2))
            return -1;
        for (int k = 0; k < 2; k++)
            if (d->sep[k][0] != '.' || (d->sep[k][1] != '\0' && d->sep[k][1] != ' '))
                return -1;
        size_t from = d->end[2];
        if (from < d->n && d->s[from] == '.')
            from++;
        if (!rest_ok(d, from))
            return -1;
        *y = t[0].val;
        *m = t[1].val;
        *dd = t[2].val;
        return 0;
    }
    if (d->nt < 3 || !rest_ok(d, d->end[2]))
        return -1;
    int yd = 4;
    switch (fmt) {
    case CSV_DATE_YMD_DASH:
    case CSV_DATE_YMD_SLASH:
        if (!num(&t[0], 4, 4) || !num(&t[1], 1, 2) || !num(&t[2], 1, 2) ||
            !seps_are(d, fmt == CSV_DATE_YMD_DASH ? "-" : "/"))
            return -1;
        *y = t[0].val;
        *m = t[1].val;
        *dd = t[2].val;
        return 0;
    case CSV_DATE_DMY_SLASH_YY:
    case CSV_DATE_MDY_SLASH_YY:
    case CSV_DATE_DMY_DOT_YY:
    case CSV_DATE_DMY_DASH_YY:
    case CSV_DATE_MDY_DASH_YY:
        yd = 2;
        /* fall through */
    case CSV_DATE_DMY_SLASH:
    case CSV_DATE_MDY_SLASH:
    case CSV_DATE_DMY_DOT:
    case CSV_DATE_DMY_DASH:
    case CSV_DATE_MDY_DASH: {
        const char *sep = (fmt == CSV_DATE_DMY_SLASH || fmt == CSV_DATE_MDY_SLASH ||
                           fmt == CSV_DATE_DMY_SLASH_YY || fmt == CSV_DATE_MDY_SLASH_YY) ? "/"
                          : (fmt == CSV_DATE_DMY_DOT || fmt == CSV_DATE_DMY_DOT_YY) ? "." : "-";
        bool month_first = fmt == CSV_DATE_MDY_SLASH || fmt == CSV_DATE_MDY_DASH ||
                           fmt == CSV_DATE_MDY_SLASH_YY || fmt == CSV_DATE_MDY_DASH_YY;
        if (!num(&t[0], 1, 2) || !num(&t[1], 1, 2) || !num(&t[2], yd, yd) || !seps_are(d, sep))
            return -1;
        *y = t[2].val;
        *m = month_first ? t[0].val : t[1].val;
        *dd = month_first ? t[1].val : t[0].val;
        return 0;
    }
    case CSV_DATE_D_MON_YY:
        yd = 2;
        /* fall through */
    case CSV_DATE_D_MON_Y:
        if (!num(&t[0], 1, 2) || !t[1].word || !num(&t[2], yd, yd) || !month_seps_ok(d))
            return -1;
        *y = t[2].val;
        *m = t[1].val;
        *dd = t[0].val;
        return 0;
    case CSV_DATE_MON_D_YY:
        yd = 2;
        /* fall through */
    case CSV_DATE_MON_D_Y:
        if (!t[0].word || !num(&t[1], 1, 2) || !num(&t[2], yd, yd) || !month_seps_ok(d))
            return -1;
        *y = t[2].val;
        *m = t[0].val;
        *dd = t[1].val;
        return 0;
    default:
        return -1;
    }
}

static int date_of(const struct dshape *d, int fmt, char *out)
{
    int y, m, dd;
    if (ymd_of(d, fmt, &y, &m, &dd) != 0)
        return -1;
    return stmt_make_date(y, m, dd, out);
}

int csv_date_parse(const char *s, size_t n, int fmt, char out[11])
{
    struct dshape d;
    if (fmt < 0 || fmt >= CSV_DATE_FORMAT_COUNT)
        return -1;
    shape_of(s, n, &d);
    return date_of(&d, fmt, out);
}

uint32_t csv_date_formats(const char *s, size_t n)
{
    struct dshape d;
    uint32_t mask = 0;
    shape_of(s, n, &d);
    if (d.nt == 0)
        return 0;
    for (int f = 0; f < CSV_DATE_FORMAT_COUNT; f++)
        if (date_of(&d, f, NULL) == 0)
            mask |= 1u << f;
    return mask;
}
