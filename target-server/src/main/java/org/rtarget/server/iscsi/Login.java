package org.rtarget.server.iscsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.util.HashSet;
import java.util.Set;
import java.util.function.IntPredicate;
import org.rtarget.config.AclEntry;
import org.rtarget.config.AuthConfig;
import org.rtarget.server.iscsi.login.LoginException;
import org.rtarget.server.iscsi.login.LoginStatus;
import org.rtarget.server.iscsi.login.Negotiator;
import org.rtarget.server.iscsi.login.SessionParams;
import org.rtarget.server.iscsi.login.TextKeys;
import org.rtarget.server.iscsi.pdu.Pdu;

/**
 * The login phase of one connection (RFC 7143 6.3): the security stage, operational negotiation,
 * and the transition to full feature phase. It decides what to answer; the connection sends it.
 */
final class Login {
    static final int STAGE_SECURITY = 0;
    static final int STAGE_OPERATIONAL = 1;
    static final int STAGE_FULL_FEATURE = 3;
    private static final int FLAG_TRANSIT = 0x80;
    private static final int FLAG_CONTINUE = 0x40;
    /** Login PDUs are bounded by the RFC default MaxRecvDataSegmentLength; allow a few of them. */
    private static final int MAX_TEXT = 64 * 1024;
    /** The initiator's MaxRecvDataSegmentLength during login (the RFC default): one login response's text. */
    private static final int MAX_RESPONSE_TEXT = 8192;

    /** What to send back for one login request. */
    record Reply(int flags, int itt, TextKeys keys, LoginStatus status, boolean done) {
    }

    private final TargetDirectory directory;
    private final InetAddress peerAddress;
    private final Negotiator negotiator;
    private boolean first = true;
    private long isid;
    private int tsih;
    private int cid;
    private int firstCmdSn;
    private int firstExpStatSn;
    private String initiatorName;
    private String initiatorAlias;
    private IscsiTarget target;
    private boolean discovery;
    private String realm;
    private Authenticator authenticator;
    private boolean authenticated;
    private IntPredicate visibleLuns = lun -> true;
    private ByteBuf partialText;
    /** Every key the initiator sent in this login, and every key the target answered or declared. */
    private final Set<String> keysSeen = new HashSet<>();
    private final Set<String> keysAnswered = new HashSet<>();

    /** @param peerAddress where the initiator connects from (for ACL address ranges); null if unknown */
    Login(TargetDirectory directory, int targetMaxRecvDataSegmentLength, InetAddress peerAddress) {
        this.directory = directory;
        this.peerAddress = peerAddress;
        this.negotiator = new Negotiator(targetMaxRecvDataSegmentLength, "CRC32C,None");
    }

    /** Handles one Login Request. A LoginException ends the login with its status. */
    Reply step(Pdu pdu) throws LoginException {
        int flags = pdu.flags();
        boolean transit = (flags & FLAG_TRANSIT) != 0;
        boolean more = (flags & FLAG_CONTINUE) != 0;
        int csg = (flags >>> 2) & 3;
        int nsg = flags & 3;
        if (transit && more) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR, "login request with both T and C bits");
        }
        if (first) {
            isid = pdu.isid();
            tsih = pdu.tsih();
            cid = pdu.word20() >>> 16;
            firstCmdSn = pdu.cmdSn();
            firstExpStatSn = pdu.expStatSn();
            if (pdu.byte3() > 0) {
                throw new LoginException(LoginStatus.UNSUPPORTED_VERSION,
                        "initiator needs iSCSI version " + pdu.byte3() + ", this target speaks version 0");
            }
        } else if (pdu.isid() != isid || pdu.tsih() != tsih) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR, "ISID or TSIH changed during login");
        }
        TextKeys keys = collectText(pdu, more);
        if (keys == null) { // more text follows: acknowledge with an empty response
            return new Reply(csg << 2, pdu.initiatorTaskTag(), TextKeys.empty(), LoginStatus.SUCCESS, false);
        }
        for (TextKeys.Pair pair : keys.pairs()) {
            // RFC 7143 6.1: no key may be declared or negotiated twice in a login (the answers would
            // contradict each other); the target MUST reject the login with an initiator error.
            if (!keysSeen.add(pair.key())) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "key " + pair.key() + " sent more than once");
            }
        }
        TextKeys response = TextKeys.empty();
        if (first) {
            identify(keys, response);
            first = false;
        }
        switch (csg) {
            case STAGE_SECURITY -> {
                authenticated = authenticator.step(keys, response);
                negotiator.negotiate(keys, response);
                if (transit && nsg != STAGE_OPERATIONAL && nsg != STAGE_FULL_FEATURE) {
                    throw new LoginException(LoginStatus.INITIATOR_ERROR, "invalid next stage " + nsg);
                }
                transit &= authenticated;
            }
            case STAGE_OPERATIONAL -> {
                if (authenticator.required() && !authenticated) {
                    throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE,
                            realm + " requires CHAP; the initiator skipped the security stage");
                }
                authenticated = true;
                if (keys.contains("AuthMethod")) {
                    response.add("AuthMethod", "Irrelevant");
                }
                negotiator.negotiate(keys, response);
                negotiator.declareMaxRecvDataSegmentLength(response);
                if (transit && nsg != STAGE_FULL_FEATURE) {
                    throw new LoginException(LoginStatus.INITIATOR_ERROR, "invalid next stage " + nsg);
                }
            }
            default -> throw new LoginException(LoginStatus.INITIATOR_ERROR, "invalid current stage " + csg);
        }
        for (TextKeys.Pair pair : response.pairs()) {
            // A target-only key or an unusable MaxRecvDataSegmentLength from the initiator would be
            // answered under the name of the target's own declaration: one key, two values.
            if (!keysAnswered.add(pair.key()) && !pair.key().equals("TargetAddress")) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "the initiator's " + pair.key()
                        + " collides with the target's own declaration");
            }
        }
        if (response.encodedLength() > MAX_RESPONSE_TEXT) {
            // Each unknown key is answered: a request full of them would make an answer longer than
            // the initiator may receive in one login response (RFC 7143: 8192 bytes during login).
            throw new LoginException(LoginStatus.INITIATOR_ERROR, "the answers to " + keys.pairs().size()
                    + " keys would take " + response.encodedLength() + " bytes, more than one login response holds");
        }
        int replyFlags = (transit ? FLAG_TRANSIT | nsg : 0) | csg << 2;
        boolean done = transit && nsg == STAGE_FULL_FEATURE;
        return new Reply(replyFlags, pdu.initiatorTaskTag(), response, LoginStatus.SUCCESS, done);
    }

    /** The first request names initiator, session type and target; check them. */
    private void identify(TextKeys keys, TextKeys response) throws LoginException {
        initiatorName = keys.get("InitiatorName");
        if (initiatorName == null || initiatorName.isEmpty()) {
            throw new LoginException(LoginStatus.MISSING_PARAMETER, "login without InitiatorName");
        }
        initiatorAlias = keys.get("InitiatorAlias");
        String type = keys.get("SessionType");
        if (type == null || type.equals("Normal")) {
            discovery = false;
        } else if (type.equals("Discovery")) {
            discovery = true;
        } else {
            throw new LoginException(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, "SessionType=" + type);
        }
        if (tsih != 0) {
            throw new LoginException(LoginStatus.SESSION_DOES_NOT_EXIST,
                    "login adds a connection to session " + tsih + "; this target allows one connection per session");
        }
        if (discovery) {
            realm = "discovery";
            authenticator = authenticator(directory.discoveryAuth(), realm);
            return;
        }
        String targetName = keys.get("TargetName");
        if (targetName == null || targetName.isEmpty()) {
            throw new LoginException(LoginStatus.MISSING_PARAMETER, "normal session login without TargetName");
        }
        target = directory.find(targetName);
        if (target == null) {
            throw new LoginException(LoginStatus.NOT_FOUND, "no target named " + targetName);
        }
        authorize();
        realm = "target " + target.iqn();
        authenticator = authenticator(target.auth(), realm);
        response.add("TargetPortalGroupTag", Integer.toString(TargetDirectory.PORTAL_GROUP_TAG));
        if (target.alias() != null) {
            response.add("TargetAlias", target.alias());
        }
    }

    /** The target's ACL: refused initiators get 0x0202 (RFC 7143 11.13.5), before any authentication. */
    private void authorize() throws LoginException {
        AclEntry entry = target.acl().entryFor(initiatorName);
        if (entry == null) {
            throw new LoginException(LoginStatus.AUTHORIZATION_FAILURE,
                    "initiator " + initiatorName + " is not in the acl of target " + target.iqn());
        }
        if (!Acl.allowsAddress(entry, peerAddress)) {
            throw new LoginException(LoginStatus.AUTHORIZATION_FAILURE, "initiator " + initiatorName
                    + " may not log in to target " + target.iqn() + " from "
                    + (peerAddress == null ? "an unknown address" : peerAddress.getHostAddress()));
        }
        visibleLuns = entry::allowsLun;
    }

    private static Authenticator authenticator(AuthConfig auth, String realm) {
        return auth == null ? new NoAuthentication() : new ChapAuthenticator(realm, auth);
    }

    /** Joins text split over PDUs with the C bit; null while more is to come. */
    private TextKeys collectText(Pdu pdu, boolean more) throws LoginException {
        ByteBuf data = pdu.data();
        if (partialText == null && !more) {
            return parse(data);
        }
        if (partialText == null) {
            partialText = Unpooled.buffer();
        }
        if (partialText.readableBytes() + data.readableBytes() > MAX_TEXT) {
            throw new LoginException(LoginStatus.OUT_OF_RESOURCES, "login text longer than " + MAX_TEXT + " bytes");
        }
        partialText.writeBytes(data);
        if (more) {
            return null;
        }
        try {
            return parse(partialText);
        } finally {
            partialText = null;
        }
    }

    private static TextKeys parse(ByteBuf data) throws LoginException {
        try {
            return TextKeys.parse(data);
        } catch (IllegalArgumentException e) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR, e.getMessage());
        }
    }

    SessionParams params() {
        return negotiator.params();
    }

    long isid() {
        return isid;
    }

    int tsih() {
        return tsih;
    }

    int cid() {
        return cid;
    }

    int firstCmdSn() {
        return firstCmdSn;
    }

    int firstExpStatSn() {
        return firstExpStatSn;
    }

    boolean started() {
        return !first;
    }

    String initiatorName() {
        return initiatorName;
    }

    String initiatorAlias() {
        return initiatorAlias;
    }

    /** The target logged in to, or null for discovery. */
    IscsiTarget target() {
        return target;
    }

    boolean discovery() {
        return discovery;
    }

    /** The LUNs of the target this initiator may see (its ACL entry's mask). */
    IntPredicate visibleLuns() {
        return visibleLuns;
    }

    /** How the initiator was authenticated, for the log. */
    String authMethod() {
        return authenticator == null ? "None" : authenticator.method();
    }
}
