/*
 * lg connrate: --conns parallel clients, each repeating for --seconds: connect (through SOCKS5 when
 * given), send 'E' + 1 byte, read the echo, close. Reports connections/s and the p50/p99 of
 * connect-to-first-echo time.
 * lg idle: opens --conns echo connections with --threads openers, checks each with a round trip,
 * prints a JSON line, then holds them. A line "check" on stdin re-checks them all; EOF exits.
 */
#include "lg.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const opts *o;
  uint64_t *lat, deadline, t_end;
  size_t n, cap, errors;
  char err[160];
} client;

static void *client_main(void *arg) {
  client *c = arg;
  char err[160];
  while (now_ns() < c->deadline) {
    uint64_t t0 = now_ns();
    int fd = dial(c->o, err, sizeof err);
    char b = 'c';
    if (fd >= 0 && (write_all(fd, "Ec", 2) || read_full(fd, &b, 1))) {
      snprintf(err, sizeof err, "echo: %s", errno ? strerror(errno) : "connection closed");
      close(fd);
      fd = -1;
    }
    if (fd < 0) {
      if (!c->errors++) memcpy(c->err, err, sizeof err);
      usleep(1000);
      continue;
    }
    uint64_t t1 = now_ns();
    close(fd);
    if (c->n == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 8192;
      c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
      if (!c->lat) die("out of memory");
    }
    c->lat[c->n++] = t1 - t0;
  }
  c->t_end = now_ns();
  return NULL;
}

int mode_connrate(const opts *o) {
  int n = o->conns;
  client *cs = calloc((size_t)n, sizeof *cs);
  pthread_t *ts = calloc((size_t)n, sizeof *ts);
  uint64_t t_start = now_ns(), deadline = t_start + (uint64_t)(o->seconds * 1e9), t_end = t_start;
  for (int i = 0; i < n; i++) {
    cs[i].o = o;
    cs[i].deadline = deadline;
    if (pthread_create(&ts[i], NULL, client_main, &cs[i])) die("connrate: pthread_create failed");
  }
  size_t total = 0, errors = 0;
  const char *err = "";
  for (int i = 0; i < n; i++) {
    pthread_join(ts[i], NULL);
    total += cs[i].n;
    errors += cs[i].errors;
    if (cs[i].errors && !*err) err = cs[i].err;
    if (cs[i].t_end > t_end) t_end = cs[i].t_end;
  }
  uint64_t *all = malloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    memcpy(all + k, cs[i].lat, cs[i].n * sizeof *all);
    k += cs[i].n;
  }
  qsort(all, total, sizeof *all, cmp_u64);
  double secs = (double)(t_end - t_start) / 1e9;
  printf("{\"mode\":\"connrate\",\"clients\":%d,\"connections\":%zu,\"errors\":%zu,\"seconds\":%.6f,"
         "\"conn_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"error\":\"%s\"}\n",
         n, total, errors, secs, (double)total / secs, (double)pct(all, total, 50) / 1e3,
         (double)pct(all, total, 99) / 1e3, err);
  return total ? 0 : 1;
}

typedef struct {
  const opts *o;
  int *fds, from, to, failed;
  char err[160];
} opener;

static void *opener_main(void *arg) {
  opener *p = arg;
  char err[160];
  for (int i = p->from; i < p->to; i++) {
    int fd = dial(p->o, err, sizeof err);
    char b = 'i';
    if (fd >= 0 && (write_all(fd, "Ei", 2) || read_full(fd, &b, 1))) {
      snprintf(err, sizeof err, "echo: %s", errno ? strerror(errno) : "connection closed");
      close(fd);
      fd = -1;
    }
    if (fd < 0 && !p->failed++) memcpy(p->err, err, sizeof err);
    p->fds[i] = fd;
  }
  return NULL;
}

/* Writes one byte on every open connection, then waits up to 10 s for all the echoes. */
static int check_all(int *fds, int n) {
  int alive = 0;
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0 && write_all(fds[i], "k", 1)) close(fds[i]), fds[i] = -1;
  uint64_t deadline = now_ns() + 10000000000ull;
  for (int i = 0; i < n; i++) {
    if (fds[i] < 0) continue;
    struct pollfd p = {.fd = fds[i], .events = POLLIN};
    uint64_t now = now_ns();
    char b;
    int ms = now < deadline ? (int)((deadline - now) / 1000000) : 0;
    if (poll(&p, 1, ms) == 1 && recv(fds[i], &b, 1, 0) == 1) alive++;
    else close(fds[i]), fds[i] = -1;
  }
  return alive;
}

int mode_idle(const opts *o) {
  int n = o->conns, nt = o->threads < n ? o->threads : n;
  int *fds = malloc((size_t)n * sizeof *fds);
  opener *ps = calloc((size_t)nt, sizeof *ps);
  pthread_t *ts = calloc((size_t)nt, sizeof *ts);
  uint64_t t0 = now_ns();
  for (int i = 0; i < nt; i++) {
    ps[i] = (opener){.o = o, .fds = fds, .from = (int)((long)n * i / nt), .to = (int)((long)n * (i + 1) / nt)};
    if (pthread_create(&ts[i], NULL, opener_main, &ps[i])) die("idle: pthread_create failed");
  }
  int failed = 0;
  const char *err = "";
  for (int i = 0; i < nt; i++) {
    pthread_join(ts[i], NULL);
    failed += ps[i].failed;
    if (ps[i].failed && !*err) err = ps[i].err;
  }
  printf("{\"mode\":\"idle\",\"requested\":%d,\"open\":%d,\"failed\":%d,\"seconds\":%.3f,\"error\":\"%s\"}\n", n,
         n - failed, failed, (double)(now_ns() - t0) / 1e9, err);
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "check", 5)) continue;
    printf("{\"mode\":\"idle\",\"alive\":%d}\n", check_all(fds, n));
    fflush(stdout);
  }
  return 0;
}
