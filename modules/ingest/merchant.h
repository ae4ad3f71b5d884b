/* merchant.h: a statement description -> the merchant's name a person would write.
 *
 * Card and debit descriptions wrap the merchant in noise: "DEBIT CRD PURCHASE 12/05
 * T-MOBILE AUTOPAY 800-937-8997 WA", "SEPA-LASTSCHRIFT REWE Markt GmbH 1234 Berlin",
 * "PAYPAL *NETFLIX", "POS 4312XXXXXXXX9876 STARBUCKS STORE 12345 SEATTLE WA".  The
 * normaliser works on whitespace tokens of the original text and keeps their case:
 * it drops card/POS/SEPA/direct-debit words in five languages, card numbers (masked
 * or not), dates, times, phone and reference numbers; a payment processor's prefix
 * (PAYPAL *, SQ *, TST*, SUMUP *, ZETTLE_* ...) gives way to the merchant after it;
 * the first number after the merchant (a store, terminal or reference number) ends
 * it, as do reference labels (IBAN, EREF+, Ref:, DES:, ...); a trailing country code,
 * a US state with its city (in all-capitals descriptors), a well-known city and a
 * legal form (GmbH, B.V., Ltd) go; the words of a transfer, deposit or withdrawal
 * go from its start ("ZELLE TRANSFER TO JOHN BUSBY" is JOHN BUSBY), and a
 * description of nothing else has no merchant ("TRANSFER TO 12345678": the row then
 * has no counterparty rather than a made-up one).  Pure C, no allocation, sorted word lists searched
 * by bsearch: under a microsecond a row with the matching (indicative, a busy machine). */
#ifndef MERCHANT_H
#define MERCHANT_H

#include <stdbool.h>
#include <stddef.h>

/* The longest merchant name written (bytes, with the NUL). */
#define MERCHANT_MAX 128

/* Writes the merchant of description into out (out_size bytes, at most MERCHANT_MAX
 * used) and returns its length; 0 (out = "") when nothing merchant-like is left (an
 * empty description, only numbers and noise).  Never fails; cuts at a character
 * boundary. */
size_t merchant_normalize(const char *description, char *out, size_t out_size);

/* Whether every word list of merchant.c is sorted, as its binary search needs (a unit
 * test asks, so an edit that breaks the order fails there). */
bool merchant_lists_sorted(void);

#endif
