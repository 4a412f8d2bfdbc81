package org.rtarget.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * An address range from an ACL's {@code addresses}: "192.0.2.0/24", "2001:db8::/32", or a
 * single address. Host bits after the prefix are ignored, as most tools do.
 */
public record Cidr(InetAddress network, int prefixLength) {

    /** @throws IllegalArgumentException with a message fit for an operator */
    public static Cidr parse(String text) {
        int slash = text.indexOf('/');
        String address = slash < 0 ? text : text.substring(0, slash);
        byte[] bytes = address.contains(":") ? IpAddresses.parseIpv6(address) : IpAddresses.parseIpv4(address);
        if (bytes == null) {
            throw new IllegalArgumentException(
                    "\"" + text + "\" is not an address or CIDR (e.g. 192.0.2.0/24 or 2001:db8::/32)");
        }
        int maxPrefix = bytes.length * 8;
        int prefix = maxPrefix;
        if (slash >= 0) {
            String digits = text.substring(slash + 1);
            if (digits.isEmpty() || digits.length() > 3 || !digits.chars().allMatch(IpAddresses::isDigit)
                    || Integer.parseInt(digits) > maxPrefix) {
                throw new IllegalArgumentException(
                        "\"" + text + "\": the prefix length must be 0.." + maxPrefix);
            }
            prefix = Integer.parseInt(digits);
        }
        try {
            return new Cidr(InetAddress.getByAddress(bytes), prefix);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("4 or 16 bytes are always an address", e);
        }
    }

    public boolean contains(InetAddress address) {
        byte[] range = network.getAddress();
        byte[] candidate = address.getAddress();
        if (range.length != candidate.length) {
            return false;
        }
        int fullBytes = prefixLength / 8;
        if (!Arrays.equals(range, 0, fullBytes, candidate, 0, fullBytes)) {
            return false;
        }
        int restBits = prefixLength % 8;
        if (restBits == 0) {
            return true;
        }
        int mask = 0xff << (8 - restBits) & 0xff;
        return (range[fullBytes] & mask) == (candidate[fullBytes] & mask);
    }

    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefixLength;
    }
}
