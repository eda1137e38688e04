/* rng.c - see rng.h. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(struct rng *r, uint64_t seed) {
  /* splitmix64 spreads any seed (even 0) over the whole state, which xoshiro requires to be non-zero. */
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t rng_next(struct rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_uniform(struct rng *r, double lo, double hi) { return lo + (hi - lo) * rng_unit(r); }

int rng_int(struct rng *r, int lo, int hi) {
  uint64_t span = (uint64_t)((int64_t)hi - (int64_t)lo) + 1;
  return lo + (int)(rng_next(r) % span); /* modulo bias is irrelevant for spans this small */
}

int rng_chance(struct rng *r, double p) { return rng_unit(r) < p; }

int rng_poisson(struct rng *r, double lambda) {
  double limit = exp(-lambda);
  double prod = rng_unit(r);
  int k = 0;
  while (prod > limit) {
    k++;
    prod *= rng_unit(r);
  }
  return k;
}

double rng_normal(struct rng *r) {
  double u1 = 1.0 - rng_unit(r); /* (0, 1]: log() must not see 0 */
  double u2 = rng_unit(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

double rng_lognormal(struct rng *r, double median, double sigma) { return median * exp(sigma * rng_normal(r)); }

int rng_weighted(struct rng *r, const double *weights, int n) {
  double total = 0;
  for (int i = 0; i < n; i++) total += weights[i];
  double x = rng_unit(r) * total;
  for (int i = 0; i < n; i++) {
    if (x < weights[i]) return i;
    x -= weights[i];
  }
  return n - 1;
}
