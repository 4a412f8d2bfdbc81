package org.rtarget.gate;

/**
 * The global standby check key: one per server, on when the server starts (SCST switches its static
 * key on at module init). With it off, no gate acts on anything.
 */
public final class StandbyKey {
    private volatile boolean on;

    public StandbyKey(boolean on) {
        this.on = on;
    }

    public boolean on() {
        return on;
    }

    public void set(boolean on) {
        this.on = on;
    }
}
