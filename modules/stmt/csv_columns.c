/* csv_columns.c: column roles of the CSV engine.
 *
 * Three parts: the multilingual vocabulary (header names -> roles, and the
 * cells that mark opening/closing balance and total rows); per-column
 * statistics gathered over the whole file in constant memory (which date
 * formats and number readings each column's cells fit, separators seen, and
 * for the first CSV_PAIR_COLUMNS columns whether one column is the running
 * balance of another); and csv_infer, which combines the user's override,
 * the header names and the statistics into a mapping. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

/* ---- Vocabulary ---------------------------------------------------------- */

#define EXACT 1   /* the whole (normalised) name must match, not just a word in it */

static const struct keyword {
    enum csv_role role;
    const char *phrase;   /* normalised as by csv_norm_key */
    int weight;
    enum csv_lang lang;
    int flags;
} keywords[] = {
    /* dates: booking dates outweigh value dates */
    { CSV_ROLE_DATE, "date", 50, CSV_LANG_ANY, 0 },
    { CSV_ROLE_DATE, "transaction date", 60, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "trans date", 58, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "txn date", 58, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "posting date", 58, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "posted date", 58, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "booking date", 60, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "completed date", 56, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "value date", 30, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "effective date", 40, CSV_LANG_EN, 0 },
    { CSV_ROLE_DATE, "datum", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "buchungstag", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "buchungsdatum", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "valuta", 30, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "valutadatum", 30, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "wertstellung", 30, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "wertstellungsdatum", 30, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "fecha", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "fecha operacion", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "fecha de operacion", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "fecha contable", 58, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "fecha valor", 30, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "date operation", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "date d operation", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "date de l operation", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "date comptable", 58, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "date valeur", 30, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "date de valeur", 30, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "transactiedatum", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "boekdatum", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "boekingsdatum", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "rentedatum", 30, CSV_LANG_OTHER, 0 },
    /* signed amounts */
    { CSV_ROLE_AMOUNT, "amount", 50, CSV_LANG_EN, 0 },
    { CSV_ROLE_AMOUNT, "amt", 50, CSV_LANG_EN, EXACT },
    { CSV_ROLE_AMOUNT, "transaction amount", 55, CSV_LANG_EN, 0 },
    { CSV_ROLE_AMOUNT, "betrag", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_AMOUNT, "umsatz", 45, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_AMOUNT, "montant", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_AMOUNT, "importe", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_AMOUNT, "monto", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_AMOUNT, "bedrag", 50, CSV_LANG_OTHER, 0 },
    /* money out */
    { CSV_ROLE_DEBIT, "debit", 70, CSV_LANG_ANY, 0 },
    { CSV_ROLE_DEBIT, "debits", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_DEBIT, "debit amount", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_DEBIT, "withdrawal", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_DEBIT, "withdrawals", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_DEBIT, "paid out", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_DEBIT, "money out", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_DEBIT, "out", 60, CSV_LANG_EN, EXACT },
    { CSV_ROLE_DEBIT, "spent", 60, CSV_LANG_EN, EXACT },
    { CSV_ROLE_DEBIT, "soll", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DEBIT, "belastung", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DEBIT, "cargo", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DEBIT, "cargos", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DEBIT, "debet", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DEBIT, "af", 70, CSV_LANG_OTHER, EXACT },
    /* money in */
    { CSV_ROLE_CREDIT, "credit", 70, CSV_LANG_ANY, 0 },
    { CSV_ROLE_CREDIT, "credits", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_CREDIT, "credit amount", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_CREDIT, "deposit", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_CREDIT, "deposits", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_CREDIT, "paid in", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_CREDIT, "money in", 70, CSV_LANG_EN, 0 },
    { CSV_ROLE_CREDIT, "in", 60, CSV_LANG_EN, EXACT },
    { CSV_ROLE_CREDIT, "received", 60, CSV_LANG_EN, EXACT },
    { CSV_ROLE_CREDIT, "haben", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CREDIT, "gutschrift", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CREDIT, "abono", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CREDIT, "abonos", 70, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CREDIT, "bij", 70, CSV_LANG_OTHER, EXACT },
    /* DR/CR-style markers */
    { CSV_ROLE_INDICATOR, "af bij", 90, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_INDICATOR, "bij af", 90, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_INDICATOR, "debit credit", 90, CSV_LANG_ANY, 0 },
    { CSV_ROLE_INDICATOR, "credit debit", 90, CSV_LANG_ANY, 0 },
    { CSV_ROLE_INDICATOR, "dr cr", 90, CSV_LANG_EN, 0 },
    { CSV_ROLE_INDICATOR, "cr dr", 90, CSV_LANG_EN, 0 },
    { CSV_ROLE_INDICATOR, "drcr", 90, CSV_LANG_EN, EXACT },
    { CSV_ROLE_INDICATOR, "d c", 90, CSV_LANG_EN, EXACT },
    { CSV_ROLE_INDICATOR, "c d", 90, CSV_LANG_EN, EXACT },
    { CSV_ROLE_INDICATOR, "soll haben", 90, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_INDICATOR, "s h", 90, CSV_LANG_OTHER, EXACT },
    /* running balance */
    { CSV_ROLE_BALANCE, "balance", 80, CSV_LANG_EN, 0 },
    { CSV_ROLE_BALANCE, "running balance", 80, CSV_LANG_EN, 0 },
    { CSV_ROLE_BALANCE, "saldo", 80, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_BALANCE, "solde", 80, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_BALANCE, "kontostand", 80, CSV_LANG_OTHER, 0 },
    /* currency */
    { CSV_ROLE_CURRENCY, "currency", 80, CSV_LANG_EN, 0 },
    { CSV_ROLE_CURRENCY, "ccy", 80, CSV_LANG_EN, EXACT },
    { CSV_ROLE_CURRENCY, "cur", 80, CSV_LANG_EN, EXACT },
    { CSV_ROLE_CURRENCY, "curr", 80, CSV_LANG_EN, EXACT },
    { CSV_ROLE_CURRENCY, "wahrung", 80, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CURRENCY, "waehrung", 80, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CURRENCY, "devise", 80, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CURRENCY, "moneda", 80, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CURRENCY, "divisa", 80, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_CURRENCY, "munt", 80, CSV_LANG_OTHER, 0 },
    /* the bank's reference */
    { CSV_ROLE_REFERENCE, "reference", 60, CSV_LANG_ANY, 0 },
    { CSV_ROLE_REFERENCE, "ref", 60, CSV_LANG_EN, EXACT },
    { CSV_ROLE_REFERENCE, "transaction id", 60, CSV_LANG_EN, 0 },
    { CSV_ROLE_REFERENCE, "id", 40, CSV_LANG_ANY, EXACT },
    { CSV_ROLE_REFERENCE, "fitid", 60, CSV_LANG_ANY, EXACT },
    { CSV_ROLE_REFERENCE, "referenz", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_REFERENCE, "referencia", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_REFERENCE, "kenmerk", 50, CSV_LANG_OTHER, 0 },
    /* text */
    { CSV_ROLE_DESCRIPTION, "description", 50, CSV_LANG_ANY, 0 },
    { CSV_ROLE_DESCRIPTION, "details", 45, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "detail", 45, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "narrative", 50, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "narration", 50, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "memo", 45, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "payee", 50, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "name", 40, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "merchant", 45, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "particulars", 45, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "purpose", 40, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "counterparty", 40, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "beneficiary", 40, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "text", 40, CSV_LANG_ANY, EXACT },
    { CSV_ROLE_DESCRIPTION, "verwendungszweck", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "buchungstext", 45, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "beschreibung", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "auftraggeber", 40, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "empfanger", 40, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "zahlungsempfanger", 40, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "begunstigter", 40, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "beguenstigter", 40, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "libelle", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "concepto", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "descripcion", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "omschrijving", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "naam", 45, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "mededelingen", 40, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "tegenpartij", 40, CSV_LANG_OTHER, 0 },
};

static const char *const role_keys[CSV_ROLE_COUNT] = {
    [CSV_ROLE_NONE] = "",
    [CSV_ROLE_DATE] = "date",
    [CSV_ROLE_DESCRIPTION] = "description",
    [CSV_ROLE_AMOUNT] = "amount",
    [CSV_ROLE_DEBIT] = "debit",
    [CSV_ROLE_CREDIT] = "credit",
    [CSV_ROLE_INDICATOR] = "indicator",
    [CSV_ROLE_CURRENCY] = "currency",
    [CSV_ROLE_BALANCE] = "balance",
    [CSV_ROLE_REFERENCE] = "reference",
};

const char *csv_role_key(enum csv_role role)
{
    return role > CSV_ROLE_NONE && role < CSV_ROLE_COUNT ? role_keys[role] : "";
}

/* Whether phrase occurs in key as whole words. */
static bool has_words(const char *key, const char *phrase)
{
    size_t pl = strlen(phrase);
    for (const char *p = strstr(key, phrase); p != NULL; p = strstr(p + 1, phrase)) {
        bool start = p == key || p[-1] == ' ';
        bool end = p[pl] == '\0' || p[pl] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

enum csv_role csv_header_role(const char *name, size_t n, int *weight, enum csv_lang *lang)
{
    char key[96];
    size_t kl = csv_norm_key(name, n, key, sizeof key);
    const struct keyword *best = NULL;
    size_t best_len = 0;
    bool exact_best = false, money_out = false, money_in = false;
    const struct keyword *dc = NULL;   /* the best debit/credit/balance match */
    *weight = 0;
    *lang = CSV_LANG_ANY;
    if (kl == 0)
        return CSV_ROLE_NONE;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        const struct keyword *k = &keywords[i];
        bool exact = strcmp(key, k->phrase) == 0;
        if (!exact && ((k->flags & EXACT) || !has_words(key, k->phrase)))
            continue;
        size_t pl = strlen(k->phrase);
        money_out |= k->role == CSV_ROLE_DEBIT;
        money_in |= k->role == CSV_ROLE_CREDIT;
        if ((k->role == CSV_ROLE_DEBIT || k->role == CSV_ROLE_CREDIT || k->role == CSV_ROLE_BALANCE) &&
            (dc == NULL || k->weight > dc->weight))
            dc = k;
        /* the longest (most specific) phrase wins, then the heavier */
        if (best == NULL || exact > exact_best || (exact == exact_best && pl > best_len) ||
            (exact == exact_best && pl == best_len && k->weight > best->weight)) {
            best = k;
            best_len = pl;
            exact_best = exact;
        }
    }
    if (best == NULL)
        return CSV_ROLE_NONE;
    *lang = best->lang;
    if (money_out && money_in && best->role != CSV_ROLE_INDICATOR) {
        *weight = 80;   /* "Debit or credit": a marker column */
        return CSV_ROLE_INDICATOR;
    }
    if (best->role == CSV_ROLE_AMOUNT && dc != NULL)   /* "Montant débit", "Betrag Soll" */
        best = dc;
    *weight = best->weight + (exact_best ? 10 : 0);
    return best->role;
}

int csv_summary_kind(const char *s, size_t n)
{
    /* a cell that starts with one of these words is a balance line */
    static const char *const prefix[] = {
        "opening balance", "closing balance", "starting balance", "ending balance",
        "previous balance", "new balance", "balance brought forward", "balance carried forward",
        "brought forward", "carried forward", "anfangssaldo", "endsaldo", "schlusssaldo",
        "anfangsbestand", "alter kontostand", "neuer kontostand", "kontostand", "saldo inicial",
        "saldo final", "saldo anterior", "solde initial", "solde final", "solde precedent",
        "ancien solde", "nouveau solde", "beginsaldo", "eindsaldo", "startsaldo",
    };
    /* these only as the whole cell */
    static const char *const whole[] = {
        "total", "totals", "total debits", "total credits", "total amount", "subtotal", "sum",
        "summe", "summen", "gesamt", "gesamtsumme", "summe soll", "summe haben", "totaal",
        "total general", "saldo",
    };
    /* The key is cut at 24 characters: the longest prefix is 23 (followed by
     * the end or a space) and the longest whole cell 13, so the verdict is
     * the same as for the whole key. */
    char key[25];
    csv_trim(&s, &n);
    if (n == 0 || !csv_has_letter(s, n))
        return CSV_SUMMARY_NONE;
    size_t kl = csv_norm_key(s, n < 200 ? n : 200, key, sizeof key);
    if (kl == 0)
        return CSV_SUMMARY_NONE;
    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++) {
        if (key[0] != prefix[i][0])
            continue;
        size_t pl = strlen(prefix[i]);
        if (kl >= pl && memcmp(key, prefix[i], pl) == 0 && (key[pl] == '\0' || key[pl] == ' '))
            return CSV_SUMMARY_BALANCE;
    }
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (key[0] == whole[i][0] && strcmp(key, whole[i]) == 0)
            return CSV_SUMMARY_TOTAL;
    return CSV_SUMMARY_NONE;
}

/* ---- Statistics ---------------------------------------------------------- */

/* What one non-empty cell contributes to its column's statistics. */
struct cell_class {
    uint32_t dates;                 /* csv_date_formats */
    bool scanned;                   /* csv_amount_scan accepted it */
    bool negative;
    struct csv_number_info ni;
    bool text, indicator, code_valid, code_common;
    unsigned char ok;               /* NONEMPTY | OK_DOT | OK_COMMA (pair columns) */
    long long value[2];             /* with '.' and ',' as the decimal separator (pair columns) */
};

/* The last cell of a column and its class: statements repeat cells from row
 * to row (the booking date, the currency, DR/CR), and a repeat is counted
 * without classifying it again. */
#define MEMO_BYTES 32
struct csv_cellmemo {
    size_t n;                       /* 0 = nothing remembered */
    char text[MEMO_BYTES];
    struct cell_class c;
};

int csv_stats_init(struct csv_stats *st, size_t ncols)
{
    memset(st, 0, sizeof *st);
    st->ncols = ncols;
    st->npair = ncols < CSV_PAIR_COLUMNS ? ncols : CSV_PAIR_COLUMNS;
    size_t np = st->npair;
    st->col = calloc(ncols ? ncols : 1, sizeof *st->col);
    st->pair = calloc(np > 0 ? np * np : 1, sizeof *st->pair);
    st->cur = calloc(np * 2 + 1, sizeof *st->cur);
    st->prev = calloc(np * 2 + 1, sizeof *st->prev);
    st->cur_ok = calloc(np + 1, 1);
    st->prev_ok = calloc(np + 1, 1);
    st->memo = calloc(ncols ? ncols : 1, sizeof *st->memo);
    st->first = calloc(np * 2 + 1, sizeof *st->first);
    st->first_ok = calloc(np + 1, 1);
    if (st->memo == NULL || st->first == NULL || st->first_ok == NULL || st->col == NULL || st->pair == NULL || st->cur == NULL || st->prev == NULL ||
        st->cur_ok == NULL || st->prev_ok == NULL) {
        csv_stats_free(st);
        return -1;
    }
    return 0;
}

void csv_stats_free(struct csv_stats *st)
{
    free(st->col);
    free(st->pair);
    free(st->cur);
    free(st->prev);
    free(st->cur_ok);
    free(st->prev_ok);
    free(st->memo);
    free(st->first);
    free(st->first_ok);
    memset(st, 0, sizeof *st);
}

static int th_index(char c)
{
    switch (c) {
    case ',': return 0;
    case '.': return 1;
    case '\'': return 2;
    case ' ': return 3;
    default: return -1;
    }
}

static long long llabs_(long long v)
{
    return v < 0 ? -v : v;
}

enum { OK_DOT = 1, OK_COMMA = 2, NONEMPTY = 4 };
#define PAIR_MAX 1000000000000000000LL   /* 10^18 */

static void classify(const char *s, size_t n, bool pair, struct cell_class *c)
{
    memset(c, 0, sizeof *c);
    c->ok = NONEMPTY;
    c->dates = csv_date_formats(s, n);
    struct csv_amount a;
    if (csv_amount_scan(s, n, &a) == 0) {
        c->scanned = true;
        c->negative = a.negative;
        csv_amount_classify(&a, &c->ni);
        /* bounded so that differences cannot overflow */
        if (pair && c->ni.ok_dot && csv_amount_value(&a, '.', c->ni.th_dot, 4, &c->value[0]) == 0 &&
            llabs_(c->value[0]) <= PAIR_MAX)
            c->ok |= OK_DOT;
        if (pair && c->ni.ok_comma && csv_amount_value(&a, ',', c->ni.th_comma, 4, &c->value[1]) == 0 &&
            llabs_(c->value[1]) <= PAIR_MAX)
            c->ok |= OK_COMMA;
    }
    c->text = c->dates == 0 && !c->ni.ok_dot && !c->ni.ok_comma && csv_has_letter(s, n);
    c->indicator = csv_indicator_sign(s, n) != 0;
    if (n == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z') {
        c->code_valid = true;
        c->code_common = csv_is_common_currency(s, n);
    }
}

static void count(struct csv_colstat *cs, const struct cell_class *c, size_t n)
{
    cs->nonempty++;
    for (int f = 0; f < CSV_DATE_FORMAT_COUNT; f++)
        if (c->dates & (1u << f))
            cs->date_ok[f]++;
    if (c->scanned) {
        const struct csv_number_info *ni = &c->ni;
        if (ni->ok_dot) {
            cs->num_dot++;
            if (th_index(ni->th_dot) >= 0)
                cs->th_dot[th_index(ni->th_dot)]++;
        }
        if (ni->ok_comma) {
            cs->num_comma++;
            if (th_index(ni->th_comma) >= 0)
                cs->th_comma[th_index(ni->th_comma)]++;
        }
        cs->ev_dot += ni->evidence == CSV_EVIDENCE_DOT;
        cs->ev_comma += ni->evidence == CSV_EVIDENCE_COMMA;
        cs->hint_dot += ni->hint == CSV_EVIDENCE_DOT;
        cs->hint_comma += ni->hint == CSV_EVIDENCE_COMMA;
        if (ni->ok_dot || ni->ok_comma) {
            cs->frac += ni->frac;
            cs->neg += c->negative;
            cs->id_like += ni->id_like;
        }
    }
    if (c->text) {
        cs->text++;
        cs->text_bytes += (long)n;
    }
    cs->indicator += c->indicator;
    cs->code_valid += c->code_valid;
    cs->code_common += c->code_common;
}

/* Running-balance evidence from two consecutive rows: for each pair of
 * columns (a, b) and decimal separator, whether b moved by a's value of this
 * row (oldest first) or of the previous row (newest first). */
static void pair_moves(struct csv_stats *st, const long long *prev, const unsigned char *prev_ok,
                       const long long *cur, const unsigned char *cur_ok)
{
    for (size_t a = 0; a < st->npair; a++) {
        for (size_t b = 0; b < st->npair; b++) {
            if (a == b)
                continue;
            struct csv_pairstat *ps = &st->pair[a * st->npair + b];
            for (int d = 0; d < 2; d++) {
                unsigned char bit = d ? OK_COMMA : OK_DOT;
                if (!(cur_ok[a] & bit) || !(cur_ok[b] & bit) || !(prev_ok[a] & bit) || !(prev_ok[b] & bit))
                    continue;
                long long amount = cur[a * 2 + d], prev_amount = prev[a * 2 + d];
                long long moved = llabs_(cur[b * 2 + d] - prev[b * 2 + d]);
                ps->pairs[d]++;
                ps->fwd[d] += moved == llabs_(amount);
                ps->rev[d] += moved == llabs_(prev_amount);
            }
        }
    }
}

/* Both counter structs are all longs, added field by field in csv_stats_merge. */
_Static_assert(sizeof(struct csv_colstat) % sizeof(long) == 0, "csv_colstat holds longs only");
_Static_assert(sizeof(struct csv_pairstat) % sizeof(long) == 0, "csv_pairstat holds longs only");

static void add_longs(void *dst, const void *src, size_t bytes)
{
    long *d = dst;
    const long *s = src;
    for (size_t i = 0; i < bytes / sizeof(long); i++)
        d[i] += s[i];
}

void csv_stats_merge(struct csv_stats *st, const struct csv_stats *later)
{
    if (later->rows == 0)
        return;
    add_longs(st->col, later->col, st->ncols * sizeof *st->col);
    add_longs(st->pair, later->pair, st->npair * st->npair * sizeof *st->pair);
    if (st->have_prev)   /* the pair across the seam */
        pair_moves(st, st->prev, st->prev_ok, later->first, later->first_ok);
    else
        st->first_row_line = later->first_row_line;
    st->rows += later->rows;
    memcpy(st->prev, later->prev, st->npair * 2 * sizeof *st->prev);
    memcpy(st->prev_ok, later->prev_ok, st->npair);
    st->have_prev = true;
}

void csv_stats_add(struct csv_stats *st, const struct csv_reader *r)
{
    st->rows++;
    for (size_t i = 0; i < st->ncols; i++) {
        const char *s = csv_field(r, i);
        size_t n = csv_field_len(r, i);
        bool pair = i < st->npair;
        csv_trim(&s, &n);
        if (n == 0) {
            if (pair)
                st->cur_ok[i] = 0;
            continue;
        }
        struct csv_cellmemo *m = &st->memo[i];
        if (m->n != n || memcmp(m->text, s, n) != 0) {
            classify(s, n, pair, &m->c);
            m->n = n <= MEMO_BYTES ? n : 0;
            if (m->n != 0)
                memcpy(m->text, s, n);
        }
        count(&st->col[i], &m->c, n);
        if (pair) {
            st->cur_ok[i] = m->c.ok;
            st->cur[i * 2] = m->c.value[0];
            st->cur[i * 2 + 1] = m->c.value[1];
        }
    }
    for (size_t a = 0; a < st->npair; a++)
        for (size_t b = 0; b < st->npair; b++)
            if (a != b && (st->cur_ok[a] & NONEMPTY) && (st->cur_ok[b] & NONEMPTY))
                st->pair[a * st->npair + b].both++;
    if (st->have_prev) {
        pair_moves(st, st->prev, st->prev_ok, st->cur, st->cur_ok);
    } else {
        memcpy(st->first, st->cur, st->npair * 2 * sizeof *st->cur);
        memcpy(st->first_ok, st->cur_ok, st->npair);
    }
    memcpy(st->prev, st->cur, st->npair * 2 * sizeof *st->cur);
    memcpy(st->prev_ok, st->cur_ok, st->npair);
    st->have_prev = true;
}

/* ---- Inference ------------------------------------------------------------ */

static long best_date_count(const struct csv_colstat *cs, int *fmt)
{
    long best = 0;
    int bf = -1;
    for (int f = 0; f < CSV_DATE_FORMAT_COUNT; f++)
        if (cs->date_ok[f] > best) {
            best = cs->date_ok[f];
            bf = f;
        }
    if (fmt != NULL)
        *fmt = bf;
    return best;
}

static long num_count(const struct csv_colstat *cs)
{
    return cs->num_dot > cs->num_comma ? cs->num_dot : cs->num_comma;
}

static bool share(long part, long whole, int percent)
{
    return whole > 0 && part * 100 >= (long)percent * whole;
}

/* Whether column i's values fit a role its header named. */
static bool fits(const struct csv_stats *st, size_t i, enum csv_role role)
{
    const struct csv_colstat *cs = &st->col[i];
    switch (role) {
    case CSV_ROLE_DATE:
        return share(best_date_count(cs, NULL), cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_AMOUNT:
        return share(num_count(cs), cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_DEBIT:
    case CSV_ROLE_CREDIT:
    case CSV_ROLE_BALANCE:
        return cs->nonempty == 0 || share(num_count(cs), cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_INDICATOR:
        return share(cs->indicator, cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_CURRENCY:
        return cs->nonempty == 0 || share(cs->code_valid, cs->nonempty, CSV_MIN_ROLE_PERCENT);
    default:
        return true;
    }
}

struct infer {
    const struct csv_stats *st;
    const struct csv_override *ov;
    struct csv_mapping *m;
    bool *taken;
    enum csv_role *hrole;       /* role named by each column's header */
    int *hweight;
};

static void take(struct infer *in, enum csv_role role, int col)
{
    in->m->col[role] = col;
    if (col >= 0)
        in->taken[col] = true;
}

/* The free column whose header names `role`, heaviest first, whose values fit. */
static int header_pick(const struct infer *in, enum csv_role role)
{
    int best = -1;
    for (size_t i = 0; i < in->st->ncols; i++) {
        if (in->taken[i] || in->hrole[i] != role || !fits(in->st, i, role))
            continue;
        if (best < 0 || in->hweight[i] > in->hweight[best])
            best = (int)i;
    }
    return best;
}

static bool given(const struct infer *in, enum csv_role role)
{
    return in->ov != NULL && in->ov->has_col[role];
}

/* Running-balance relation: column b moves by column a's values. */
static bool balance_of(const struct csv_stats *st, int a, int b, int d, long *strength)
{
    if (a < 0 || b < 0 || (size_t)a >= st->npair || (size_t)b >= st->npair || a == b)
        return false;
    const struct csv_pairstat *ps = &st->pair[(size_t)a * st->npair + (size_t)b];
    long hits = ps->fwd[d] > ps->rev[d] ? ps->fwd[d] : ps->rev[d];
    if (strength != NULL)
        *strength = hits;
    return hits >= 2 && hits * 100 >= 60 * ps->pairs[d];
}

static char pick_thousands(const struct csv_stats *st, const struct csv_mapping *m)
{
    static const char seps[4] = { ',', '.', '\'', ' ' };
    long count[4] = { 0 };
    const enum csv_role money[] = { CSV_ROLE_AMOUNT, CSV_ROLE_DEBIT, CSV_ROLE_CREDIT,
                                    CSV_ROLE_BALANCE };
    for (size_t k = 0; k < sizeof money / sizeof money[0]; k++) {
        int c = m->col[money[k]];
        if (c < 0)
            continue;
        for (int t = 0; t < 4; t++)
            count[t] += m->decimal == ',' ? st->col[c].th_comma[t] : st->col[c].th_dot[t];
    }
    int best = -1;
    for (int t = 0; t < 4; t++)
        if (seps[t] != m->decimal && count[t] > 0 && (best < 0 || count[t] > count[best]))
            best = t;
    return best < 0 ? 0 : seps[best];
}

int csv_infer(const struct csv_infer_ctx *c, struct csv_mapping *m, struct stmt_error *err)
{
    const struct csv_stats *st = c->st;
    const struct csv_override *ov = c->ov;
    size_t ncols = st->ncols;
    int rc = -1;
    bool *taken = calloc(ncols + 1, sizeof *taken);
    enum csv_role *hrole = calloc(ncols + 1, sizeof *hrole);
    int *hweight = calloc(ncols + 1, sizeof *hweight);
    bool *cand = calloc(ncols + 1, sizeof *cand);
    if (taken == NULL || hrole == NULL || hweight == NULL || cand == NULL) {
        csv_set_error(err, 0, "out of memory");
        goto out;
    }
    struct infer in = { .st = st, .ov = ov, .m = m, .taken = taken, .hrole = hrole,
                        .hweight = hweight };
    *c->ambiguous_dates = false;
    for (int r = 0; r < CSV_ROLE_COUNT; r++)
        m->col[r] = -1;
    m->ndesc = 0;
    m->date_format = -1;
    m->decimal = '.';
    m->thousands = 0;
    m->negate = ov != NULL && ov->has_negate ? ov->negate : false;

    /* what the user fixed */
    if (ov != NULL) {
        for (int r = CSV_ROLE_DATE; r < CSV_ROLE_COUNT; r++)
            if (r != CSV_ROLE_DESCRIPTION && ov->has_col[r])
                take(&in, (enum csv_role)r, ov->col[r]);
        if (ov->has_desc) {
            for (size_t k = 0; k < ov->ndesc; k++) {
                m->desc[m->ndesc++] = ov->desc[k];
                taken[ov->desc[k]] = true;
            }
        }
    }

    /* what the header says */
    int en = 0, other = 0;
    for (size_t i = 0; c->names != NULL && i < ncols && i < json_array_size(c->names); i++) {
        const char *name = json_string_value(json_array_get(c->names, i));
        enum csv_lang lang;
        if (name == NULL)
            continue;
        hrole[i] = csv_header_role(name, strlen(name), &hweight[i], &lang);
        en += hrole[i] != CSV_ROLE_NONE && lang == CSV_LANG_EN;
        other += hrole[i] != CSV_ROLE_NONE && lang == CSV_LANG_OTHER;
    }
    bool non_english = other > en;

    /* the date */
    if (!given(&in, CSV_ROLE_DATE)) {
        int col = header_pick(&in, CSV_ROLE_DATE);
        if (col < 0) {
            long best = 0;
            for (size_t i = 0; i < ncols; i++) {
                long n = taken[i] ? 0 : best_date_count(&st->col[i], NULL);
                if (n > best) {
                    best = n;
                    col = (int)i;
                }
            }
            if (!share(best, st->rows, CSV_MIN_ROLE_PERCENT))
                col = -1;
        }
        take(&in, CSV_ROLE_DATE, col);
    }

    /* columns the header names (the money columns' values must be numbers) */
    const enum csv_role named[] = { CSV_ROLE_BALANCE, CSV_ROLE_CURRENCY, CSV_ROLE_REFERENCE,
                                    CSV_ROLE_AMOUNT, CSV_ROLE_DEBIT, CSV_ROLE_CREDIT };
    bool amount_fixed = given(&in, CSV_ROLE_AMOUNT);
    bool dc_fixed = given(&in, CSV_ROLE_DEBIT) || given(&in, CSV_ROLE_CREDIT);
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        enum csv_role r = named[k];
        if (given(&in, r))
            continue;
        if (r == CSV_ROLE_AMOUNT && (dc_fixed || m->col[CSV_ROLE_DEBIT] >= 0 ||
                                     m->col[CSV_ROLE_CREDIT] >= 0))
            continue;
        if ((r == CSV_ROLE_DEBIT || r == CSV_ROLE_CREDIT) &&
            (amount_fixed ? m->col[CSV_ROLE_AMOUNT] >= 0 : false))
            continue;
        take(&in, r, header_pick(&in, r));
    }
    /* a header with both "Amount" and "Debit"/"Credit": the signed amount wins */
    if (m->col[CSV_ROLE_AMOUNT] >= 0 && !dc_fixed) {
        for (int r = CSV_ROLE_DEBIT; r <= CSV_ROLE_CREDIT; r++) {
            if (m->col[r] >= 0) {
                taken[m->col[r]] = false;
                m->col[r] = -1;
            }
        }
    }

    /* number columns no header claims */
    bool have_money = m->col[CSV_ROLE_AMOUNT] >= 0 || m->col[CSV_ROLE_DEBIT] >= 0 ||
                      m->col[CSV_ROLE_CREDIT] >= 0;
    bool amount_none = amount_fixed && m->col[CSV_ROLE_AMOUNT] < 0;
    size_t ncand = 0;
    for (size_t i = 0; i < ncols; i++) {
        const struct csv_colstat *cs = &st->col[i];
        cand[i] = !taken[i] && cs->nonempty > 0 && hrole[i] == CSV_ROLE_NONE &&
                  share(num_count(cs), cs->nonempty, CSV_MIN_VALUE_PERCENT) &&
                  cs->id_like * 2 < cs->nonempty;
        ncand += cand[i];
    }

    /* the decimal separator: what the money columns' digits prove */
    if (ov != NULL && ov->has_decimal) {
        m->decimal = ov->decimal;
    } else {
        long dot = 0, comma = 0, hint_dot = 0, hint_comma = 0;
        bool named_money = false;
        for (int r = CSV_ROLE_AMOUNT; r <= CSV_ROLE_BALANCE; r++) {
            if (r == CSV_ROLE_INDICATOR || r == CSV_ROLE_CURRENCY || m->col[r] < 0)
                continue;
            const struct csv_colstat *cs = &st->col[m->col[r]];
            named_money = true;
            dot += cs->ev_dot;
            comma += cs->ev_comma;
            hint_dot += cs->hint_dot;
            hint_comma += cs->hint_comma;
        }
        for (size_t i = 0; !named_money && i < ncols; i++) {
            if (cand[i]) {
                dot += st->col[i].ev_dot;
                comma += st->col[i].ev_comma;
                hint_dot += st->col[i].hint_dot;
                hint_comma += st->col[i].hint_comma;
            }
        }
        if (comma == dot) {   /* nothing proven: what the digit groups suggest */
            comma = hint_comma;
            dot = hint_dot;
        }
        int df = -1;
        if (m->col[CSV_ROLE_DATE] >= 0)
            best_date_count(&st->col[m->col[CSV_ROLE_DATE]], &df);
        if (comma != dot)
            m->decimal = comma > dot ? ',' : '.';
        else
            m->decimal = (non_english || m->delimiter == ';' || df == CSV_DATE_DMY_DOT ||
                          df == CSV_DATE_DMY_DOT_YY) ? ',' : '.';
    }
    int d = m->decimal == ',' ? 1 : 0;

    /* the amount from the values: a running balance is never the amount */
    if (!have_money && !dc_fixed && ncand > 0) {
        int amount = -1, balance = -1;
        long strongest = 0;
        for (size_t a = 0; a < ncols && a < st->npair; a++) {
            for (size_t b = 0; b < ncols && b < st->npair; b++) {
                long s;
                int want_b = m->col[CSV_ROLE_BALANCE];
                if (!cand[a] || (want_b >= 0 ? (int)b != want_b : !cand[b]))
                    continue;
                if (balance_of(st, (int)a, (int)b, d, &s) && s > strongest) {
                    strongest = s;
                    amount = (int)a;
                    balance = (int)b;
                }
            }
        }
        if (amount >= 0 && !amount_none) {
            take(&in, CSV_ROLE_AMOUNT, amount);
            if (m->col[CSV_ROLE_BALANCE] < 0 && !given(&in, CSV_ROLE_BALANCE))
                take(&in, CSV_ROLE_BALANCE, balance);
            cand[amount] = cand[balance] = false;
        } else {
            /* two half-empty columns that take turns: debit (left) and credit */
            for (size_t a = 0; a < st->npair && m->col[CSV_ROLE_DEBIT] < 0; a++) {
                for (size_t b = a + 1; b < st->npair; b++) {
                    const struct csv_colstat *ca = &st->col[a], *cb = &st->col[b];
                    if (!cand[a] || !cand[b] || ca->nonempty >= st->rows || cb->nonempty >= st->rows)
                        continue;
                    long both = st->pair[a * st->npair + b].both;
                    if (both * 10 <= st->rows && (ca->nonempty + cb->nonempty) * 10 >= 9 * st->rows) {
                        take(&in, CSV_ROLE_DEBIT, (int)a);
                        take(&in, CSV_ROLE_CREDIT, (int)b);
                        break;
                    }
                }
            }
            if (m->col[CSV_ROLE_DEBIT] < 0 && !amount_none) {
                int best = -1, best_score = -1;
                for (size_t i = 0; i < ncols; i++) {
                    if (!cand[i] || (int)i == m->col[CSV_ROLE_BALANCE])
                        continue;
                    const struct csv_colstat *cs = &st->col[i];
                    int score = (cs->neg > 0) * 4 + (cs->frac > 0) * 2 + (cs->nonempty == st->rows);
                    if (score > best_score) {
                        best_score = score;
                        best = (int)i;
                    }
                }
                take(&in, CSV_ROLE_AMOUNT, best);
            }
        }
    }

    /* an unsigned amount with a DR/CR column (from its values only when the
     * amounts carry no sign themselves: a "cleared" column of C's is not one) */
    if (m->col[CSV_ROLE_AMOUNT] >= 0 && !given(&in, CSV_ROLE_INDICATOR)) {
        int col = header_pick(&in, CSV_ROLE_INDICATOR);
        bool unsigned_amounts = st->col[m->col[CSV_ROLE_AMOUNT]].neg == 0;
        for (size_t i = 0; col < 0 && unsigned_amounts && i < ncols; i++) {
            const struct csv_colstat *cs = &st->col[i];
            if (!taken[i] && hrole[i] == CSV_ROLE_NONE && cs->nonempty * 2 >= st->rows &&
                share(cs->indicator, cs->nonempty, CSV_MIN_VALUE_PERCENT))
                col = (int)i;
        }
        take(&in, CSV_ROLE_INDICATOR, col);
    }
    /* a currency column from its values */
    if (m->col[CSV_ROLE_CURRENCY] < 0 && !given(&in, CSV_ROLE_CURRENCY)) {
        for (size_t i = 0; i < ncols; i++) {
            const struct csv_colstat *cs = &st->col[i];
            if (!taken[i] && share(cs->code_common, cs->nonempty, CSV_MIN_VALUE_PERCENT)) {
                take(&in, CSV_ROLE_CURRENCY, (int)i);
                break;
            }
        }
    }
    /* descriptions: every column the header calls text, else the wordiest column */
    if (ov == NULL || !ov->has_desc) {
        for (size_t i = 0; i < ncols && m->ndesc < CSV_MAX_DESC_COLUMNS; i++) {
            if (!taken[i] && hrole[i] == CSV_ROLE_DESCRIPTION) {
                m->desc[m->ndesc++] = (int)i;
                taken[i] = true;
            }
        }
        if (m->ndesc == 0) {
            int best = -1;
            for (size_t i = 0; i < ncols; i++) {
                const struct csv_colstat *cs = &st->col[i];
                if (taken[i] || cs->text == 0 || cs->text * 2 < cs->nonempty)
                    continue;
                if (best < 0 || cs->text_bytes > st->col[best].text_bytes)
                    best = (int)i;
            }
            if (best >= 0) {
                m->desc[m->ndesc++] = best;
                taken[best] = true;
            }
        }
    }

    if (ov == NULL || !ov->has_thousands)
        m->thousands = pick_thousands(st, m);
    else
        m->thousands = ov->thousands;

    /* the date format, decided over the whole column */
    if (ov != NULL && ov->has_date_format) {
        m->date_format = ov->date_format;
    } else if (m->col[CSV_ROLE_DATE] >= 0) {
        const struct csv_colstat *cs = &st->col[m->col[CSV_ROLE_DATE]];
        int f;
        best_date_count(cs, &f);
        int other_order = csv_date_format_swap(f);
        if (f >= 0 && other_order >= 0 && cs->date_ok[other_order] == cs->date_ok[f]) {
            bool day_first = m->decimal == ',' || non_english;
            bool f_day_first = f == CSV_DATE_DMY_SLASH || f == CSV_DATE_DMY_DASH ||
                               f == CSV_DATE_DMY_SLASH_YY || f == CSV_DATE_DMY_DASH_YY;
            if (day_first != f_day_first)
                f = other_order;
            *c->ambiguous_dates = true;
        }
        m->date_format = f;
    }

    if (m->col[CSV_ROLE_DATE] < 0) {
        csv_set_error(err, 0, "no column with dates was found");
        goto out;
    }
    if (m->col[CSV_ROLE_AMOUNT] < 0 && m->col[CSV_ROLE_DEBIT] < 0 && m->col[CSV_ROLE_CREDIT] < 0) {
        csv_set_error(err, 0, "no column with amounts was found");
        goto out;
    }
    rc = 0;
out:
    free(taken);
    free(hrole);
    free(hweight);
    free(cand);
    return rc;
}
