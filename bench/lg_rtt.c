/*
 * lg pingpong: 1-byte round trips on one echo connection for --seconds (after --warmup).
 * lg latency: open loop, --rate requests/s in total over --conns echo connections, each request
 * --size bytes answered by --size bytes. Request k of connection i is scheduled at
 * start + i/rate + k*conns/rate and its latency is measured from that scheduled time (not from
 * when it could be sent), so a stalled proxy shows up as latency (no coordinated omission).
 */
#include "lg.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  uint64_t *v;
  size_t n, cap;
} samples;

static void add(samples *s, uint64_t x) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 4096;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (!s->v) die("out of memory");
  }
  s->v[s->n++] = x;
}

int mode_pingpong(const opts *o) {
  char err[160];
  int fd = dial(o, err, sizeof err);
  if (fd < 0) die("pingpong: %s", err);
  char b = 'E';
  if (write_all(fd, &b, 1)) die("pingpong: send: %s", strerror(errno));
  samples s = {0};
  uint64_t t_warm = now_ns() + (uint64_t)(o->warmup * 1e9), t_start = 0, t_end = 0;
  for (;;) {
    uint64_t t0 = now_ns();
    if (!t_start && t0 >= t_warm) t_start = t0, t_end = t0 + (uint64_t)(o->seconds * 1e9);
    if (t_start && t0 >= t_end) break;
    b = 'p';
    if (write_all(fd, &b, 1) || read_full(fd, &b, 1))
      die("pingpong: round trip failed: %s", errno ? strerror(errno) : "connection closed");
    if (t_start) add(&s, now_ns() - t0);
  }
  uint64_t t_done = now_ns();
  close(fd);
  qsort(s.v, s.n, sizeof *s.v, cmp_u64);
  double secs = (double)(t_done - t_start) / 1e9;
  printf("{\"mode\":\"pingpong\",\"round_trips\":%zu,\"seconds\":%.6f,\"rtt_per_s\":%.1f,\"mean_us\":%.2f,"
         "\"p50_us\":%.2f,\"p99_us\":%.2f}\n",
         s.n, secs, (double)s.n / secs, secs * 1e6 / (double)s.n, (double)pct(s.v, s.n, 50) / 1e3,
         (double)pct(s.v, s.n, 99) / 1e3);
  return 0;
}

typedef struct {
  const opts *o;
  int idx, fd;
  samples lat;
  size_t late_errors;
  char err[160];
} lconn;

static pthread_barrier_t ready;
static uint64_t t_origin;

static void *lconn_main(void *arg) {
  lconn *c = arg;
  const opts *o = c->o;
  char *req = malloc((size_t)o->size), *resp = malloc((size_t)o->size);
  prctl(PR_SET_TIMERSLACK, 1UL); /* wake at the scheduled time, not up to 50 us later */
  memset(req, 'q', (size_t)o->size);
  pthread_barrier_wait(&ready);
  pthread_barrier_wait(&ready); /* t_origin set */
  if (c->fd < 0) return NULL;
  uint64_t step = (uint64_t)((double)o->conns / o->rate * 1e9);
  uint64_t first = t_origin + (uint64_t)((double)c->idx / o->rate * 1e9);
  uint64_t measure_from = t_origin + (uint64_t)(o->warmup * 1e9);
  uint64_t stop = measure_from + (uint64_t)(o->seconds * 1e9);
  for (uint64_t k = 0;; k++) {
    uint64_t t = first + k * step;
    if (t >= stop) break;
    if (now_ns() < t) sleep_until_ns(t);
    if (write_all(c->fd, req, (size_t)o->size) || read_full(c->fd, resp, (size_t)o->size)) {
      snprintf(c->err, sizeof c->err, "request failed: %s", errno ? strerror(errno) : "connection closed");
      break;
    }
    if (t >= measure_from) add(&c->lat, now_ns() - t);
  }
  free(req);
  free(resp);
  return NULL;
}

int mode_latency(const opts *o) {
  int n = o->conns;
  lconn *cs = calloc((size_t)n, sizeof *cs);
  pthread_t *ts = calloc((size_t)n, sizeof *ts);
  pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
  for (int i = 0; i < n; i++) {
    cs[i].o = o;
    cs[i].idx = i;
    cs[i].fd = dial(o, cs[i].err, sizeof cs[i].err);
    char e = 'E';
    if (cs[i].fd < 0) die("latency: connection %d: %s", i, cs[i].err);
    if (write_all(cs[i].fd, &e, 1)) die("latency: send: %s", strerror(errno));
    if (pthread_create(&ts[i], NULL, lconn_main, &cs[i])) die("latency: pthread_create failed");
  }
  pthread_barrier_wait(&ready);
  t_origin = now_ns() + 20000000; /* 20 ms for every thread to reach its first sleep */
  pthread_barrier_wait(&ready);
  samples all = {0};
  const char *err = NULL;
  for (int i = 0; i < n; i++) {
    pthread_join(ts[i], NULL);
    for (size_t j = 0; j < cs[i].lat.n; j++) add(&all, cs[i].lat.v[j]);
    if (cs[i].err[0] && !err) err = cs[i].err;
    close(cs[i].fd);
  }
  qsort(all.v, all.n, sizeof *all.v, cmp_u64);
  double sum = 0;
  for (size_t j = 0; j < all.n; j++) sum += (double)all.v[j];
  printf("{\"mode\":\"latency\",\"conns\":%d,\"rate\":%.0f,\"size\":%d,\"requests\":%zu,\"achieved_rps\":%.1f,"
         "\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
         "\"error\":\"%s\"}\n",
         n, o->rate, o->size, all.n, (double)all.n / o->seconds, all.n ? sum / (double)all.n / 1e3 : 0,
         (double)pct(all.v, all.n, 50) / 1e3, (double)pct(all.v, all.n, 90) / 1e3,
         (double)pct(all.v, all.n, 99) / 1e3, (double)pct(all.v, all.n, 99.9) / 1e3,
         all.n ? (double)all.v[all.n - 1] / 1e3 : 0, err ? err : "");
  return err ? 1 : 0;
}
