/* The watchdog's limits (guard.h): a fixed --watchdog wins; the automatic limit is
 * max(60 s, 20 x the median step), at least a slow phase's floor, and before the first step has
 * been timed at least the slow phases' floor for every phase. No phase here runs long enough to
 * fire it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nndist/guard.h"

static void test_first_step_gets_the_slow_floor(void **state)
{
    (void)state;
    assert_int_equal(nnd_guard_watchdog_start(0, 0.0), NND_OK);
    nnd_guard_phase("computing a step", 0.0);
    assert_true(nnd_guard_limit() == NND_GUARD_SLOW_FLOOR_S);
    nnd_guard_step_time(0.5);
    assert_true(nnd_guard_limit() == 60.0);
    for (int i = 0; i < 4; i++) nnd_guard_step_time(10.0);
    assert_true(nnd_guard_limit() == 200.0); /* 20 x the median 10 s */
    nnd_guard_phase("writing a checkpoint", NND_GUARD_SLOW_FLOOR_S);
    assert_true(nnd_guard_limit() == NND_GUARD_SLOW_FLOOR_S);
    nnd_guard_idle();
    nnd_guard_watchdog_stop();
}

static void test_fixed_limit(void **state)
{
    (void)state;
    assert_int_equal(nnd_guard_watchdog_start(0, 7.0), NND_OK);
    nnd_guard_phase("computing a step", 0.0);
    assert_true(nnd_guard_limit() == 7.0); /* the user's limit, even for the first step */
    nnd_guard_phase("loading data", NND_GUARD_SLOW_FLOOR_S);
    assert_true(nnd_guard_limit() == 7.0);
    nnd_guard_idle();
    nnd_guard_watchdog_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_step_gets_the_slow_floor),
        cmocka_unit_test(test_fixed_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
