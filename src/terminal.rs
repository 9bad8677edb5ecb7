//! Text that users wrote, shown on an operator's terminal by the CLI: control characters (C0, DEL,
//! C1) and bidirectional-formatting characters are escaped as `\u{..}`, so that an address or a
//! name cannot move the cursor, recolour, retitle or clear the screen, or reorder what is shown.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every character a terminal would act on replaced by its `\u{..}` escape.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_on_terminal(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(
            escaped("\"a\x1b]0;pwned\x07\r\x7f\u{9b}\u{202e}\"@example.com"),
            "\"a\\u{1b}]0;pwned\\u{7}\\u{d}\\u{7f}\\u{9b}\\u{202e}\"@example.com"
        );
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for text in ["josé@example.com", "Zoë O'Brien", "李", ""] {
            assert!(matches!(escaped(text), std::borrow::Cow::Borrowed(t) if t == text));
        }
    }
}
