/*
 * bench_fleet.h: what bench_fleet.c and bench_floor.c share.
 */
#ifndef VSM_BENCH_FLEET_H
#define VSM_BENCH_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct floor_result {
	uint64_t *at; /* ms from the first task out to each result in */
	size_t    n;
	uint64_t  server_rss_kib;
};

/*
 * The bare nng floor for n sockets (bench_floor.c): a server child, n
 * REQ clients here. 0 with *out filled (free out->at), or -1 with err.
 */
int bench_floor_run(unsigned n, struct floor_result *out, struct vsm_err *err);
/* `vsm-bench fleet`: the subcommand (bench_fleet.c). */
int bench_fleet(int argc, char **argv, struct vsm_err *err);
/* `vsm-bench floor-serve URL N`: the floor's server side. */
int bench_floor_serve(int argc, char **argv, struct vsm_err *err);
/*
 * The file limit the fleet and the floor ask bp_raise_limit for: as much
 * as the hard limit allows (1 << 20 is Linux's default fs.nr_open).
 */
#define BENCH_NOFILE_WANT (1UL << 20)

#endif /* VSM_BENCH_FLEET_H */
