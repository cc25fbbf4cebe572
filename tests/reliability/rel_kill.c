/*
 * rel_kill.c - kill test: SIGKILL alcm-pack at random moments while it
 * overwrites an existing archive; the target must always be the old or
 * the new archive, byte for byte, and verify.
 *
 *   rel_kill ALCM-PACK INPUT TRIALS [SEED]
 *
 * INPUT is a safetensors file of more than 8 KiB; a second input is made
 * from it by changing its last 4 KiB (tensor data, so it stays valid).
 * The two inputs are packed once each (reference archives). The target
 * starts as A's archive; each trial packs the other input over it with -f
 * and kills the process after a random delay drawn uniformly from
 * [0, 1.25 x the measured time of a full pack], so that some kills land
 * before the rename, some after, and a few runs finish. After each trial
 * the target must equal one of the two references and pass
 * alcm_reader_verify(); temporary files a killed pack leaves behind
 * (expected: SIGKILL runs no cleanup) are counted and removed.
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "rel_common.h"

static uint64_t rng_state;
static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static pid_t spawn_pack(const char *pack, const char *in, const char *out) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl(pack, pack, "-q", "-f", "--chunk-size", "65536", in, "-o", out,
          (char *)NULL);
    _exit(127);
  }
  return pid;
}

static int run_pack(const char *pack, const char *in, const char *out) {
  int st;
  const pid_t pid = spawn_pack(pack, in, out);
  return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
                 WEXITSTATUS(st) == 0
             ? 0
             : -1;
}

static int verifies(const char *path) {
  alcm_reader *r = alcm_reader_create(NULL);
  const int ok = alcm_reader_open(r, path) == ALCM_OK &&
                 alcm_reader_verify(r, 0) == ALCM_OK;
  alcm_reader_close(r);
  return ok;
}

/* Remove temp files of killed runs; @return how many there were. */
static int sweep_tmp(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  const struct dirent *e;
  char p[1024];
  while (d && (e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".alcmtmp.")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
      n++;
    }
  if (d) closedir(d);
  return n;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: rel_kill ALCM-PACK INPUT TRIALS [SEED]\n");
    return 64;
  }
  const char *pack = argv[1];
  const long trials = atol(argv[3]);
  rng_state = argc > 4 ? strtoull(argv[4], NULL, 10) : (uint64_t)time(NULL);
  const uint64_t seed = rng_state;
  char *dir = rel_tmpdir("kill");
  char other[600];
  size_t in_size = 0;
  uint8_t *in_bytes = rel_slurp(argv[2], &in_size);
  if (!in_bytes || in_size <= 8192) {
    fprintf(stderr, "%s: need a safetensors file of more than 8 KiB\n", argv[2]);
    return 2;
  }
  for (size_t i = in_size - 4096; i < in_size; i++) in_bytes[i] ^= 0x55;
  snprintf(other, sizeof other, "%s/other.safetensors", dir);
  if (rel_spit(other, in_bytes, in_size) != 0) return 2;
  free(in_bytes);
  const char *in[2] = {argv[2], other};
  char target[600], ref[2][600];
  uint8_t *refb[2];
  size_t refn[2];
  double full = 0;
  for (int k = 0; k < 2; k++) {
    snprintf(ref[k], sizeof ref[k], "%s/ref%d.alcm", dir, k);
    const double t0 = now();
    if (run_pack(pack, in[k], ref[k]) != 0 || !verifies(ref[k])) {
      fprintf(stderr, "cannot pack %s\n", in[k]);
      return 2;
    }
    full += (now() - t0) / 2;
    refb[k] = rel_slurp(ref[k], &refn[k]);
  }
  snprintf(target, sizeof target, "%s/target.alcm", dir);
  if (rel_spit(target, refb[0], refn[0]) != 0) return 2;
  const double window = full * 1.25;
  int cur = 0;
  long as_old = 0, as_new = 0, bad = 0, finished = 0, tmp_left = 0;
  for (long t = 0; t < trials; t++) {
    const int next = 1 - cur;
    const double delay = window * (double)(rng() >> 11) / 9007199254740992.0;
    const pid_t pid = spawn_pack(pack, in[next], target);
    const struct timespec ts = {(time_t)delay,
                                (long)((delay - (double)(time_t)delay) * 1e9)};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) finished++;
    tmp_left += sweep_tmp(dir);
    const int is_old = rel_same(target, refb[cur], refn[cur]);
    const int is_new = !is_old && rel_same(target, refb[next], refn[next]);
    if ((!is_old && !is_new) || !verifies(target)) {
      bad++;
      printf("  FAIL trial %ld (kill after %.1f ms): target is neither the old "
             "nor the new archive, or does not verify\n", t, delay * 1e3);
      rel_spit(target, refb[cur], refn[cur]);
      continue;
    }
    if (is_new) {
      as_new++;
      cur = next;
    } else {
      as_old++;
    }
  }
  printf("kill test: %ld trials (seed %llu, kill within %.1f ms, a full pack "
         "takes %.1f ms): %ld/%ld old-or-new and verified (old %ld, new %ld; "
         "%ld runs finished before the kill), %ld failed, %ld temp files left "
         "by killed runs\n",
         trials, (unsigned long long)seed, window * 1e3, full * 1e3,
         as_old + as_new, trials, as_old, as_new, finished, bad, tmp_left);
  sweep_tmp(dir);
  rel_rmtree(dir);
  free(dir);
  free(refb[0]);
  free(refb[1]);
  return bad != 0;
}
