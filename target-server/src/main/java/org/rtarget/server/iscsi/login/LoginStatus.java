package org.rtarget.server.iscsi.login;

/** Login response status class and detail (RFC 7143 11.13.5), as one 16-bit value. */
public enum LoginStatus {
    SUCCESS(0x0000, "success"),
    INITIATOR_ERROR(0x0200, "initiator error"),
    AUTHENTICATION_FAILURE(0x0201, "authentication failure"),
    AUTHORIZATION_FAILURE(0x0202, "authorization failure"),
    NOT_FOUND(0x0203, "target not found"),
    TARGET_REMOVED(0x0204, "target removed"),
    UNSUPPORTED_VERSION(0x0205, "unsupported version"),
    TOO_MANY_CONNECTIONS(0x0206, "too many connections"),
    MISSING_PARAMETER(0x0207, "missing parameter"),
    CANNOT_INCLUDE_IN_SESSION(0x0208, "cannot include in session"),
    SESSION_TYPE_NOT_SUPPORTED(0x0209, "session type not supported"),
    SESSION_DOES_NOT_EXIST(0x020A, "session does not exist"),
    INVALID_DURING_LOGIN(0x020B, "invalid request during login"),
    TARGET_ERROR(0x0300, "target error"),
    SERVICE_UNAVAILABLE(0x0301, "service unavailable"),
    OUT_OF_RESOURCES(0x0302, "out of resources");

    private final int code;
    private final String text;

    LoginStatus(int code, String text) {
        this.code = code;
        this.text = text;
    }

    public int statusClass() {
        return code >>> 8;
    }

    public int detail() {
        return code & 0xFF;
    }

    public String text() {
        return text;
    }

    @Override
    public String toString() {
        return String.format("0x%04x %s", code, text);
    }
}
