/* A static load generator small enough to run inside a busybox container, so it calls
 * aziot-edged's workload API as a process of a module (the caller check is real).
 * usage: workload-load SOCKET TARGET BODY THREADS SECONDS
 * Each thread keeps one keep-alive connection and posts BODY to TARGET in a loop.
 * Prints: "requests N errors E seconds S p50_us P p99_us Q". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 2000000
static const char* sock_path;
static char request[8192];
static size_t request_len;
static double end_time;
static unsigned* samples; /* microseconds */
static long n_samples, n_errors;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int connect_socket(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, sock_path, sizeof addr.sun_path - 1);
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Reads one response (head + Content-Length body); returns the status or -1. */
static int read_response(int fd) {
  char buf[16384];
  size_t have = 0;
  for (;;) {
    ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
    if (r <= 0) return -1;
    have += (size_t)r;
    buf[have] = 0;
    char* end = strstr(buf, "\r\n\r\n");
    if (!end) continue;
    char* cl = strcasestr(buf, "content-length:");
    size_t body = cl ? (size_t)atol(cl + 15) : 0;
    size_t total = (size_t)(end + 4 - buf) + body;
    while (have < total) {
      r = read(fd, buf + have, sizeof buf - 1 - have);
      if (r <= 0) return -1;
      have += (size_t)r;
    }
    return atoi(buf + 9);
  }
}

static void* worker(void* arg) {
  (void)arg;
  int fd = connect_socket();
  while (now() < end_time) {
    if (fd < 0 && (fd = connect_socket()) < 0) {
      pthread_mutex_lock(&lock);
      n_errors++;
      pthread_mutex_unlock(&lock);
      usleep(1000);
      continue;
    }
    double t0 = now();
    int status = write(fd, request, request_len) == (ssize_t)request_len ? read_response(fd) : -1;
    double us = (now() - t0) * 1e6;
    pthread_mutex_lock(&lock);
    if (status == 200 && n_samples < MAX_SAMPLES) samples[n_samples++] = (unsigned)us;
    else n_errors++;
    pthread_mutex_unlock(&lock);
    if (status < 0) {
      close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static int cmp(const void* a, const void* b) {
  unsigned x = *(const unsigned*)a, y = *(const unsigned*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s SOCKET TARGET BODY THREADS SECONDS\n", argv[0]);
    return 2;
  }
  sock_path = argv[1];
  int threads = atoi(argv[4]);
  double seconds = atof(argv[5]);
  request_len = (size_t)snprintf(request, sizeof request,
                                 "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\n\r\n%s",
                                 argv[2], strlen(argv[3]), argv[3]);
  samples = malloc(sizeof(unsigned) * MAX_SAMPLES);
  pthread_t t[64];
  if (threads < 1 || threads > 64) return 2;
  double start = now();
  end_time = start + seconds;
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, worker, NULL);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  double elapsed = now() - start;
  qsort(samples, (size_t)n_samples, sizeof(unsigned), cmp);
  unsigned p50 = n_samples ? samples[n_samples / 2] : 0;
  unsigned p99 = n_samples ? samples[(n_samples * 99) / 100] : 0;
  printf("requests %ld errors %ld seconds %.3f p50_us %u p99_us %u\n", n_samples, n_errors, elapsed, p50, p99);
  return 0;
}
