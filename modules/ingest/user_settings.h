/* user_settings.h: a user's own defaults (table user_settings, sql/0022) and
 * the user-settings responder that reads and sets them:
 *
 *   GET /.netlify/functions/user-settings
 *     200 {ok, defaultCurrency: "EUR"|null, locale: "de-DE"|null,
 *          dateOrder: "day_first"|"month_first"|null, updatedAt|null}
 *   PUT|PATCH /.netlify/functions/user-settings {defaultCurrency?, locale?}
 *     each key given is set (null clears it), the others are kept; 200 the
 *     settings as GET answers them; 400 bad_field (an ISO 4217 code; a BCP 47
 *     language[-Script][-REGION] tag, "en_US" and "de-de" are accepted and
 *     stored as en-US, de-DE), 400 bad_body (no known key, or another key).
 *
 * ingest-statement reads them (the currency of rows whose file names none;
 * the day/month order of a CSV whose dates fit both). */
#ifndef USER_SETTINGS_H
#define USER_SETTINGS_H

#include <stddef.h>

#include "si_function.h"

#define USER_SETTINGS_LOCALE_MAX 16   /* "zh-Hant-TW" and the like; longer is refused */

/* The day/month order of dates written with numbers in a locale: 1 day
 * first (most of the world), 0 month first (the United States and the places
 * that write dates its way), -1 unknown (a bare "en" says nothing). */
int user_settings_day_first(const char *locale);

/* Canonical BCP 47 form of a language[-Script][-REGION] tag into out (size
 * USER_SETTINGS_LOCALE_MAX + 1): 0, or -1 when it is not such a tag. */
int user_settings_locale_normalize(const char *in, char *out, size_t size);

int user_settings_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
