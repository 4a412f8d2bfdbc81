package org.rtarget.config;

import java.util.function.Function;
import java.util.function.Predicate;

/**
 * How to read one kind of scalar: the words for it in "expected ..." messages, and a parser
 * that throws {@link IllegalArgumentException} with an operator-facing message.
 */
record ScalarType<T>(String description, Function<String, T> parser) {

    T parse(String text) {
        return parser.apply(text);
    }

    /** The same type with one more rule, e.g. a range. */
    ScalarType<T> require(Predicate<T> rule, Function<T, String> message) {
        return new ScalarType<>(description, text -> {
            T value = parser.apply(text);
            if (!rule.test(value)) {
                throw new IllegalArgumentException(message.apply(value));
            }
            return value;
        });
    }
}
