/* csv_sniff.c: the layout of a CSV statement, from its first records.
 *
 * The delimiter (, ; TAB |) is the one under which the first
 * CSV_SNIFF_RECORDS non-blank records most consistently have the same number
 * of fields (a trailing delimiter or a missing last field is tolerated).  The
 * header row is the first record that names known columns (a date and a
 * money column, or three known columns) and holds no dates, followed by
 * records with dates; failing that, the first record of the longest
 * consistent run when it is text where the rows below hold dates or numbers
 * (a header in an unknown language).  Everything before the header (or
 * before the table when there is none) is preamble: account numbers,
 * statement periods, blank lines. */
#include "csv.h"

#include <string.h>

struct srec {
    long ordinal, line;
    size_t nraw, ntrim;
    int known;              /* cells naming a known column */
    bool date_role, money_role;
    uint64_t dates, numbers, texts;   /* per column (first 64): what each cell looks like */
};

static const char delimiters[] = { ',', ';', '\t', '|' };

static void describe(const struct csv_reader *r, struct srec *s)
{
    memset(s, 0, sizeof *s);
    s->ordinal = r->ordinal;
    s->line = r->rec_line;
    s->nraw = r->nfields;
    s->ntrim = csv_trimmed_count(r);
    for (size_t i = 0; i < r->nfields; i++) {
        const char *v = csv_field(r, i);
        size_t n = csv_field_len(r, i);
        csv_trim(&v, &n);
        if (n == 0)
            continue;
        uint64_t bit = i < 64 ? (uint64_t)1 << i : 0;
        bool date = csv_date_formats(v, n) != 0, number = false;
        struct csv_amount a;
        if (csv_amount_scan(v, n, &a) == 0) {
            struct csv_number_info ni;
            csv_amount_classify(&a, &ni);
            number = ni.ok_dot || ni.ok_comma;
        }
        if (date) {
            s->dates |= bit;
            if (bit == 0)
                s->dates |= (uint64_t)1 << 63;   /* still "has a date" */
        } else if (number) {
            s->numbers |= bit;
        } else if (csv_has_letter(v, n)) {
            s->texts |= bit;
            int w;
            enum csv_lang lang;
            enum csv_role role = csv_header_role(v, n, &w, &lang);
            if (role != CSV_ROLE_NONE) {
                s->known++;
                s->date_role |= role == CSV_ROLE_DATE;
                s->money_role |= role == CSV_ROLE_AMOUNT || role == CSV_ROLE_DEBIT ||
                                 role == CSV_ROLE_CREDIT || role == CSV_ROLE_BALANCE;
            }
        }
    }
}

/* Reads the sample with one delimiter: 0, or -1 when a limit was hit. */
static int sample(struct csv_reader *r, char delim, struct srec *recs, size_t *count,
                  struct stmt_error *err)
{
    *count = 0;
    if (csv_reader_rewind(r, delim, err) != 0)
        return -1;
    while (*count < CSV_SNIFF_RECORDS) {
        int rc = csv_reader_next(r, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (csv_nonempty_fields(r) == 0)
            continue;
        describe(r, &recs[(*count)++]);
    }
    return 0;
}

static bool compatible(const struct srec *s, size_t m)
{
    if (m < 2)
        return false;
    return s->nraw == m || (s->nraw > m && s->ntrim <= m) || (m >= 3 && s->nraw == m - 1);
}

/* The usual field count (ties: the larger) and how many records fit it. */
static size_t shape(const struct srec *recs, size_t count, size_t *fit)
{
    size_t best = 0, best_n = 0;
    for (size_t i = 0; i < count; i++) {
        if (recs[i].nraw < 2)
            continue;
        size_t n = 0;
        for (size_t j = 0; j < count; j++)
            n += recs[j].nraw == recs[i].nraw;
        if (n > best_n || (n == best_n && recs[i].nraw > best)) {
            best = recs[i].nraw;
            best_n = n;
        }
    }
    *fit = 0;
    for (size_t i = 0; i < count && best > 0; i++)
        *fit += compatible(&recs[i], best);
    return best;
}

static bool is_header(const struct srec *recs, size_t count, size_t i)
{
    const struct srec *h = &recs[i];
    if (h->nraw < 2 || h->dates != 0 || !((h->date_role && h->money_role) || h->known >= 3))
        return false;
    for (size_t j = i + 1; j < count; j++)
        if (recs[j].dates != 0)
            return true;
    /* nothing below it (a file with only a header), and no dated rows above */
    if (i + 1 < count)
        return false;
    for (size_t j = 0; j < i; j++)
        if (recs[j].dates != 0)
            return false;
    return true;
}

/* A header in words the vocabulary does not know: text above dates/numbers. */
static bool looks_like_header(const struct srec *recs, size_t start, size_t len)
{
    const struct srec *h = &recs[start];
    if (len < 2 || h->dates != 0 || h->numbers != 0 || h->texts == 0)
        return false;
    for (size_t k = 0; k < 64; k++) {
        uint64_t bit = (uint64_t)1 << k;
        if (!(h->texts & bit))
            continue;
        size_t typed = 0;
        for (size_t j = start + 1; j < start + len; j++)
            typed += ((recs[j].dates | recs[j].numbers) & bit) != 0;
        if (typed * 2 >= len - 1)
            return true;
    }
    return false;
}

int csv_sniff(struct csv_reader *r, const struct csv_override *ov, struct csv_layout *lay,
              struct stmt_error *err)
{
    struct srec recs[CSV_SNIFF_RECORDS];
    size_t count = 0, best_count = 0, best_fit = 0, best_m = 0, seen = 0;
    char best = 0;
    struct stmt_error first_err = { 0, "" };
    bool failed = false;
    memset(lay, 0, sizeof *lay);
    lay->header_ordinal = -1;

    size_t ncand = ov->has_delimiter ? 1 : sizeof delimiters;
    for (size_t k = 0; k < ncand; k++) {
        char d = ov->has_delimiter ? ov->delimiter : delimiters[k];
        struct stmt_error e = { 0, "" };
        if (sample(r, d, recs, &count, &e) != 0) {
            if (!failed || e.line > first_err.line)
                first_err = e;
            failed = true;
            continue;
        }
        size_t fit, m = shape(recs, count, &fit);
        if (count > seen)
            seen = count;
        if (best == 0 || fit > best_fit || (fit == best_fit && m > best_m)) {
            best = d;
            best_fit = fit;
            best_m = m;
            best_count = count;
        }
    }
    if (best == 0) {
        *err = first_err;
        return -1;
    }
    if (seen == 0) {
        csv_set_error(err, 0, "the file is empty");
        return -1;
    }
    if (best_m < 2 && failed) {   /* the delimiter that failed was probably the right one */
        *err = first_err;
        return -1;
    }
    if (best_m < 2) {
        csv_set_error(err, 0, "no line has more than one column: this is not a delimited table");
        return -1;
    }
    if (sample(r, best, recs, &count, err) != 0 || count != best_count)
        return -1;
    lay->delimiter = best;
    lay->ncols = best_m;

    if (ov->has_header_line && ov->header_line > 0) {
        /* the user says where the header is */
        if (csv_reader_rewind(r, best, err) != 0)
            return -1;
        for (;;) {
            int rc = csv_reader_next(r, err);
            if (rc < 0)
                return -1;
            if (rc == 0 || r->rec_line > ov->header_line) {
                csv_set_error(err, ov->header_line, "mapping: 'headerLine' %ld is not the first line of a row",
                              ov->header_line);
                return -1;
            }
            if (r->rec_line == ov->header_line)
                break;
        }
        if (csv_nonempty_fields(r) == 0) {
            csv_set_error(err, ov->header_line, "mapping: 'headerLine' %ld is blank", ov->header_line);
            return -1;
        }
        lay->header_ordinal = r->ordinal;
        lay->header_line = r->rec_line;
        lay->data_ordinal = r->ordinal + 1;
        size_t n = csv_trimmed_count(r);
        if (n > lay->ncols)
            lay->ncols = n;
        return 0;
    }
    if (ov->has_header_line) {
        /* no header: the table starts at its first row of the usual shape */
        lay->data_ordinal = recs[0].ordinal;
        for (size_t i = 0; i < count; i++) {
            if (compatible(&recs[i], best_m)) {
                lay->data_ordinal = recs[i].ordinal;
                break;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (is_header(recs, count, i)) {
            lay->header_ordinal = recs[i].ordinal;
            lay->header_line = recs[i].line;
            lay->data_ordinal = recs[i].ordinal + 1;
            if (recs[i].ntrim > lay->ncols)
                lay->ncols = recs[i].ntrim;
            return 0;
        }
    }
    /* the longest run of records of the usual shape */
    size_t run_start = 0, run_len = 0;
    for (size_t i = 0; i < count;) {
        if (!compatible(&recs[i], best_m)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < count && compatible(&recs[j], best_m))
            j++;
        if (j - i > run_len) {
            run_start = i;
            run_len = j - i;
        }
        i = j;
    }
    if (run_len == 0) {   /* not reached: best_m >= 2 means some record fits */
        lay->data_ordinal = recs[0].ordinal;
        return 0;
    }
    if (looks_like_header(recs, run_start, run_len)) {
        lay->header_ordinal = recs[run_start].ordinal;
        lay->header_line = recs[run_start].line;
        lay->data_ordinal = recs[run_start].ordinal + 1;
        if (recs[run_start].ntrim > lay->ncols)
            lay->ncols = recs[run_start].ntrim;
    } else {
        lay->data_ordinal = recs[run_start].ordinal;
    }
    return 0;
}
