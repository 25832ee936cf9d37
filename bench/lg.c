/*
 * lg: one binary for the benchmark's traffic.
 *   lg sink --listen IP:PORT [--threads N]       server: first byte 'S' + 8-byte big-endian length = sink
 *                                                (acks 'A' every 16 MiB, 'F' at the length); 'E' = echo
 *   lg tput --target IP:PORT --conns N --bytes B  one way, B in total over N connections
 *   lg pingpong --target IP:PORT --seconds T      1-byte round trips on one connection
 *   lg connrate --target IP:PORT --conns C --seconds T   C clients: connect, 1-byte echo, close
 *   lg latency --target IP:PORT --conns 16 --rate 1000 --size 1024 --seconds T   open loop
 *   lg idle --target IP:PORT --conns N            open and verify N connections, hold them;
 *                                                stdin "check" re-verifies, EOF exits
 * Every client mode takes --socks5 IP:PORT (no auth, CONNECT to the target as IPv4).
 * Output: one JSON line per result on stdout; errors on stderr with exit code 1.
 * Build: cc -O2 -pthread -o lg lg.c lg_net.c lg_sink.c lg_tput.c lg_rtt.c lg_conn.c
 */
#include "lg.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("lg: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double now_s(void) { return (double)now_ns() / 1e9; }

void sleep_until_ns(uint64_t t) {
  struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull), .tv_nsec = (long)(t % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* As many fds as allowed: fs.nr_open when privileged, else the hard limit. */
void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  FILE *f = fopen("/proc/sys/fs/nr_open", "r");
  unsigned long nr = 0;
  if (f) {
    if (fscanf(f, "%lu", &nr) != 1) nr = 0;
    fclose(f);
  }
  if (nr > rl.rlim_max) {
    struct rlimit want = {nr, nr};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) return;
  }
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

uint64_t pct(const uint64_t *sorted, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)((p / 100.0) * (double)n + 0.999999);
  if (i == 0) i = 1;
  if (i > n) i = n;
  return sorted[i - 1];
}

static void parse_ep(const char *flag, const char *s, struct sockaddr_in *out) {
  char host[64];
  const char *colon = strrchr(s, ':');
  if (!colon || (size_t)(colon - s) >= sizeof host) die("%s: expected IPv4:PORT, got \"%s\"", flag, s);
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &out->sin_addr) != 1)
    die("%s: expected IPv4:PORT, got \"%s\"", flag, s);
  out->sin_port = htons((uint16_t)port);
}

static double parse_num(const char *flag, const char *s) {
  char *end;
  double v = strtod(s, &end);
  double mul = 1;
  if (*end == 'K' || *end == 'k') mul = 1024, end++;
  else if (*end == 'M' || *end == 'm') mul = 1024.0 * 1024, end++;
  else if (*end == 'G' || *end == 'g') mul = 1024.0 * 1024 * 1024, end++;
  if (*end || v < 0) die("%s: expected a non-negative number (K/M/G suffixes allowed), got \"%s\"", flag, s);
  return v * mul;
}

static const struct {
  const char *name;
  int (*run)(const opts *);
  int needs_target;
} MODES[] = {
    {"sink", mode_sink, 0},         {"tput", mode_tput, 1},         {"pingpong", mode_pingpong, 1},
    {"latency", mode_latency, 1},   {"connrate", mode_connrate, 1}, {"idle", mode_idle, 1},
};

int main(int argc, char **argv) {
  if (argc < 2) die("usage: lg sink|tput|pingpong|latency|connrate|idle [--flag value ...] (see lg.c)");
  opts o = {.conns = 1, .bytes = 1ull << 30, .seconds = 5, .warmup = 1, .rate = 1000, .size = 1024,
            .max_seconds = 60, .threads = 4};
  for (int i = 2; i < argc; i += 2) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) die("%s: missing value", f);
    if (!strcmp(f, "--listen")) parse_ep(f, v, &o.listen), o.has_listen = 1;
    else if (!strcmp(f, "--target")) parse_ep(f, v, &o.target), o.has_target = 1;
    else if (!strcmp(f, "--socks5")) parse_ep(f, v, &o.socks), o.has_socks = 1;
    else if (!strcmp(f, "--conns")) o.conns = (int)parse_num(f, v);
    else if (!strcmp(f, "--bytes")) o.bytes = (uint64_t)parse_num(f, v);
    else if (!strcmp(f, "--seconds")) o.seconds = parse_num(f, v);
    else if (!strcmp(f, "--warmup")) o.warmup = parse_num(f, v);
    else if (!strcmp(f, "--rate")) o.rate = parse_num(f, v);
    else if (!strcmp(f, "--size")) o.size = (int)parse_num(f, v);
    else if (!strcmp(f, "--max-seconds")) o.max_seconds = parse_num(f, v);
    else if (!strcmp(f, "--threads")) o.threads = (int)parse_num(f, v);
    else die("unknown flag %s", f);
  }
  if (o.conns < 1 || o.threads < 1 || o.size < 1 || o.rate <= 0) die("--conns, --threads, --size, --rate must be > 0");
  raise_nofile();
  for (size_t m = 0; m < sizeof MODES / sizeof MODES[0]; m++) {
    if (strcmp(argv[1], MODES[m].name)) continue;
    if (MODES[m].needs_target && !o.has_target) die("%s: --target IP:PORT is required", argv[1]);
    if (!MODES[m].needs_target && !o.has_listen) die("%s: --listen IP:PORT is required", argv[1]);
    return MODES[m].run(&o);
  }
  die("unknown mode \"%s\"", argv[1]);
}
