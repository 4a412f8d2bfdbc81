package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The small value languages of the config: sizes, durations, host:port, CIDRs, iSCSI names. */
class ValueSyntaxTest {

    @ParameterizedTest
    @CsvSource({
            "512, 512",
            "64K, 65536",
            "64k, 65536",
            "256M, 268435456",
            "1G, 1073741824",
            "1GiB, 1073741824",
            "1gb, 1073741824",
            "1.5G, 1610612736",
            "2T, 2199023255552",
            "4096B, 4096",
            "0.5K, 512",
    })
    void sizes(String text, long bytes) {
        assertThat(Sizes.parse(text)).isEqualTo(bytes);
    }

    @ParameterizedTest
    @ValueSource(strings = {"12XB", "", "G", "-1G", "1P", "1iB", "1 GiBs", "1,5G"})
    void notSizes(String text) {
        assertThatThrownBy(() -> Sizes.parse(text)).hasMessage("\"" + text + "\" is not a size");
    }

    @Test
    void sizesThatAreNotWholeBytesOrTooLarge() {
        assertThatThrownBy(() -> Sizes.parse("1.3K")).hasMessage("\"1.3K\" is not a whole number of bytes");
        assertThatThrownBy(() -> Sizes.parse("0.1")).hasMessage("\"0.1\" is not a whole number of bytes");
        assertThatThrownBy(() -> Sizes.parse("9000000T")).hasMessage("\"9000000T\" is too large");
    }

    @ParameterizedTest
    @CsvSource({
            "1073741824, 1 GiB",
            "1610612736, 1536 MiB",
            "268435456, 256 MiB",
            "512, 512 bytes",
            "0, 0 bytes",
    })
    void formattedSizes(long bytes, String text) {
        assertThat(Sizes.format(bytes)).isEqualTo(text);
    }

    @ParameterizedTest
    @CsvSource({
            "60s, PT60S",
            "500ms, PT0.5S",
            "2m, PT2M",
            "1h, PT1H",
            "15, PT15S",
            "0, PT0S",
    })
    void durations(String text, Duration duration) {
        assertThat(Durations.parse(text)).isEqualTo(duration);
    }

    @ParameterizedTest
    @ValueSource(strings = {"soon", "1d", "-5s", "1.5s", "s", ""})
    void notDurations(String text) {
        assertThatThrownBy(() -> Durations.parse(text))
                .hasMessage("\"" + text + "\" is not a duration (e.g. 500ms, 60s, 2m, 1h)");
    }

    @Test
    void formattedDurationsReadBack() {
        for (String text : new String[] {"1h", "2m", "45s", "500ms", "0s"}) {
            assertThat(Durations.format(Durations.parse(text))).isEqualTo(text);
        }
        assertThat(Durations.format(Duration.ofSeconds(60))).isEqualTo("1m");
    }

    @ParameterizedTest
    @CsvSource({
            "127.0.0.1:3260, 127.0.0.1, 3260, 127.0.0.1:3260",
            "'[::]:3260', ::, 3260, '[::]:3260'",
            "'[::1]:3261', ::1, 3261, '[::1]:3261'",
            "localhost:3260, localhost, 3260, localhost:3260",
            "target.example.com, target.example.com, 9999, target.example.com:9999",
            "10.1.2.3, 10.1.2.3, 9999, 10.1.2.3:9999",
            "'[fe80::1%eth0]', fe80::1%eth0, 9999, '[fe80::1%eth0]:9999'",
            "0.0.0.0:0, 0.0.0.0, 0, 0.0.0.0:0",
    })
    void hostPorts(String text, String host, int port, String canonical) {
        HostPort parsed = HostPort.parse(text, 9999);
        assertThat(parsed).isEqualTo(new HostPort(host, port));
        assertThat(parsed).hasToString(canonical);
        assertThat(HostPort.parse(parsed.toString(), 1)).isEqualTo(parsed);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ":3260", "host:", "host:port", "[::1", "[::1]3260", "a b:1", "999.1.1.1:3260",
            "-bad-.example:1"})
    void notHostPorts(String text) {
        assertThatThrownBy(() -> HostPort.parse(text, 3260)).hasMessageContaining("is not a host:port");
    }

    @Test
    void hostPortMessagesSayWhatToDo() {
        assertThatThrownBy(() -> HostPort.parse("::1", 3260))
                .hasMessage("\"::1\": put an IPv6 address in brackets, as in \"[::1]:3260\"");
        assertThatThrownBy(() -> HostPort.parse("[::g]:3260", 3260)).hasMessage("\"::g\" is not an IPv6 address");
        assertThatThrownBy(() -> HostPort.parse("a:65536", 3260)).hasMessage("port 65536 is not in 0..65535");
    }

    @Test
    void cidrsMatchAddresses() throws UnknownHostException {
        Cidr lan = Cidr.parse("192.168.1.0/24");
        assertThat(lan.contains(InetAddress.getByName("192.168.1.77"))).isTrue();
        assertThat(lan.contains(InetAddress.getByName("192.168.2.77"))).isFalse();
        assertThat(lan.contains(InetAddress.getByName("::1"))).isFalse();

        Cidr odd = Cidr.parse("10.0.0.0/9");
        assertThat(odd.contains(InetAddress.getByName("10.127.255.255"))).isTrue();
        assertThat(odd.contains(InetAddress.getByName("10.128.0.0"))).isFalse();

        Cidr host = Cidr.parse("2001:db8::5");
        assertThat(host.prefixLength()).isEqualTo(128);
        assertThat(host.contains(InetAddress.getByName("2001:db8:0:0:0:0:0:5"))).isTrue();
        assertThat(host.contains(InetAddress.getByName("2001:db8::6"))).isFalse();

        Cidr v6 = Cidr.parse("2001:db8::/32");
        assertThat(v6.contains(InetAddress.getByName("2001:db8:ffff::1"))).isTrue();
        assertThat(v6.contains(InetAddress.getByName("2001:db9::1"))).isFalse();

        assertThat(Cidr.parse("::ffff:10.0.0.0/104").prefixLength()).isEqualTo(104);
        assertThat(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("8.8.8.8"))).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0", "10.0.0.0.0", "1.2.3.4/33", "::1/129", "1:2:3:4:5:6:7:8:9", "1::2::3",
            "host.example", "10.0.0.0/", "12345::"})
    void notCidrs(String text) {
        assertThatThrownBy(() -> Cidr.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("\"" + text + "\"");
    }

    @ParameterizedTest
    @ValueSource(strings = {"iqn.2026-11.org.example:store1", "iqn.1993-08.org.debian:01:host1",
            "iqn.1991-05.com.microsoft:host.domain", "iqn.2026-11.org.example", "eui.0123456789ABCDEF",
            "naa.0123456789abcdef", "naa.0123456789ABCDEF0123456789abcdef"})
    void iscsiNames(String name) {
        assertThat(IscsiNames.isValid(name)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"iqn.2026-11.org.Example:a", "iqn.2026-00.org.example", "iqn.2026-11", "iqn.2026-11.:a",
            "iqn.2026-11.org..example", "iqn.2026-11.org.example:", "iqn.2026-11.org.example:a b",
            "eui.0123456789ABCDEG", "naa.0123", "IQN.2026-11.org.example", "store1"})
    void notIscsiNames(String name) {
        assertThat(IscsiNames.isValid(name)).isFalse();
    }

    @Test
    void iscsiNamesHaveAtMost223Bytes() {
        String prefix = "iqn.2026-11.org.example:";
        assertThat(IscsiNames.isValid(prefix + "x".repeat(223 - prefix.length()))).isTrue();
        assertThat(IscsiNames.isValid(prefix + "x".repeat(224 - prefix.length()))).isFalse();
    }
}
