package org.rtarget.backend.memory;

import java.util.concurrent.atomic.AtomicInteger;
import org.rtarget.backend.IoFailure;

/**
 * Failures armed by a test to be reported by the next operations. Costs one volatile read per
 * operation while nothing is armed.
 */
final class InjectedFailures {

    /** What is armed; replaced as a whole so a failure never pairs with another arming's count. */
    private record Armed(IoFailure failure, AtomicInteger remaining) {
    }

    private volatile Armed armed;

    /** The next {@code count} operations fail; a negative count means until {@link #clear()}. */
    void arm(IoFailure failure, int count) {
        armed = count == 0 ? null : new Armed(failure, new AtomicInteger(count));
    }

    void clear() {
        armed = null;
    }

    /** The failure this operation must report, or null when it should run. */
    IoFailure next() {
        Armed a = armed;
        if (a == null) {
            return null;
        }
        AtomicInteger remaining = a.remaining();
        while (true) {
            int n = remaining.get();
            if (n < 0) {
                return a.failure();
            }
            if (n == 0) {
                return null;
            }
            if (remaining.compareAndSet(n, n - 1)) {
                return a.failure();
            }
        }
    }
}
