/* si_text.h: text made safe to send or show: the digit masker and UTF-8-safe
 * copying and cutting (moved here from the advice module so that Crystal's
 * prompt and the ingest's merchant categories share one masker).
 *
 * A "digit run" is 6 or more digits, with single spaces or hyphens allowed
 * between two digits ("1234 5678 9012", "DE89-3704-0044"): account, card and
 * phone numbers.  Masking replaces every digit of a run but its last 4 with
 * '*'; shorter numbers (store numbers, years, amounts) stay.  Pure. */
#ifndef SI_TEXT_H
#define SI_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Copies in to out (size n) with every digit of a run of 6 or more digits,
 * except the run's last 4, replaced by '*'.  Output has the input's length;
 * it is truncated (at a UTF-8 boundary) when n is too small.  in and out may
 * be the same buffer.  Returns out. */
char *si_mask_digits(const char *in, char *out, size_t n);
/* True when s holds a run of 6+ digits (with the same separators). */
bool si_has_digit_run(const char *s);
/* Copies at most n-1 bytes of src, cut at a UTF-8 character boundary. */
void si_copy_utf8(char *dst, size_t n, const char *src);
/* The length of the longest prefix of s[0..len) that does not end inside a
 * multi-byte UTF-8 character. */
size_t si_utf8_cut(const char *s, size_t len);

#endif
