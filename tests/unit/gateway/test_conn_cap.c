#include <criterion/criterion.h>
#include <stdint.h>

#include "gateway/gw.h"

Test(conn_cap, configured_total_shared_by_the_workers_rounded_up)
{
    cr_assert_eq(sl_gw_conns_per_worker(3, 1024, 1), 3);
    cr_assert_eq(sl_gw_conns_per_worker(10, 1024, 4), 3); /* 10 / 4 rounded up: 12 in all */
    cr_assert_eq(sl_gw_conns_per_worker(8, 1024, 4), 2);
    cr_assert_eq(sl_gw_conns_per_worker(1, 1024, 8), 1);            /* never 0, which would mean no cap */
    cr_assert_eq(sl_gw_conns_per_worker(10000000, 0, 1), 10000000); /* a configured total needs no limit */
}

Test(conn_cap, auto_shares_half_the_open_files_limit)
{
    cr_assert_eq(sl_gw_conns_per_worker(0, 1024, 1), 512);
    cr_assert_eq(sl_gw_conns_per_worker(0, 1024, 2), 256);
    cr_assert_eq(sl_gw_conns_per_worker(0, 1048576, 3), 174763);               /* 524288 / 3 rounded up */
    cr_assert_eq(sl_gw_conns_per_worker(0, 1, 1), 0);                          /* half of 1 is 0: no cap */
    cr_assert_eq(sl_gw_conns_per_worker(0, 0, 2), 0);                          /* an unlimited limit: no cap */
    cr_assert_eq(sl_gw_conns_per_worker(0, (uint64_t)1 << 40, 1), UINT32_MAX); /* clamped */
    cr_assert_eq(sl_gw_conns_per_worker(5, 1024, 0), 0);
}
