/* nndist sweep, the schedule: world rank 0 deals configurations to the groups as they free
 * up, rung by rung, and every group takes jobs until told to stop (see sweep.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd/sweep.h"

enum { TAG_REQUEST = 7101, TAG_JOB = 7102 };

/* ---- the coordinator (world rank 0) ---- */

typedef struct {
    sweep *s;
    int rung;
    size_t *jobs; /* configurations of the current rung, dealt in this order */
    size_t n_jobs, next, n_results;
    int *waiting; /* leaders (world ranks) waiting for the next rung */
    int n_waiting, stops_sent, finished, aborted;
    nnd_status fatal;
    char fatal_msg[NND_ERR_MSG_MAX];
    size_t reported;
} coord;

static void best_so_far(const coord *co, char *buf, size_t size)
{
    const sweep *s = co->s;
    long best = -1;
    for (size_t c = 0; c < s->n_cfg; c++)
        if (s->last[c] >= 0 &&
            (best < 0 || sweep_rank_cmp(s, c, s->last[c], (size_t)best, s->last[best]) < 0))
            best = (long)c;
    sweep_summary m = best >= 0
                          ? sweep_summarize(s, sweep_result_at(s, (size_t)best, s->last[best]))
                          : (sweep_summary){0};
    if (best < 0 || !m.ok) {
        snprintf(buf, size, "none converged yet");
        return;
    }
    char name[384];
    sweep_config_name(s, (size_t)best, name, sizeof name);
    if (sweep_by_loss(s))
        snprintf(buf, size, "%s (loss %.4f)", name, m.loss);
    else
        snprintf(buf, size, "%s (%.4f)", name, m.score);
}

static void progress(coord *co, size_t c, const sweep_result *r)
{
    sweep *s = co->s;
    char name[384], best[448], rung[64] = "";
    sweep_config_name(s, c, name, sizeof name);
    best_so_far(co, best, sizeof best);
    co->reported++;
    if (s->n_rungs > 1) snprintf(rung, sizeof rung, "rung %d/%d ", co->rung + 1, s->n_rungs);
    sweep_summary m = sweep_summarize(s, r);
    char what[96];
    if (m.ok)
        snprintf(what, sizeof what, "%s %.4f ± %.4f  loss %.4f ± %.4f", sweep_metric_name(s),
                 m.score, m.score_sd, m.loss, m.loss_sd);
    else
        snprintf(what, sizeof what, "diverged (fold %d)", r->diverged);
    /* "±" is two bytes and one column: widen the field by one per sign. */
    printf("%s[%3zu/%zu] %-32s %-*s %6.1f s  group %d  best: %s\n", rung, co->n_results, co->n_jobs,
           name, m.ok ? 38 : 36, what, r->seconds, r->group, best);
    fflush(stdout);
}

static int job_available(const coord *co)
{
    return !co->aborted && !co->finished && co->next < co->n_jobs;
}

/* Moves the configurations whose result at rung r an earlier instance of the sweep completed
 * (sweep_state.c) to the front of the rung's jobs, keeping the order otherwise; returns their
 * count. */
static size_t recorded_first(coord *co, int r)
{
    sweep *s = co->s;
    size_t done = 0;
    for (size_t i = 0; i < co->n_jobs; i++) {
        size_t c = co->jobs[i];
        if (!sweep_result_at(s, c, r)->have) continue;
        memmove(co->jobs + done + 1, co->jobs + done, (i - done) * sizeof *co->jobs);
        co->jobs[done++] = c;
    }
    return done;
}

/* Starts rung r over the given configurations; a rung with the previous budget reuses the
 * previous results, and results recorded by an earlier instance count as done. */
static void start_rung(coord *co, int r, size_t n_alive)
{
    sweep *s = co->s;
    co->rung = r;
    co->n_jobs = n_alive;
    co->next = co->n_results = 0;
    int reuse = r > 0 && s->rung_epochs[r] == s->rung_epochs[r - 1];
    size_t recorded = reuse ? 0 : recorded_first(co, r);
    if (s->n_rungs > 1) {
        printf("rung %d/%d: %zu configuration%s at %" PRIu64 " epoch%s%s\n", r + 1, s->n_rungs,
               n_alive, n_alive == 1 ? "" : "s", s->rung_epochs[r],
               s->rung_epochs[r] == 1 ? "" : "s",
               reuse ? " (the previous rung's budget: its results carry over)" : "");
        fflush(stdout);
    }
    if (recorded) {
        printf("%zu of %zu configuration%s recorded by an earlier run of this sweep\n", recorded,
               n_alive, n_alive == 1 ? "" : "s");
        fflush(stdout);
        co->next = co->n_results = recorded;
    }
    if (!reuse) return;
    for (size_t i = 0; i < n_alive; i++) {
        size_t c = co->jobs[i];
        *sweep_result_at(s, c, r) = *sweep_result_at(s, c, r - 1);
        s->last[c] = r;
    }
    co->next = co->n_results = n_alive;
}

/* Moves on while the current rung is complete: the best third go on, or the sweep ends. */
static void advance(coord *co)
{
    sweep *s = co->s;
    while (!co->aborted && !co->finished && co->n_results == co->n_jobs) {
        if (co->rung + 1 >= s->n_rungs) {
            co->finished = 1;
            break;
        }
        sweep_rank_sort(s, co->jobs, co->n_jobs, co->rung);
        start_rung(co, co->rung + 1, s->rung_size[co->rung + 1]);
    }
}

static void record(coord *co, const sweep_request *q)
{
    sweep *s = co->s;
    if (q->status != NND_OK) {
        if (!co->aborted) {
            co->fatal = (nnd_status)q->status;
            snprintf(co->fatal_msg, sizeof co->fatal_msg, "%s", q->msg);
        }
        co->aborted = 1;
        return;
    }
    size_t c = (size_t)q->config;
    *sweep_result_at(s, c, q->rung) = q->r;
    if (q->rung > s->last[c]) s->last[c] = q->rung;
    co->n_results++;
    progress(co, c, &q->r);
    advance(co);
}

static void reply(coord *co, int leader)
{
    int32_t job[2] = {-1, -1};
    if (job_available(co)) {
        job[0] = (int32_t)co->jobs[co->next++];
        job[1] = co->rung;
    } else if (!co->aborted && !co->finished) {
        co->waiting[co->n_waiting++] = leader;
        return;
    } else {
        co->stops_sent++;
    }
    MPI_Send(job, 2, MPI_INT32_T, leader, TAG_JOB, co->s->world->world);
}

static void serve_waiting(coord *co)
{
    while (co->n_waiting > 0 && (job_available(co) || co->aborted || co->finished)) {
        int leader = co->waiting[0];
        memmove(co->waiting, co->waiting + 1, (size_t)--co->n_waiting * sizeof *co->waiting);
        reply(co, leader);
    }
}

static void handle(coord *co, const sweep_request *q, int leader)
{
    if (q->config >= 0 || q->status != NND_OK) record(co, q);
    reply(co, leader);
    serve_waiting(co);
}

static void receive(coord *co, int blocking)
{
    for (;;) {
        int flag = 1;
        MPI_Status status;
        if (!blocking) MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, co->s->world->world, &flag, &status);
        if (!flag) return;
        sweep_request *q = &co->s->in_msg;
        MPI_Recv(q, (int)sizeof *q, MPI_BYTE, MPI_ANY_SOURCE, TAG_REQUEST, co->s->world->world,
                 &status);
        handle(co, q, status.MPI_SOURCE);
        if (blocking) return;
    }
}

static void coord_poll(void *ctx)
{
    receive(ctx, 0);
}

/* Rank 0's own group asks for a job: wait for other groups' results while the rung is busy. */
static void coord_take(coord *co, int32_t job[2])
{
    for (;;) {
        if (job_available(co)) {
            job[0] = (int32_t)co->jobs[co->next++];
            job[1] = co->rung;
            return;
        }
        if (co->aborted || co->finished) {
            job[0] = job[1] = -1;
            return;
        }
        receive(co, 1);
    }
}

/* ---- the schedule loop, every rank ---- */

/* Collective over the world: every group takes jobs until told to stop. Returns the world's
 * verdict on fatal failures (a divergence is a result, not a failure). */
nnd_status sweep_run(sweep *s)
{
    const nnd_comm *w = s->world;
    int leader = s->group.rank == 0, root = w->rank == 0;
    coord co;
    memset(&co, 0, sizeof co);
    co.s = s;
    nnd_status mine = NND_OK;
    co.jobs = s->jobs;
    co.waiting = s->waiting;
    if (root) {
        for (size_t c = 0; c < s->n_cfg; c++) co.jobs[c] = c;
        start_rung(&co, 0, s->n_cfg);
        advance(&co); /* rungs an earlier instance completed */
    }
    sweep_request *q = &s->out_msg;
    q->config = -1;
    for (;;) {
        int32_t job[2];
        if (root) {
            coord_take(&co, job);
        } else if (leader) {
            MPI_Send(q, (int)sizeof *q, MPI_BYTE, 0, TAG_REQUEST, w->world);
            MPI_Recv(job, 2, MPI_INT32_T, 0, TAG_JOB, w->world, MPI_STATUS_IGNORE);
        }
        MPI_Bcast(job, 2, MPI_INT32_T, 0, s->group.world);
        if (job[0] < 0) break;
        nnd_status st =
            sweep_run_job(s, (size_t)job[0], job[1], &q->r, root ? coord_poll : NULL, &co);
        q->config = job[0];
        q->rung = job[1];
        q->status = (int32_t)st;
        if (st) {
            snprintf(q->msg, sizeof q->msg, "%s", nnd_err_msg());
            mine = st;
        }
        if (root) {
            record(&co, q);
            serve_waiting(&co);
        }
    }
    if (root) {
        while (co.stops_sent < s->n_groups - 1) receive(&co, 1);
        if (co.aborted) mine = nnd_err_set(co.fatal, "%s", co.fatal_msg);
    }
    return nnd_comm_agree(w, mine);
}
