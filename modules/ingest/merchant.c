/* merchant.c: the merchant normaliser (see merchant.h).
 *
 * One pass over at most MAX_TOKENS whitespace/'*' tokens: each token is noise (card,
 * POS and direct-debit words), a number (dates, times, card and reference numbers),
 * a label that ends the merchant (IBAN, EREF+, Ref:), a store label (STORE, Filiale,
 * Nr, Terminal: ends the merchant when a number follows) or a word, which is kept.
 * The word lists are the fixed vocabulary of bank statements, not merchants, so they
 * live here; merchants and keywords are data (data/categories/). */
#include "merchant.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT  512   /* bytes of the description looked at */
#define MAX_TOKENS 64
#define WORD_MAX   32    /* longest vocabulary word compared */

struct token {
    char *s;
    size_t len;
    bool star;          /* a '*' followed it: "PAYPAL *NETFLIX" */
    char w[WORD_MAX];   /* lower case without trailing ":,;." ("" when longer than a word) */
};

/* Card, POS and direct-debit words of EN, DE, FR, ES and NL statements.  Every list here is
 * sorted by bytes (in_list searches it). */
static const char *const noise_words[] = {
    "ach", "achat", "adeudo", "algemeen", "autopay", "basislastschrift", "bea", "betaalautomaat",
    "betaling", "bgc", "card", "carte", "cb", "checkcard", "chkcard", "compra", "con",
    "contactless", "crd", "dbt", "dd", "ddr", "debit", "domiciliacion", "domiciliación",
    "doorlopend", "du", "ec", "ec-karte", "eenmalig", "einzug", "en", "erstlastschrift",
    "folgelastschrift", "fpi", "fpo", "gea", "girocard", "ideal", "incasso", "karte",
    "kartenzahlung", "kartenzahlung/girocard", "lastschrift", "lastschrifteinzug", "maestro",
    "mastercard", "pago", "paiement", "par", "payment", "pin", "pinbetaling", "pmt", "pos",
    "pre-authorized", "preauthorized", "prelevement", "prlv", "prlvt", "prélèvement", "pur",
    "purch", "purchase", "purchases", "pymt", "recibo", "recurring", "sepa",
    "sepa-basislastschrift", "sepa-lastschrift", "tarj", "tarjeta", "trx", "visa", "vpay",
    "zahlung",
};

/* These end the merchant: what follows is a reference, an account or a purpose. */
static const char *const label_words[] = {
    "abwa", "abwe", "benm", "bic", "cred", "des", "end-to-end-ref", "eref", "glaubiger-id",
    "gläubiger-id", "iban", "id", "indn", "inv", "invoice", "kref", "kundennr", "kundennummer",
    "mandat", "mandatsref", "mandatsreferenz", "mref", "n°", "nº", "ordp", "rechnungsnr", "ref",
    "ref.", "reference", "referenz", "remi", "réf", "svwz", "vertragsnr",
};

/* These end the merchant when a number follows them. */
static const char *const store_words[] = {
    "branch", "fil", "filiale", "kasse", "loc", "location", "magasin", "no", "nr", "num", "number",
    "store", "stores", "str", "sucursal", "term", "terminal", "tid", "trm", "winkel",
};

/* A '*' after one of these makes the merchant the text after it. */
static const char *const processors[] = {
    "fs", "goog", "google", "iz", "izettle", "klarna", "paddle", "paypal", "pp", "sp", "sq",
    "stripe", "sumup", "tst", "zettle", "zettle_",
};

/* Words of a transfer, a deposit or a withdrawal, and the prepositions around a payee: not a
 * merchant, so they go from the start of one ("TRANSFER TO John Busby" is John Busby), the
 * prepositions from its end ("SAINSBURYS ON"), and a description of nothing else names no
 * counterparty at all ("TRANSFER TO 12345678", "ATM WITHDRAWAL"). */
static const char *const generic_words[] = {
    "a", "at", "atm", "auszahlung", "bargeldauszahlung", "cash", "chez", "dauerauftrag",
    "deposit", "einzahlung", "from", "für", "geldautomaat", "gutschrift", "ingreso", "internal",
    "naar", "on", "online", "opname", "order", "overboeking", "overschrijving", "para", "payee",
    "received", "recu", "retiro", "retrait", "reçu", "sent", "standing", "storting", "tfr", "to", "transf",
    "transfer", "transferencia", "transfert", "trf", "uberweisung", "ueberweisung", "virement",
    "withdrawal", "xfer", "zelle", "à", "überweisung",
};

/* Prepositions that go from the start only after such a word ("Ueberweisung an John Busby",
 * "VIREMENT RECU DE MARIE DUPONT"), since they begin names too ("De Bijenkorf", "Van Haren"). */
static const char *const generic_followers[] = { "an", "de", "des", "du", "van", "von" };

/* Legal forms, dropped from the end of a name ("Zalando SE", "KPN B.V."). */
static const char *const legal_forms[] = {
    "ab", "ag", "b.v", "bv", "co.kg", "corp", "e.v", "gmbh", "inc", "kg", "limited", "llc", "ltd", "mbh", "n.v",
    "nv", "plc", "s.a", "s.a.r.l", "s.l", "sa", "sarl", "sas", "sau", "se", "sl", "srl",
};

/* The first word of two-word US cities, left when the state took only the last word. */
static const char *const city_heads[] = {
    "EL", "FORT", "LA", "LAS", "LOS", "NEW", "PALM", "PALO", "SAINT", "SALT", "SAN", "SANTA", "ST",
};

static const char *const countries[] = {
    "AT", "AUT", "BE", "BEL", "CA", "CAN", "CH", "CHE", "DE", "DEU", "ES", "ESP", "FR", "FRA", "GB",
    "GBR", "IE", "IRL", "IT", "ITA", "LU", "LUX", "NL", "NLD", "UK", "US", "USA",
};

static const char *const us_states[] = {
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN",
    "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ",
    "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA",
    "WI", "WV", "WY",
};

static const char *const cities[] = {
    "amsterdam", "barcelona", "berlin", "bilbao", "birmingham", "bordeaux", "bristol", "brussel",
    "brussels", "bruxelles", "dresden", "dublin", "duesseldorf", "dusseldorf", "düsseldorf",
    "edinburgh", "eindhoven", "frankfurt", "glasgow", "groningen", "hamburg", "koeln", "koln",
    "köln", "leeds", "leipzig", "lille", "liverpool", "london", "lyon", "madrid", "malaga",
    "manchester", "marseille", "muenchen", "munchen", "munich", "málaga", "münchen", "nantes",
    "paris", "rotterdam", "sevilla", "stuttgart", "toulouse", "utrecht", "valencia", "wien",
    "zaragoza", "zuerich", "zurich", "zürich",
};

/* The token lower-cased (ASCII) without trailing ':', ',', ';' into w; false when too long. */
static bool lower_word(const struct token *t, char *w)
{
    size_t n = t->len;
    w[0] = '\0';
    while (n > 0 && (t->s[n - 1] == ':' || t->s[n - 1] == ',' || t->s[n - 1] == ';' || t->s[n - 1] == '.'))
        n--;
    if (n == 0 || n >= WORD_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t->s[i];
        w[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    w[n] = '\0';
    return true;
}

static int cmp_word(const void *key, const void *item)
{
    return strcmp(key, *(const char *const *)item);
}

/* The lists above are sorted by bytes (check_categorize checks it): a binary search. */
static bool in_list(const char *w, const char *const *list, size_t n)
{
    return w[0] != '\0' && bsearch(w, list, n, sizeof list[0], cmp_word) != NULL;
}

#define IN(w, list) in_list((w), (list), sizeof(list) / sizeof(list)[0])

static bool is_noise(const struct token *t)
{
    return IN(t->w, noise_words);
}

static bool is_store(const struct token *t)
{
    return (t->len == 1 && t->s[0] == '#') || IN(t->w, store_words);
}

static bool is_processor(const struct token *t)
{
    return IN(t->w, processors);
}

/* A label ends the merchant: a listed word, "EREF+..." style, or a word ending in ':'. */
static bool is_label(const struct token *t)
{
    if (t->len > 1 && t->s[t->len - 1] == ':')
        return true;
    const char *plus = memchr(t->s, '+', t->len);
    if (plus == NULL)
        plus = memchr(t->s, ':', t->len);           /* "DES:PAYMENT", "ID:123" */
    if (plus == NULL)
        return IN(t->w, label_words);
    char w[WORD_MAX];
    struct token head = { t->s, (size_t)(plus - t->s), false, "" };
    return head.len > 0 && lower_word(&head, w) && IN(w, label_words);
}

/* Dates, times, amounts, phone, card and reference numbers, "#", masks ("XXXX", "****"). */
static bool is_number(const struct token *t)
{
    size_t digits = 0, letters = 0, masks = 0;
    for (size_t i = 0; i < t->len; i++) {
        unsigned char c = (unsigned char)t->s[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if (c == 'x' || c == 'X' || c == '*')
            masks++;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80)
            letters++;
    }
    if (digits == 0)
        return (masks >= 4 && letters == 0) || (t->len == 1 && t->s[0] == '#');
    if (memchr(t->s, '&', t->len) != NULL)
        return false;                                /* "1&1" is a name */
    return letters == 0 || digits >= 2;
}

static bool upper_is(const struct token *t, const char *const *list, size_t n)
{
    char w[8];
    if (t->len >= sizeof w)
        return false;
    memcpy(w, t->s, t->len);
    w[t->len] = '\0';
    return in_list(w, list, n);
}

static bool no_lower(const struct token *t)
{
    for (size_t i = 0; i < t->len; i++)
        if (t->s[i] >= 'a' && t->s[i] <= 'z')
            return false;
    return true;
}

/* Short words that are noise before a merchant but part of a name after it ("PHARMACIE DU CENTRE"). */
static bool is_connector(const struct token *t)
{
    return strcmp(t->w, "du") == 0 || strcmp(t->w, "en") == 0 || strcmp(t->w, "con") == 0 ||
           strcmp(t->w, "par") == 0;
}

static bool is_city(const struct token *t)
{
    return IN(t->w, cities);
}

static bool edge_punct(char c)
{
    return c == '-' || c == ',' || c == '.' || c == ':' || c == ';' || c == '/' || c == '#' || c == '_' ||
           c == '*' || c == '(' || c == ')' || c == '"' || c == '\'' || c == '|' || c == '=' || c == '+';
}

static size_t tokenize(char *buf, struct token *tok)
{
    size_t n = 0;
    char *p = buf;
    while (*p && n < MAX_TOKENS) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        if (*p == '*') {            /* a star standing alone marks the token before it */
            if (n > 0)
                tok[n - 1].star = true;
            p++;
            continue;
        }
        char *s = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '*')
            p++;
        tok[n].s = s;
        tok[n].len = (size_t)(p - s);
        tok[n].star = false;
        (void)lower_word(&tok[n], tok[n].w);   /* "" when too long: then no list has it */
        n++;
    }
    return n;
}

size_t merchant_normalize(const char *description, char *out, size_t out_size)
{
    char buf[MAX_INPUT + 1];
    struct token tok[MAX_TOKENS];
    struct token *kept[MAX_TOKENS];
    size_t nk = 0;

    if (out_size == 0)
        return 0;
    out[0] = '\0';
    if (description == NULL)
        return 0;
    size_t len = strnlen(description, MAX_INPUT);
    memcpy(buf, description, len);
    buf[len] = '\0';
    size_t n = tokenize(buf, tok);

    /* A processor's prefix ("PAYPAL *", "POS SQ *"): the merchant is after its star. */
    size_t start = 0;
    for (size_t i = 0; i < n && i < 4; i++) {
        if (!is_processor(&tok[i]) && !is_noise(&tok[i]) && !is_number(&tok[i]))
            break;
        if (tok[i].star && is_processor(&tok[i]) && i + 1 < n) {
            start = i + 1;
            break;
        }
    }

    for (size_t i = start; i < n; i++) {
        struct token *t = &tok[i];
        if (is_noise(t) && (nk == 0 || !is_connector(t)))
            continue;
        if (is_label(t) || is_number(t)) {
            if (nk > 0)
                break;
            continue;
        }
        if (is_store(t) && i + 1 < n && is_number(&tok[i + 1])) {
            if (nk > 0)
                break;
            i++;
            continue;
        }
        kept[nk++] = t;
    }

    /* Tails: a country code, a US state and its city, a well-known city. */
    /* (a code that is both, like CA or DE, is taken for a state: it goes with its city) */
    while (nk > 1 && upper_is(kept[nk - 1], countries, sizeof countries / sizeof countries[0]) &&
           !upper_is(kept[nk - 1], us_states, sizeof us_states / sizeof us_states[0]))
        nk--;
    /* a US state ends an all-capitals card descriptor ("SEATTLE WA", not "Menzis NV") */
    if (nk > 1 && upper_is(kept[nk - 1], us_states, sizeof us_states / sizeof us_states[0]) &&
        no_lower(kept[nk - 2])) {
        nk -= nk > 2 ? 2 : 1;
        if (nk > 1 && upper_is(kept[nk - 1], city_heads, sizeof city_heads / sizeof city_heads[0]))
            nk--;
    }
    while (nk > 1 && is_city(kept[nk - 1]))
        nk--;
    while (nk > 1 && IN(kept[nk - 1]->w, legal_forms))
        nk--;
    while (nk > 1 && is_city(kept[0])) {
        memmove(kept, kept + 1, (nk - 1) * sizeof kept[0]);
        nk--;
    }
    size_t lead = 0;
    while (lead < nk && (IN(kept[lead]->w, generic_words) || (lead > 0 && IN(kept[lead]->w, generic_followers))))
        lead++;
    memmove(kept, kept + lead, (nk - lead) * sizeof kept[0]);
    nk -= lead;
    while (nk > 1 && IN(kept[nk - 1]->w, generic_words))
        nk--;

    size_t cap = out_size < MERCHANT_MAX ? out_size : MERCHANT_MAX, w = 0;
    for (size_t i = 0; i < nk; i++) {
        const char *s = kept[i]->s;
        size_t l = kept[i]->len;
        while (l > 0 && edge_punct(*s)) {
            s++;
            l--;
        }
        while (l > 0 && edge_punct(s[l - 1]))
            l--;
        if (l == 0)
            continue;
        size_t need = l + (w > 0);
        if (w + need >= cap) {      /* cut at a character boundary, then stop */
            size_t room = cap - 1 - w - (w > 0);
            if (w + (w > 0) >= cap - 1)
                break;
            while (room > 0 && ((unsigned char)s[room] & 0xC0) == 0x80)
                room--;
            if (room == 0)
                break;
            if (w > 0)
                out[w++] = ' ';
            memcpy(out + w, s, room);
            w += room;
            break;
        }
        if (w > 0)
            out[w++] = ' ';
        memcpy(out + w, s, l);
        w += l;
    }
    out[w] = '\0';
    return w;
}

static bool sorted_list(const char *const *list, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(list[i - 1], list[i]) >= 0)
            return false;
    return true;
}

#define SORTED(list) sorted_list((list), sizeof(list) / sizeof(list)[0])

bool merchant_lists_sorted(void)
{
    return SORTED(noise_words) && SORTED(label_words) && SORTED(store_words) && SORTED(processors) &&
           SORTED(countries) && SORTED(us_states) && SORTED(cities) && SORTED(legal_forms) &&
           SORTED(city_heads) && SORTED(generic_words) &&
           SORTED(generic_followers);
}
