/* rng.h - small deterministic PRNG (splitmix64-seeded xoshiro256**) for the synthetic workload.
 * rand() is avoided on purpose: its sequence differs between libcs and it has hidden global state. */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>

struct rng {
  uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
double rng_unit(struct rng *r);                     /* uniform in [0, 1) */
double rng_uniform(struct rng *r, double lo, double hi); /* uniform in [lo, hi) */
int rng_int(struct rng *r, int lo, int hi);          /* uniform integer in [lo, hi] */
int rng_chance(struct rng *r, double p);             /* 1 with probability p */
int rng_poisson(struct rng *r, double lambda);       /* Knuth's method; fine for the small lambdas used here */
double rng_normal(struct rng *r);                    /* standard normal (Box-Muller) */
double rng_lognormal(struct rng *r, double median, double sigma);
/* Index picked with probability weights[i] / sum(weights). */
int rng_weighted(struct rng *r, const double *weights, int n);

#endif
