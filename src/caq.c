/*
 * caq.c - process CPU time and the CAQ figure (spec/adaptive.md "CAQ"):
 * CAQ = compression ratio / (cpu_seconds + 1).
 */
#include <math.h>
#include <time.h>

#include "adaptive.h"

double alcm_cpu_seconds(void) {
  /* Process CPU time (all threads), not wall time: the figure is meant to
   * measure work, and must not reward a machine for being idle. */
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double alcm_caq(double ratio, double cpu_seconds) {
  if (!isfinite(ratio) || !isfinite(cpu_seconds) || ratio < 0 ||
      cpu_seconds < 0)
    return 0.0;
  return ratio / (cpu_seconds + 1.0);
}
