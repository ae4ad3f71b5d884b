/* csv_vocab.c: the CSV engine's multilingual vocabulary: header names -> column
 * roles (csv_header_role, csv_role_key), and the cells that mark opening/closing
 * balance and total rows (csv_summary_kind).
 *
 * A column that names the other party (Payee, Partnername, Beguenstigter/
 * Zahlungspflichtiger, Naam tegenpartij, 거래처) is the counterparty, not text of
 * the description; one that holds their IBAN or account number (Tegenrekening,
 * Gegenkonto, "IBAN Auftraggeber") is the counterparty's account.  An account
 * word ("IBAN", "Konto", "account") beside a word for the other party makes the
 * account column; "Account" alone or "Account name" is the holder's own. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#define EXACT 1          /* the whole (normalised) name must match, not just a word in it */
#define ACCOUNT_WORD 2   /* an account word: beside a counterparty word ("IBAN Auftraggeber",
                          * "Payee account") the column is the counterparty's account */
#define ONLY_BESIDE 4    /* only counts beside a counterparty word ("Account" alone is the
                          * holder's own account) */

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
    { CSV_ROLE_DATE, "konyveles datuma", 60, CSV_LANG_OTHER, 0 },     /* Hungarian */
    { CSV_ROLE_DATE, "konyvelesi datum", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DATE, "erteknap", 30, CSV_LANG_OTHER, 0 },
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
    { CSV_ROLE_AMOUNT, "osszeg", 50, CSV_LANG_OTHER, 0 },
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
    { CSV_ROLE_CURRENCY, "penznem", 80, CSV_LANG_OTHER, 0 },
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
    { CSV_ROLE_DESCRIPTION, "particulars", 45, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "purpose", 40, CSV_LANG_EN, 0 },
    { CSV_ROLE_DESCRIPTION, "text", 40, CSV_LANG_ANY, EXACT },
    { CSV_ROLE_DESCRIPTION, "verwendungszweck", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "buchungstext", 45, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "beschreibung", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "libelle", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "concepto", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "descripcion", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "omschrijving", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "mededelingen", 40, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_DESCRIPTION, "mutatiesoort", 40, CSV_LANG_OTHER, 0 },   /* ING: the booking text */
    { CSV_ROLE_DESCRIPTION, "kozlemeny", 50, CSV_LANG_OTHER, 0 },
    /* Korean (the lang is neutral: it says nothing of the decimal separator) */
    { CSV_ROLE_DATE, "\xEA\xB1\xB0\xEB\x9E\x98\xEC\x9D\xBC\xEC\x9E\x90", 60, CSV_LANG_ANY, 0 },    /* 거래일자 */
    { CSV_ROLE_DATE, "\xEA\xB1\xB0\xEB\x9E\x98\xEC\x9D\xBC\xEC\x8B\x9C", 60, CSV_LANG_ANY, 0 },    /* 거래일시 */
    { CSV_ROLE_DATE, "\xEC\x9D\xBC\xEC\x9E\x90", 50, CSV_LANG_ANY, 0 },                                 /* 일자 */
    { CSV_ROLE_DESCRIPTION, "\xEC\xA0\x81\xEC\x9A\x94", 50, CSV_LANG_ANY, 0 },                          /* 적요 */
    { CSV_ROLE_DESCRIPTION, "\xEB\x82\xB4\xEC\x9A\xA9", 45, CSV_LANG_ANY, 0 },                          /* 내용 */
    { CSV_ROLE_DESCRIPTION, "\xEA\xB1\xB0\xEB\x9E\x98\xEB\x82\xB4\xEC\x9A\xA9", 50, CSV_LANG_ANY, 0 }, /* 거래내용 */
    { CSV_ROLE_AMOUNT, "\xEA\xB1\xB0\xEB\x9E\x98\xEA\xB8\x88\xEC\x95\xA1", 55, CSV_LANG_ANY, 0 },  /* 거래금액 */
    { CSV_ROLE_AMOUNT, "\xEA\xB8\x88\xEC\x95\xA1", 50, CSV_LANG_ANY, 0 },                               /* 금액 */
    { CSV_ROLE_DEBIT, "\xEC\xB6\x9C\xEA\xB8\x88\xEC\x95\xA1", 70, CSV_LANG_ANY, 0 },                 /* 출금액 */
    { CSV_ROLE_DEBIT, "\xEC\xB6\x9C\xEA\xB8\x88", 70, CSV_LANG_ANY, 0 },                                /* 출금 */
    { CSV_ROLE_DEBIT, "\xEC\xB0\xBE\xEC\x9C\xBC\xEC\x8B\xA0\xEA\xB8\x88\xEC\x95\xA1", 70, CSV_LANG_ANY, 0 }, /* 찾으신금액 */
    { CSV_ROLE_CREDIT, "\xEC\x9E\x85\xEA\xB8\x88\xEC\x95\xA1", 70, CSV_LANG_ANY, 0 },                /* 입금액 */
    { CSV_ROLE_CREDIT, "\xEC\x9E\x85\xEA\xB8\x88", 70, CSV_LANG_ANY, 0 },                               /* 입금 */
    { CSV_ROLE_CREDIT, "\xEB\xA7\xA1\xEA\xB8\xB0\xEC\x8B\xA0\xEA\xB8\x88\xEC\x95\xA1", 70, CSV_LANG_ANY, 0 }, /* 맡기신금액 */
    { CSV_ROLE_BALANCE, "\xEC\x9E\x94\xEC\x95\xA1", 80, CSV_LANG_ANY, 0 },                              /* 잔액 */
    { CSV_ROLE_CURRENCY, "\xED\x86\xB5\xED\x99\x94", 80, CSV_LANG_ANY, 0 },                             /* 통화 */
    { CSV_ROLE_COUNTERPARTY, "\xEA\xB1\xB0\xEB\x9E\x98\xEC\xB2\x98", 55, CSV_LANG_ANY, 0 },          /* 거래처 */
    { CSV_ROLE_COUNTERPARTY, "\xEB\xB0\x9B\xEB\x8A\x94\xEB\xB6\x84", 55, CSV_LANG_ANY, 0 },          /* 받는분 */
    { CSV_ROLE_COUNTERPARTY, "\xEB\xB3\xB4\xEB\x82\xB8\xEB\xB6\x84", 55, CSV_LANG_ANY, 0 },          /* 보낸분 */
    { CSV_ROLE_COUNTERPARTY, "\xEC\x83\x81\xEB\x8C\x80\xEB\xB0\xA9", 50, CSV_LANG_ANY, 0 },          /* 상대방 */
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "\xEC\x83\x81\xEB\x8C\x80\xEA\xB3\x84\xEC\xA2\x8C", 60, CSV_LANG_ANY, 0 },  /* 상대계좌 */
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "\xEC\x83\x81\xEB\x8C\x80\xEA\xB3\x84\xEC\xA2\x8C\xEB\xB2\x88\xED\x98\xB8", 60, CSV_LANG_ANY, 0 }, /* 상대계좌번호 */
    /* the other party's name (its own column, apart from the description) */
    { CSV_ROLE_COUNTERPARTY, "payee", 55, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "payer", 55, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "name", 40, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "merchant", 45, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "counterparty", 55, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "counter party", 55, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "beneficiary", 50, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "recipient", 50, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY, "partnername", 55, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "partner name", 55, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "name des partners", 55, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "auftraggeber", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "empfanger", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "empfaenger", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "zahlungsempfanger", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "zahlungspflichtiger", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "zahlungsbeteiligter", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "begunstigter", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "beguenstigter", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "naam", 45, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "naam omschrijving", 50, CSV_LANG_OTHER, 0 },   /* ING: the other party */
    { CSV_ROLE_COUNTERPARTY, "tegenpartij", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "naam tegenpartij", 55, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "tegenrekening naam", 55, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "naam tegenrekening", 55, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "beneficiaire", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "tiers", 45, CSV_LANG_OTHER, EXACT },
    { CSV_ROLE_COUNTERPARTY, "beneficiario", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "ordenante", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY, "partner neve", 50, CSV_LANG_OTHER, 0 },
    /* their account: alone, or (ACCOUNT_WORD) beside a word that names the other party */
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "iban", 30, CSV_LANG_ANY, ACCOUNT_WORD },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "kontonummer", 30, CSV_LANG_OTHER, ACCOUNT_WORD },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "kontonummer iban", 50, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "tegenrekening", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "gegenkonto", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "counterparty account", 60, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "counter party account", 60, CSV_LANG_EN, 0 },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "partner szamlaszama", 60, CSV_LANG_OTHER, 0 },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "account", 0, CSV_LANG_EN, ACCOUNT_WORD | ONLY_BESIDE },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "account number", 0, CSV_LANG_EN, ACCOUNT_WORD | ONLY_BESIDE },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "konto", 0, CSV_LANG_OTHER, ACCOUNT_WORD | ONLY_BESIDE },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "rekening", 0, CSV_LANG_OTHER, ACCOUNT_WORD | ONLY_BESIDE },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "cuenta", 0, CSV_LANG_OTHER, ACCOUNT_WORD | ONLY_BESIDE },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "compte", 0, CSV_LANG_OTHER, ACCOUNT_WORD | ONLY_BESIDE },
    { CSV_ROLE_COUNTERPARTY_ACCOUNT, "\xEA\xB3\x84\xEC\xA2\x8C", 0, CSV_LANG_ANY, ACCOUNT_WORD | ONLY_BESIDE }, /* 계좌 */
    /* names of the account holder's own account, not the other party's */
    { CSV_ROLE_NONE, "account name", 0, CSV_LANG_EN, 0 },
    { CSV_ROLE_NONE, "iban bban", 0, CSV_LANG_OTHER, EXACT },   /* Rabobank: the own account */
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
    [CSV_ROLE_COUNTERPARTY] = "counterparty",
    [CSV_ROLE_COUNTERPARTY_ACCOUNT] = "counterpartyAccount",
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
    bool exact_best = false, money_out = false, money_in = false, party = false, account_word = false;
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
        party |= k->role == CSV_ROLE_COUNTERPARTY;
        account_word |= (k->flags & ACCOUNT_WORD) != 0;
        if (k->flags & ONLY_BESIDE)
            continue;
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
    if (best != NULL && best->role == CSV_ROLE_NONE)   /* "Account name": the holder's own */
        return CSV_ROLE_NONE;
    if (party && account_word) {   /* "IBAN Auftraggeber", "Kontonummer/IBAN des Partners" */
        *weight = 70;
        *lang = best != NULL ? best->lang : CSV_LANG_ANY;
        return CSV_ROLE_COUNTERPARTY_ACCOUNT;
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
