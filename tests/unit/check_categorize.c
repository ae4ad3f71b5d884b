/* check_categorize.c: the merchant normaliser (merchant.h) and category matching
 * (categorize.h): folding, whole words, prefixes, plurals, the order user > built-in >
 * weak, counterparty before description, and the most specific keyword. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "categorize.h"
#include "merchant.h"

/* ---- the merchant of a description ---- */

static const struct {
    const char *description, *merchant;
} merchants[] = {
    { "DEBIT CRD PURCHASE 12/05 T-MOBILE AUTOPAY 800-937-8997 WA", "T-MOBILE" },
    { "PAYPAL *NETFLIX", "NETFLIX" },
    { "PAYPAL*SPOTIFY P1234ABCD", "SPOTIFY" },
    { "POS 4312XXXXXXXX9876 STARBUCKS STORE 12345 SEATTLE WA", "STARBUCKS" },
    { "SEPA-LASTSCHRIFT REWE Markt GmbH 1234 Berlin", "REWE Markt" },
    { "CB CARREFOUR MARKET 12/03 PARIS", "CARREFOUR MARKET" },
    { "PAIEMENT PAR CARTE X1234 LECLERC 12/03 BREST", "LECLERC" },
    { "COMPRA TARJ. 5402XXXXXXXX1234 MERCADONA VALENCIA", "MERCADONA" },
    { "BEA NR:ABC123 12.03.24/14.22 ALBERT HEIJN 1234,PAS123", "ALBERT HEIJN" },
    { "STARBUCKS SEATTLE WA", "STARBUCKS" },
    { "WHOLE FOODS MARKET AUSTIN TX", "WHOLE FOODS MARKET" },
    { "TESCO STORES 3297 LONDON GB", "TESCO" },
    { "SQ *BLUE BOTTLE COFFEE OAKLAND CA", "BLUE BOTTLE COFFEE" },
    { "AMZN MKTP US*2K4LM8 AMZN.COM/BILL WA", "AMZN MKTP" },
    { "CARD PAYMENT TO SAINSBURYS S/MKTS ON 12-03-2024", "SAINSBURYS S/MKTS" },
    { "Telekom Deutschland GmbH Kundennr 12345678 EREF+ABC", "Telekom Deutschland" },
    { "Ueberweisung an John Busby IBAN DE12500105170648489890", "John Busby" },
    { "TRANSFER TO 12345678", "" },                 /* nothing but the transfer: no counterparty */
    { "ATM WITHDRAWAL 12/03 4711", "" },
    { "ZELLE TRANSFER TO JOHN BUSBY", "JOHN BUSBY" },
    { "VIREMENT SEPA RECU DE MARIE DUPONT", "MARIE DUPONT" },
    { "De Bijenkorf Amsterdam", "De Bijenkorf" },
    { "Overboeking naar J. de Vries", "J de Vries" },
    { "12/03 14:22 4711", "" },
    { "POS PURCHASE", "" },
    { "", "" },
    { "Café \"Müller\" und Söhne", "Café Müller und Söhne" },
    { "7-ELEVEN 34567 DALLAS TX", "7-ELEVEN" },
    { "O2 DIRECT DEBIT 123456789", "O2 DIRECT" },
    { "DOORDASH*SWEETGREEN SAN FRANCISCO CA", "DOORDASH SWEETGREEN" },
    { "DUKE ENERGY DES:PAYMENT ID:123456789", "DUKE ENERGY" },
    { "1&1 Telecom GmbH Montabaur", "1&1 Telecom GmbH Montabaur" },
    { "Booking.com B.V. Amsterdam", "Booking.com" },
    { "OCTOPUS ENERGY LTD DDR", "OCTOPUS ENERGY" },
    { "CB PHARMACIE DU CENTRE", "PHARMACIE DU CENTRE" },
    { "PAIEMENT PAR CARTE PHARMACIE", "PHARMACIE" },
    { "Menzis Zorgverzekeraar NV", "Menzis Zorgverzekeraar" },
};

START_TEST(the_merchant_is_what_is_left_without_the_statement_noise)
{
    char out[MERCHANT_MAX];
    size_t n = merchant_normalize(merchants[_i].description, out, sizeof out);
    ck_assert_msg(strcmp(out, merchants[_i].merchant) == 0, "\"%s\": got \"%s\", want \"%s\"",
                  merchants[_i].description, out, merchants[_i].merchant);
    ck_assert_uint_eq(n, strlen(out));
}
END_TEST

START_TEST(a_long_merchant_is_cut_at_a_character_boundary)
{
    char in[600], out[MERCHANT_MAX];
    size_t k = 0;
    for (; k + 2 < 300; k += 2)
        memcpy(in + k, "\xc3\xa9", 2);          /* one 300-byte word of "é" */
    in[k] = '\0';
    size_t n = merchant_normalize(in, out, sizeof out);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_lt(n, MERCHANT_MAX);
    ck_assert_uint_eq(n % 2, 0);                /* no half "é" */
    char small[8];
    ck_assert_uint_le(merchant_normalize("NETFLIX INTERNATIONAL", small, sizeof small), 7);
    ck_assert_uint_eq(merchant_normalize("NETFLIX", small, 0), 0);
    ck_assert_uint_eq(merchant_normalize(NULL, out, sizeof out), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(the_word_lists_are_sorted_for_their_binary_search)
{
    ck_assert(merchant_lists_sorted());
}
END_TEST

/* ---- folding ---- */

static const struct {
    const char *text, *folded;
} folds[] = {
    { "McDonald's #123", " mcdonalds 123 " },
    { "Überweisung", " ueberweisung " },
    { "UEBERWEISUNG", " ueberweisung " },
    { "ALDI123 Köln", " aldi 123 koeln " },
    { "T-Mobile", " t mobile " },
    { "Crêperie   Élysée", " creperie elysee " },
    { "--- ### ---", "" },
    { "", "" },
};

START_TEST(text_and_keywords_fold_to_spaced_lower_case_words)
{
    char out[64];
    categorize_fold(folds[_i].text, out, sizeof out);
    ck_assert_str_eq(out, folds[_i].folded);
}
END_TEST

START_TEST(folding_too_much_text_drops_the_last_word_whole)
{
    char out[16];
    size_t n = categorize_fold("alpha beta gamma delta", out, sizeof out);
    ck_assert_str_eq(out, " alpha beta ");
    ck_assert_uint_eq(n, strlen(out));
}
END_TEST

/* ---- matching ---- */

static const struct categorize_rule rules[] = {
    { "bus", "Transport", 0, CATEGORIZE_WORD },
    { "sncf", "Transport", 0, CATEGORIZE_WORD },
    { "internet", "Utilities", 0, CATEGORIZE_WEAK },
    { "paypal", "Transfers", 0, CATEGORIZE_WEAK },
    { "transfer", "Transfers", 0, CATEGORIZE_WEAK },
    { "netflix", "Subscriptions", 0, CATEGORIZE_WORD },
    { "spotify", "Subscriptions", 0, CATEGORIZE_WORD },
    { "atm", "Fees", 0, CATEGORIZE_WORD },
    { "atm fee", "Fees", 0, CATEGORIZE_WORD },
    { "apothek", "Health", 0, CATEGORIZE_PREFIX },
    { "cinema", "Entertainment", 0, CATEGORIZE_WORD },
    { "bundeskasse", "Fees", 0, CATEGORIZE_WORD },
    { "kfz-steuer", "Transport", 0, CATEGORIZE_WORD },
    { "stadtwerke", "Utilities", 0, CATEGORIZE_PREFIX },
    { "miete", "Housing", 0, CATEGORIZE_WORD },
    { "überweisung", "Transfers", 0, CATEGORIZE_WEAK },
    { "tesco", "Groceries", 0, CATEGORIZE_WORD },
    { "t-mobile", "Utilities", 0, CATEGORIZE_WORD },
    { "x", "Nothing", 0, CATEGORIZE_WORD },              /* too short: skipped */
    { "tesco", "Treats", 1, CATEGORIZE_WORD },           /* the user's own rule */
    { "apothek", "Mine", 1, CATEGORIZE_PREFIX },         /* user rules are whole words */
};

static const struct {
    const char *counterparty, *description, *category;
} rows[] = {
    { NULL, "ZELLE TRANSFER TO JOHN BUSBY", "Transfers" },      /* a name is not a keyword */
    { NULL, "BUS TICKET", "Transport" },
    { NULL, "CB SNCF INTERNET 12/03 PARIS", "Transport" },      /* weak words give way */
    { NULL, "PAYPAL *NETFLIX", "Subscriptions" },               /* the merchant after PAYPAL * */
    { "PayPal Europe S.a r.l.", "PP.1234.PP Ihr Einkauf bei Spotify AB", "Subscriptions" },
    { NULL, "PAYPAL PAYMENT", "Transfers" },                    /* PayPal alone: a transfer */
    { NULL, "ATM FEE TRANSFER", "Fees" },                       /* an ATM fee is a fee */
    { NULL, "Stern-Apotheke Augsburg", "Health" },              /* a prefix rule in a compound */
    { NULL, "Apotheke am Markt", "Health" },                    /* not the user's whole-word "apothek" */
    { NULL, "ODEON CINEMAS LONDON", "Entertainment" },          /* a plural */
    { NULL, "Bundeskasse Kfz-Steuer B-AB 1234", "Transport" },  /* two words beat one longer */
    { "Stadtwerke München", "Miete und Strom", "Utilities" },   /* the counterparty first */
    { "Max Mustermann", "Miete April", "Housing" },             /* then the description */
    { NULL, "Ueberweisung an Max Mustermann", "Transfers" },    /* umlauts fold alike */
    { NULL, "TESCO STORES 3297", "Treats" },                    /* the user's rule wins */
    { NULL, "T-MOBILE AUTOPAY", "Utilities" },
    { NULL, "TMOBILE", "Other" },
    { NULL, "x", "Other" },
    { "", "", "Other" },
};

START_TEST(rows_get_the_category_of_their_most_specific_keyword)
{
    struct categorizer *c = categorizer_new_rules(rules, sizeof rules / sizeof rules[0]);
    ck_assert_ptr_nonnull(c);
    const char *got = categorizer_match_row(c, rows[_i].counterparty, rows[_i].description);
    ck_assert_msg(strcmp(got, rows[_i].category) == 0, "\"%s\" / \"%s\": got %s, want %s",
                  rows[_i].counterparty ? rows[_i].counterparty : "(none)", rows[_i].description, got,
                  rows[_i].category);
    categorizer_free(c);
}
END_TEST

START_TEST(the_user_rule_on_the_description_beats_a_built_in_one_on_the_counterparty)
{
    const struct categorize_rule r[] = {
        { "rewe", "Groceries", 0, CATEGORIZE_WORD },
        { "party", "Fun", 1, CATEGORIZE_WORD },
    };
    struct categorizer *c = categorizer_new_rules(r, 2);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(categorizer_match_row(c, "REWE Markt", "REWE party supplies"), "Fun");
    ck_assert_str_eq(categorizer_match_row(c, "REWE Markt", "weekly shop"), "Groceries");
    ck_assert_str_eq(categorizer_match(c, "REWE"), "Groceries");
    categorizer_free(c);
}
END_TEST

static Suite *categorize_suite(void)
{
    Suite *s = suite_create("categorize");
    TCase *tc = tcase_create("merchant");
    tcase_add_loop_test(tc, the_merchant_is_what_is_left_without_the_statement_noise, 0,
                        sizeof merchants / sizeof merchants[0]);
    tcase_add_test(tc, a_long_merchant_is_cut_at_a_character_boundary);
    tcase_add_test(tc, the_word_lists_are_sorted_for_their_binary_search);
    suite_add_tcase(s, tc);
    tc = tcase_create("fold");
    tcase_add_loop_test(tc, text_and_keywords_fold_to_spaced_lower_case_words, 0, sizeof folds / sizeof folds[0]);
    tcase_add_test(tc, folding_too_much_text_drops_the_last_word_whole);
    suite_add_tcase(s, tc);
    tc = tcase_create("match");
    tcase_add_loop_test(tc, rows_get_the_category_of_their_most_specific_keyword, 0, sizeof rows / sizeof rows[0]);
    tcase_add_test(tc, the_user_rule_on_the_description_beats_a_built_in_one_on_the_counterparty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(categorize_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
