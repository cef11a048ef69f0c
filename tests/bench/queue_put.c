/*
 * queue_put: group-commit throughput of the durable queue (issue 7):
 * THREADS submitting threads each keep INFLIGHT queue_put() calls
 * outstanding (a text of 160 bytes to one of 1000 recipients, with a
 * dedup key), for SECONDS, on a fresh queue file in DIR with
 * synchronous=FULL (or NORMAL). INFLIGHT 1 is a client that waits for its
 * 202 before sending the next text. Prints one line:
 *   puts/s jobs/batch commit_p50_ms commit_p99_ms put_p50_ms put_p99_ms
 * commit = BEGIN..COMMIT of one batch (fsync included), put = from
 * queue_put() to its callback (what a 202 waits for).
 * Usage: queue_put DIR THREADS INFLIGHT SECONDS [full|normal]
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../server/queue/queue.h"
#include "dataline/log.h"

#define MAX_SAMPLES (4u << 20)

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct queue *q;
static _Atomic int stop;
static _Atomic uint64_t done_total;
static uint64_t *put_lat;              /* samples, indexed by put_n */
static _Atomic uint64_t put_n;
static uint64_t *commit_lat;           /* writer thread only */
static uint64_t commit_n, batch_jobs;

struct slot {
	struct worker *w;
	uint64_t t0;
	int busy;
};

struct worker {
	int id;
	int inflight;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int free_slots;
	uint64_t seq;
	struct slot *slots;
};

static void on_batch(void *arg, unsigned jobs, uint64_t us)
{
	if (commit_n < MAX_SAMPLES)
		commit_lat[commit_n++] = us;
	batch_jobs += jobs;
}

static void put_cb(void *arg, const struct queue_result *res)
{
	struct slot *s = arg;
	struct worker *w = s->w;
	uint64_t i = atomic_fetch_add(&put_n, 1);

	if (res->err)
		fprintf(stderr, "put: %s\n", strerror(-res->err));
	if (i < MAX_SAMPLES)
		put_lat[i] = now_us() - s->t0;
	atomic_fetch_add(&done_total, 1);
	pthread_mutex_lock(&w->lock);
	s->busy = 0;
	w->free_slots++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char body[161], rcpt[16], dedup[48];

	memset(body, 'x', 160);
	body[160] = '\0';
	while (!atomic_load(&stop)) {
		struct slot *s = NULL;
		struct queue_put p = { .channel = QUEUE_TEXT, .body = body,
				       .body_len = 160, .owner = "+4915100000000" };

		pthread_mutex_lock(&w->lock);
		while (w->free_slots == 0 && !atomic_load(&stop))
			pthread_cond_wait(&w->cond, &w->lock);
		for (int i = 0; i < w->inflight && !s; i++)
			if (!w->slots[i].busy)
				s = &w->slots[i];
		if (s) {
			s->busy = 1;
			w->free_slots--;
		}
		pthread_mutex_unlock(&w->lock);
		if (!s)
			break;
		w->seq++;
		snprintf(rcpt, sizeof(rcpt), "+86138%05llu",
			 (unsigned long long)(w->seq % 1000));
		snprintf(dedup, sizeof(dedup), "+4915100000000/%d-%llu", w->id,
			 (unsigned long long)w->seq);
		p.recipient = rcpt;
		p.dedup = dedup;
		s->t0 = now_us();
		while (queue_put(q, &p, put_cb, s) == -EAGAIN)
			usleep(50);
	}
	/* wait for ours */
	pthread_mutex_lock(&w->lock);
	while (w->free_slots < w->inflight)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, uint64_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[(uint64_t)((double)(n - 1) * p)] / 1000.0;
}

int main(int argc, char **argv)
{
	struct queue_config cfg;
	char path[512];
	int threads, inflight, seconds;
	struct worker *ws;
	pthread_t *th;
	uint64_t t0, t1, total, np;

	if (argc < 5) {
		fprintf(stderr, "usage: queue_put DIR THREADS INFLIGHT SECONDS [full|normal]\n");
		return 2;
	}
	threads = atoi(argv[2]);
	inflight = atoi(argv[3]);
	seconds = atoi(argv[4]);
	if (threads < 1 || inflight < 1 || seconds < 1)
		return 2;
	log_set_level(LOG_LVL_WARN);
	snprintf(path, sizeof(path), "%s/queue-bench-%d.db", argv[1], (int)getpid());
	put_lat = calloc(MAX_SAMPLES, sizeof(*put_lat));
	commit_lat = calloc(MAX_SAMPLES, sizeof(*commit_lat));
	ws = calloc((size_t)threads, sizeof(*ws));
	th = calloc((size_t)threads, sizeof(*th));
	if (!put_lat || !commit_lat || !ws || !th)
		return 1;
	queue_config_defaults(&cfg);
	cfg.path = path;
	cfg.sync_normal = argc > 5 && strcmp(argv[5], "normal") == 0;
	cfg.max_per_recipient = 10000000;
	cfg.on_batch = on_batch;
	if (queue_open(&cfg, &q)) {
		fprintf(stderr, "cannot open %s\n", path);
		return 1;
	}
	t0 = now_us();
	for (int i = 0; i < threads; i++) {
		ws[i].id = i;
		ws[i].inflight = ws[i].free_slots = inflight;
		ws[i].slots = calloc((size_t)inflight, sizeof(*ws[i].slots));
		for (int k = 0; k < inflight; k++)
			ws[i].slots[k].w = &ws[i];
		pthread_mutex_init(&ws[i].lock, NULL);
		pthread_cond_init(&ws[i].cond, NULL);
		pthread_create(&th[i], NULL, worker_main, &ws[i]);
	}
	sleep((unsigned)seconds);
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++) {
		pthread_mutex_lock(&ws[i].lock);
		pthread_cond_broadcast(&ws[i].cond);
		pthread_mutex_unlock(&ws[i].lock);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t1 = now_us();
	queue_close(q); /* joins the writer: commit_lat is ours now */
	total = atomic_load(&done_total);
	np = atomic_load(&put_n);
	if (np > MAX_SAMPLES)
		np = MAX_SAMPLES;
	printf("%.0f %.1f %.2f %.2f %.2f %.2f\n",
	       (double)total * 1e6 / (double)(t1 - t0),
	       commit_n ? (double)batch_jobs / (double)commit_n : 0.0,
	       pct_ms(commit_lat, commit_n, 0.50), pct_ms(commit_lat, commit_n, 0.99),
	       pct_ms(put_lat, np, 0.50), pct_ms(put_lat, np, 0.99));
	unlink(path);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "-wal");
	unlink(path);
	path[strlen(path) - 4] = '\0';
	strcat(path, "-shm");
	unlink(path);
	return 0;
}
