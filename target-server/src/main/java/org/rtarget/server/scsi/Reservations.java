package org.rtarget.server.scsi;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reservations of one logical unit: SPC-4 persistent reservations (registrations, the
 * reservation, PRgeneration) and the SPC-2 RESERVE(6)/(10) reservation, the rules that change them,
 * and the check every command passes.
 *
 * <p>A registration belongs to an initiator port (iqn plus ISID, as a string): it outlives the
 * session and still counts when the same port logs in again. An SPC-2 reservation belongs to one
 * I_T_L nexus and ends with it. Persist through power loss is not supported: all of this lives in
 * memory.
 *
 * <p>Commands of different sessions run on different event loops, so every read and change of the
 * state holds this object's lock; the per-command check first reads one volatile flag and needs
 * nothing more while the unit is not reserved.
 */
final class Reservations {
    /** Persistent reservation type codes (SPC-4, PERSISTENT RESERVE OUT TYPE field). */
    static final int WRITE_EXCLUSIVE = 0x1;
    static final int EXCLUSIVE_ACCESS = 0x3;
    static final int WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 0x5;
    static final int EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 0x6;
    static final int WRITE_EXCLUSIVE_ALL_REGISTRANTS = 0x7;
    static final int EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 0x8;

    /** More registrations than this are refused: each initiator port could add one per ISID. */
    static final int MAX_REGISTRATIONS = 4096;

    /** How a reservation command ends. */
    enum Outcome {
        GOOD(ScsiStatus.GOOD, null),
        CONFLICT(ScsiStatus.RESERVATION_CONFLICT, null),
        INVALID_RELEASE(ScsiStatus.CHECK_CONDITION, SenseCode.INVALID_RELEASE_OF_PERSISTENT_RESERVATION),
        /** A service action reservation key of zero where a registration must be named. */
        ZERO_KEY(ScsiStatus.CHECK_CONDITION, SenseCode.INVALID_FIELD_IN_PARAMETER_LIST),
        /** PREEMPT taking the reservation with a scope or type this unit does not have. */
        INVALID_TYPE(ScsiStatus.CHECK_CONDITION, SenseCode.INVALID_FIELD_IN_CDB),
        NO_RESOURCES(ScsiStatus.CHECK_CONDITION, SenseCode.INSUFFICIENT_REGISTRATION_RESOURCES);

        private final int status;
        private final SenseCode sense;

        Outcome(int status, SenseCode sense) {
            this.status = status;
            this.sense = sense;
        }

        void applyTo(ScsiCommand c) {
            if (sense == null) {
                c.statusOnly(status);
            } else {
                c.checkCondition(sense);
            }
        }
    }

    /** One registered initiator port and its reservation key. */
    record Registration(String initiatorPort, long key, int relativeTargetPort) {
    }

    /** A consistent copy of the persistent reservation state, for PERSISTENT RESERVE IN. */
    record Snapshot(int generation, List<Registration> registrations, int type, String holder) {
        boolean reserved() {
            return type != 0;
        }

        /** Whether this registrant holds the reservation (every registrant does for the all registrants types). */
        boolean holds(Registration r) {
            return type != 0 && (allRegistrants(type) || r.initiatorPort().equals(holder));
        }

        /** The key READ RESERVATION reports: the holder's, or zero for the all registrants types. */
        long reservationKey() {
            if (allRegistrants(type)) {
                return 0;
            }
            for (Registration r : registrations) {
                if (r.initiatorPort().equals(holder)) {
                    return r.key();
                }
            }
            return 0;
        }
    }

    private final LogicalUnit unit;
    /** True while a persistent or an SPC-2 reservation exists: the one read an unreserved unit costs. */
    private volatile boolean reserved;

    // Guarded by this.
    private final Map<String, Registration> registrations = new LinkedHashMap<>();
    private int generation;
    /** The persistent reservation's type, 0 for none. */
    private int type;
    /** The holder's initiator port; null for the all registrants types, where every registrant holds. */
    private String holder;
    private ItlNexus spc2Holder;

    Reservations(LogicalUnit unit) {
        this.unit = unit;
    }

    static boolean validType(int type) {
        return switch (type) {
            case WRITE_EXCLUSIVE, EXCLUSIVE_ACCESS, WRITE_EXCLUSIVE_REGISTRANTS_ONLY,
                 EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, WRITE_EXCLUSIVE_ALL_REGISTRANTS,
                 EXCLUSIVE_ACCESS_ALL_REGISTRANTS -> true;
            default -> false;
        };
    }

    static boolean allRegistrants(int type) {
        return type == WRITE_EXCLUSIVE_ALL_REGISTRANTS || type == EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
    }

    static boolean registrantsOnly(int type) {
        return type == WRITE_EXCLUSIVE_REGISTRANTS_ONLY || type == EXCLUSIVE_ACCESS_REGISTRANTS_ONLY;
    }

    // ----- the check on every command -----

    /** Whether the command must end in RESERVATION CONFLICT (its opcode row says what it conflicts with). */
    boolean conflicts(ScsiOp op, ScsiCommand c) {
        if (!reserved) {
            return false;
        }
        return conflictsWhileReserved(op.conflicts(c), c.itl);
    }

    private synchronized boolean conflictsWhileReserved(int mask, ItlNexus nexus) {
        if (spc2Holder != null) {
            return (mask & Conflicts.SPC2_ANY) != 0 || (spc2Holder != nexus && (mask & Conflicts.SPC2_OTHER) != 0);
        }
        if (type == 0) {
            return false;
        }
        String port = nexus.initiatorPort();
        if (holds(port)) {
            return false;
        }
        boolean registered = registrations.containsKey(port);
        int situation = switch (type) {
            case WRITE_EXCLUSIVE -> Conflicts.WRITE_EXCLUSIVE;
            case EXCLUSIVE_ACCESS -> Conflicts.EXCLUSIVE_ACCESS;
            case WRITE_EXCLUSIVE_REGISTRANTS_ONLY, WRITE_EXCLUSIVE_ALL_REGISTRANTS ->
                    registered ? 0 : Conflicts.WRITE_EXCLUSIVE_UNREGISTERED;
            default -> registered ? 0 : Conflicts.EXCLUSIVE_ACCESS_UNREGISTERED;
        };
        return (mask & situation) != 0;
    }

    // ----- PERSISTENT RESERVE OUT -----

    /**
     * REGISTER (with {@code ignoreExistingKey}: REGISTER AND IGNORE EXISTING KEY): registers,
     * changes or (with a new key of zero) removes the sender's registration.
     */
    synchronized Outcome register(ItlNexus nexus, long key, long newKey, boolean ignoreExistingKey) {
        String port = nexus.initiatorPort();
        Registration current = registrations.get(port);
        // An unregistered I_T nexus must send a reservation key of zero.
        if (!ignoreExistingKey && key != (current == null ? 0 : current.key())) {
            return Outcome.CONFLICT;
        }
        if (newKey == 0) {
            if (current != null) {
                unregister(port);
            }
            return Outcome.GOOD;
        }
        if (current == null && registrations.size() >= MAX_REGISTRATIONS) {
            return Outcome.NO_RESOURCES;
        }
        registrations.put(port, new Registration(port, newKey, nexus.it().relativeTargetPort()));
        generation++;
        return Outcome.GOOD;
    }

    synchronized Outcome reserve(ItlNexus nexus, long key, int newType) {
        String port = nexus.initiatorPort();
        if (!registeredWith(port, key)) {
            return Outcome.CONFLICT;
        }
        if (type != 0) {
            // Reserving again what one already holds is fine; anything else is taken.
            return holds(port) && type == newType ? Outcome.GOOD : Outcome.CONFLICT;
        }
        type = newType;
        holder = allRegistrants(newType) ? null : port;
        updateReserved();
        return Outcome.GOOD;
    }

    synchronized Outcome release(ItlNexus nexus, long key, int releasedType) {
        String port = nexus.initiatorPort();
        if (!registeredWith(port, key)) {
            return Outcome.CONFLICT;
        }
        if (type == 0 || !holds(port)) {
            return Outcome.GOOD; // nothing of the sender's to release
        }
        if (releasedType != type) {
            return Outcome.INVALID_RELEASE;
        }
        boolean shared = registrantsOnly(type) || allRegistrants(type);
        endReservation();
        if (shared) {
            notifyRegistrants(SenseCode.RESERVATIONS_RELEASED, port);
        }
        return Outcome.GOOD;
    }

    /** CLEAR: removes the reservation and every registration. */
    synchronized Outcome clear(ItlNexus nexus, long key) {
        String port = nexus.initiatorPort();
        if (!registeredWith(port, key)) {
            return Outcome.CONFLICT;
        }
        notifyRegistrants(SenseCode.RESERVATIONS_PREEMPTED, port);
        registrations.clear();
        generation++;
        endReservation();
        return Outcome.GOOD;
    }

    /**
     * PREEMPT (and PREEMPT AND ABORT, whose aborting of tasks is the transport's part): takes the
     * reservation from its holder, or only removes the registrations with {@code victimKey}, as
     * SPC-4's "preempting" subclauses say.
     */
    synchronized Outcome preempt(ItlNexus nexus, long key, long victimKey, int newType) {
        String port = nexus.initiatorPort();
        if (!registeredWith(port, key)) {
            return Outcome.CONFLICT;
        }
        boolean takesReservation = type != 0
                && (allRegistrants(type) ? victimKey == 0 : victimKey == registrations.get(holder).key());
        if (!takesReservation) {
            if (victimKey == 0) {
                return Outcome.ZERO_KEY;
            }
            List<String> removed = removeRegistrations(victimKey, null);
            if (removed.isEmpty()) {
                return Outcome.CONFLICT;
            }
            generation++;
            if (allRegistrants(type) && registrations.isEmpty()) {
                endReservation();
            }
            notifyPorts(SenseCode.REGISTRATIONS_PREEMPTED, removed, port);
            return Outcome.GOOD;
        }
        if (!validType(newType)) {
            return Outcome.INVALID_TYPE;
        }
        int oldType = type;
        // All registrants: every other registration goes; otherwise those with the holder's key.
        List<String> removed = removeRegistrations(allRegistrants(type) ? 0 : victimKey, port);
        type = newType;
        holder = allRegistrants(newType) ? null : port;
        generation++;
        updateReserved();
        notifyPorts(SenseCode.REGISTRATIONS_PREEMPTED, removed, port);
        if (oldType != newType) {
            notifyRegistrants(SenseCode.RESERVATIONS_RELEASED, port);
        }
        return Outcome.GOOD;
    }

    // ----- SPC-2 RESERVE and RELEASE -----

    /**
     * RESERVE(6)/(10). While persistent registrations exist, SPC-4's exceptions to SPC-2 RESERVE and
     * RELEASE behavior apply (we report CRH=1): GOOD without effect for a holder, or a registrant under a registrants only
     * reservation; RESERVATION CONFLICT for everyone else.
     */
    synchronized Outcome reserveSpc2(ItlNexus nexus) {
        if (!registrations.isEmpty()) {
            String port = nexus.initiatorPort();
            boolean harmless = holds(port) || (registrantsOnly(type) && registrations.containsKey(port));
            return harmless ? Outcome.GOOD : Outcome.CONFLICT;
        }
        if (spc2Holder != null && spc2Holder != nexus) {
            return Outcome.CONFLICT;
        }
        spc2Holder = nexus;
        updateReserved();
        return Outcome.GOOD;
    }

    /**
     * RELEASE(6)/(10): ends the sender's own SPC-2 reservation; from anyone else it does nothing. With
     * persistent registrations present, only a holder or registrant gets GOOD, and nothing changes.
     */
    synchronized Outcome releaseSpc2(ItlNexus nexus) {
        if (!registrations.isEmpty()) {
            // A holder is always registered too.
            return registrations.containsKey(nexus.initiatorPort()) ? Outcome.GOOD : Outcome.CONFLICT;
        }
        if (spc2Holder == nexus) {
            spc2Holder = null;
            updateReserved();
        }
        return Outcome.GOOD;
    }

    /** The nexus is gone (logout, lost connection): an SPC-2 reservation ends with it, registrations stay. */
    synchronized void nexusGone(ItlNexus nexus) {
        if (spc2Holder == nexus) {
            spc2Holder = null;
            updateReserved();
        }
    }

    /** A LUN or target reset: the SPC-2 reservation ends; persistent reservations survive resets. */
    synchronized void reset() {
        spc2Holder = null;
        updateReserved();
    }

    // ----- PERSISTENT RESERVE IN -----

    synchronized Snapshot snapshot() {
        return new Snapshot(generation, List.copyOf(registrations.values()), type, holder);
    }

    // ----- internals (callers hold the lock) -----

    private boolean registeredWith(String port, long key) {
        Registration r = registrations.get(port);
        return r != null && r.key() == key;
    }

    private boolean holds(String port) {
        return type != 0 && (allRegistrants(type) ? registrations.containsKey(port) : port.equals(holder));
    }

    private void unregister(String port) {
        registrations.remove(port);
        generation++;
        if (type == 0) {
            return;
        }
        if (allRegistrants(type)) {
            if (registrations.isEmpty()) {
                endReservation(); // the last holder left
            }
        } else if (port.equals(holder)) {
            boolean registrantsOnly = registrantsOnly(type);
            endReservation();
            if (registrantsOnly) {
                notifyRegistrants(SenseCode.RESERVATIONS_RELEASED, null);
            }
        }
    }

    /** Removes the registrations with this key (every one, for key 0), except {@code keep}'s; returns their ports. */
    private List<String> removeRegistrations(long key, String keep) {
        List<String> removed = new ArrayList<>();
        for (Iterator<Registration> it = registrations.values().iterator(); it.hasNext(); ) {
            Registration r = it.next();
            if ((key == 0 || r.key() == key) && !r.initiatorPort().equals(keep)) {
                removed.add(r.initiatorPort());
                it.remove();
            }
        }
        return removed;
    }

    private void endReservation() {
        type = 0;
        holder = null;
        updateReserved();
    }

    private void updateReserved() {
        reserved = type != 0 || spc2Holder != null;
    }

    private void notifyRegistrants(SenseCode code, String except) {
        notifyPorts(code, registrations.keySet(), except);
    }

    private void notifyPorts(SenseCode code, Iterable<String> ports, String except) {
        for (String port : ports) {
            if (!port.equals(except)) {
                unit.postUnitAttentionToPort(code, port);
            }
        }
    }
}
