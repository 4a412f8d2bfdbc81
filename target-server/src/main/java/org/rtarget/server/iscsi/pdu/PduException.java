package org.rtarget.server.iscsi.pdu;

import io.netty.handler.codec.DecoderException;

/** A malformed or forbidden PDU: the connection it came on is closed, nothing else is affected. */
public final class PduException extends DecoderException {
    public PduException(String message) {
        super(message, null);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // an expected condition, reported in one log line
    }
}
