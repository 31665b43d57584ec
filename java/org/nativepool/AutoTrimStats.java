package org.nativepool;

import java.time.Duration;

/**
 * What a pool's automatic trim ({@link PoolBuilder#autoTrim(Duration)}) has
 * given back so far, from {@link Pool#autoTrimStats()}.
 *
 * @param idleTime how long free memory must stay unused before it goes back; {@link Duration#ZERO}
 *     for a pool without automatic trim
 * @param trims the trims that gave memory back
 * @param bytesReturned the bytes those trims gave back to the backend
 */
public record AutoTrimStats(Duration idleTime, long trims, long bytesReturned) {
}
