/* loyalty.h: modules/cdc, change-data-capture of purchases into loyalty (issue 14).
 *
 * Three parts share this header:
 *   - the consumer tasks loyalty.currency, loyalty.tier, loyalty.mission that
 *     smartimport-worker runs (loyalty_tasks.c; modules/jobs/tasks.c registers them);
 *   - the daemon smartimport-cdc that reads committed purchase inserts from a logical
 *     replication slot (pgoutput) and enqueues those jobs (cdc_pgoutput.c, cdc_stream.c,
 *     main_cdc.c);
 *   - the responder smartimport-loyalty (GET /api/cdc/stats, a customer's loyalty).
 * The one design idea: every consumer is idempotent per purchase.  It claims
 * (consumer, purchase_id) rows in cdc_applied and applies only the purchases it claimed, in
 * the same transaction, so a change delivered twice (the daemon replaying after a crash, a
 * worker killed mid-job) applies once; the daemon names each job by consumer + commit LSN +
 * chunk, so a replay enqueues nothing new.  Details in README.md. */
#ifndef LOYALTY_H
#define LOYALTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "jobs.h"
#include "si_db.h"
#include "si_error.h"

#define LOYALTY_CHUNK_MAX 1000        /* purchases per consumer job */
#define LOYALTY_N_CONSUMERS 3
#define CDC_SLOT_NAME "smartimport_cdc"
#define CDC_PUBLICATION "smartimport_purchases"

enum loyalty_consumer { LOYALTY_CURRENCY, LOYALTY_TIER, LOYALTY_MISSION };

/* "currency", "tier", "mission" (cdc_applied.consumer) and the task names. */
const char *loyalty_consumer_name(enum loyalty_consumer c);
const char *loyalty_task_name(enum loyalty_consumer c);

/* A consumer job's payload {"merchant_id":uuid, "purchase_ids":[1..LOYALTY_CHUNK_MAX positive
 * integers], "commit_lsn":"X/Y"}: the merchant (lower case) and the ids as a PostgreSQL array
 * literal "{1,2,3}" (*out_ids, malloc'd, the caller frees).  0, or -1 with a 400 err. */
int loyalty_payload_read(const json_t *payload, char out_merchant[37], char **out_ids, int *out_n,
                         struct si_error *err);

/* Applies the purchases of ids (a bigint[] literal) of merchant that consumer c has not yet
 * applied, inside the caller's transaction; *out_applied = how many it applied now (0 for a
 * replay).  0, or -1 with err. */
int loyalty_apply(struct si_db *db, enum loyalty_consumer c, const char *merchant, const char *ids,
                  long long *out_applied, struct si_error *err);

/* The three tasks, for modules/jobs/tasks.c. */
int loyalty_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err);
void loyalty_tasks_free(void *state);

/* ---- pgoutput (protocol version 1), cdc_pgoutput.c: pure, no I/O ------------------------- */

#define CDC_MAX_RELATIONS 16
#define CDC_NAME_MAX 64

struct cdc_relation {
    uint32_t oid;
    char name[CDC_NAME_MAX];     /* "schema.table" cut to fit */
    int id_col;                  /* column index of "id", -1 if absent */
    int merchant_col;            /* column index of "merchant_id", -1 if absent */
};

/* What one XLogData payload said. */
enum cdc_msg_kind { CDC_MSG_BEGIN, CDC_MSG_COMMIT, CDC_MSG_RELATION, CDC_MSG_INSERT, CDC_MSG_OTHER };

struct cdc_msg {
    enum cdc_msg_kind kind;
    uint64_t lsn;                /* BEGIN: the final (commit) LSN; COMMIT: the end LSN */
    int64_t commit_ts_us;        /* BEGIN/COMMIT: microseconds since 2000-01-01 UTC */
    /* INSERT into a known relation with both columns: */
    long long purchase_id;
    char merchant[37];
    bool purchase;               /* the insert named a relation with id and merchant_id */
};

struct cdc_relations {
    struct cdc_relation rel[CDC_MAX_RELATIONS];
    int n;
};

/* Parses one pgoutput message of len bytes; RELATION messages update rels.  0, or -1 when
 * the message is malformed (truncated, a column too long, a non-numeric id, a bad uuid). */
int cdc_pgoutput_parse(const unsigned char *buf, size_t len, struct cdc_relations *rels, struct cdc_msg *out);

/* "X/Y" (PostgreSQL's pg_lsn text) of lsn into out (at least 24 bytes). */
void cdc_lsn_format(uint64_t lsn, char *out, size_t cap);

/* Big-endian integers, as the replication protocol sends them. */
uint64_t cdc_get_u64(const unsigned char *p);
uint32_t cdc_get_u32(const unsigned char *p);
void cdc_put_u64(unsigned char *p, uint64_t v);

#endif
