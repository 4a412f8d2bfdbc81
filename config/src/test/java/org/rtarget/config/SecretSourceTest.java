package org.rtarget.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretSourceTest {

    @Test
    void inlineSecretIsNeverPrinted() throws ConfigException {
        SecretSource secret = new SecretSource.Inline("hunter2-hunter2");
        assertThat(secret.resolve()).isEqualTo("hunter2-hunter2");
        assertThat(secret.toString()).doesNotContain("hunter2");
        assertThat(new ChapCredentials("alice", secret).toString()).doesNotContain("hunter2");
        assertThat(new AuthConfig(new ChapCredentials("alice", secret), null).toString()).doesNotContain("hunter2");
    }

    @Test
    void secretFileLosesItsTrailingNewlineOnly(@TempDir Path dir) throws IOException, ConfigException {
        Path file = Files.writeString(dir.resolve("alice"), "  s3cret with spaces \r\n");
        assertThat(new SecretSource.FromFile(file).resolve()).isEqualTo("  s3cret with spaces ");
    }

    @Test
    void secretFileProblems(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> new SecretSource.FromFile(missing).resolve())
                .isInstanceOf(ConfigException.class)
                .hasMessage(missing + ":1:1: secret-file: no such file");
        Path empty = Files.writeString(dir.resolve("empty"), "\n");
        assertThatThrownBy(() -> new SecretSource.FromFile(empty).resolve())
                .hasMessage(empty + ":1:1: secret-file: is empty");
    }

    @Test
    void secretFromEnvironment() throws ConfigException {
        // PATH is set wherever tests run; an unset name is made up to be unlikely
        assertThat(new SecretSource.FromEnv("PATH").resolve()).isEqualTo(System.getenv("PATH"));
        assertThatThrownBy(() -> new SecretSource.FromEnv("RTARGET_TEST_UNSET_7f3a").resolve())
                .hasMessage("(environment):1:1: secret-env: variable RTARGET_TEST_UNSET_7f3a is not set");
    }

    @Test
    void loaderResolvesSecretFilesAgainstTheConfigDirectory(@TempDir Path dir) throws IOException, ConfigException {
        Files.createDirectories(dir.resolve("secrets"));
        Files.writeString(dir.resolve("secrets/alice"), "alice-secret-1\n");
        Path file = Files.writeString(dir.resolve("targets.yaml"), """
                targets:
                  - iqn: iqn.2026-11.org.example:a
                    auth:
                      chap: {user: alice, secret-file: secrets/alice}
                      mutual: {user: target, secret-env: TARGET_SECRET}
                """);
        AuthConfig auth = ConfigLoader.load(file).targets().getFirst().auth();
        assertThat(auth.chap().secret().resolve()).isEqualTo("alice-secret-1");
        assertThat(auth.mutual().secret()).isEqualTo(new SecretSource.FromEnv("TARGET_SECRET"));
    }
}
