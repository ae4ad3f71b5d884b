/* llm.c: Crystal's exchange with the model: the request goes through the
 * runtime's chat-completions client (si_llm.h: OPENAI_TIMEOUT_MS bounds the
 * whole exchange, at most two attempts, the answer capped at
 * ADVICE_MAX_REPLY_BYTES), and the message content must be the three fields
 * reply.c accepts.  Every failure is a reason code ("timeout", "http_500",
 * "bad_envelope", "wrong_keys", ...) and Crystal answers from its rules;
 * nothing here logs the prompt, the reply or the key. */
#include "advice.h"

#include <stdlib.h>

int llm_advise(struct si_http_client *http, const struct si_llm_config *cfg, const char *request_body,
               struct advice_text *out, struct si_llm_result *res, const char **reason)
{
    char *content = NULL;
    size_t len = 0;
    int rc = si_llm_chat(http, cfg, request_body, ADVICE_MAX_REPLY_BYTES, &content, &len, res, reason);
    if (rc == 0)
        rc = advice_parse_reply(content, len, out, reason);
    free(content);
    return rc;
}
