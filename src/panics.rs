//! The text a panic carries, for the logs of the places that catch panics (the request stack, the
//! outbox worker).

use std::any::Any;

/// What `panic!("...")` said (a `&str` or a `String` payload).
pub fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic payload that is not text)")
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn the_panic_text_is_kept_for_the_log() {
        let text = std::panic::catch_unwind(|| panic!("the {} broke", "store")).unwrap_err();
        assert_eq!(message(&*text), "the store broke");
        let plain = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(message(&*plain), "plain");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(message(&*other), "(a panic payload that is not text)");
    }
}
