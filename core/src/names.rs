//! People's names as dual control compares them (DESIGN §4, hardening).
//!
//! Dual control asks "a different holder". Raw string comparison lets one
//! person pass as two: `"Wang Wu "`, `"wang wu"`, `"Wang\u{a0}Wu"`,
//! `"Wang Wu\u{200b}"`, a Cyrillic `"Wаng Wu"`, a right-to-left override.
//! So:
//!
//! - [`check_name`] refuses, at enrolment and genesis, names with control,
//!   invisible (default-ignorable) or bidirectional-control characters, and
//!   names whose letters mix scripts beyond UTS #39's *highly restrictive*
//!   level (Latin with Han, kana or Hangul is fine; Latin with Cyrillic is
//!   not);
//! - [`identity`] is what every comparison uses: NFKC, lower case, runs of
//!   white space collapsed to one space, trimmed, then the UTS #39
//!   confusable skeleton, so look-alike letters compare equal.
//!
//! Comparing skeletons can make two honest, different names look alike
//! ("rn" and "m"); that errs on the safe side: the second person is then
//! refused as "the same holder", never the reverse.

use unicode_normalization::UnicodeNormalization;
use unicode_security::{skeleton, RestrictionLevel, RestrictionLevelDetection};

/// Longest holder or unit name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{0} is longer than {MAX_NAME_CHARS} characters")]
    TooLong(&'static str),
    #[error("{field} contains the invisible or control character U+{code:04X}")]
    Invisible { field: &'static str, code: u32 },
    #[error("{0} mixes scripts that can imitate another name (e.g. Latin with Cyrillic letters)")]
    MixedScript(&'static str),
}

/// Characters that change or hide how a name reads without being visible:
/// the bidirectional controls and Unicode's default-ignorable code points
/// (zero-width spaces and joiners, soft hyphen, variation selectors, tags,
/// fillers). Ordinary spaces are fine; control characters are refused
/// separately.
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F
        | 0x2028..=0x202E
        | 0x2060..=0x206F
        | 0x3164
        | 0xFE00..=0xFE0F
        | 0xFEFF
        | 0xFFA0
        | 0xFFF0..=0xFFF8
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Check a person's or unit's name as written in an entry. `field` names
/// it in the error. Mixed scripts are checked for person names only
/// (`check_scripts`): unit names legitimately mix, e.g. "北京市人民检察院 PIL Dept".
pub fn check_text(field: &'static str, s: &str, check_scripts: bool) -> Result<(), NameError> {
    if s.trim().is_empty() {
        return Err(NameError::Empty(field));
    }
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong(field));
    }
    if let Some(c) = s.chars().find(|&c| c.is_control() || invisible(c)) {
        return Err(NameError::Invisible { field, code: c as u32 });
    }
    if check_scripts {
        let letters: String = s.nfkc().filter(|c| c.is_alphabetic()).collect();
        if !letters.is_empty() && letters.as_str().detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
            return Err(NameError::MixedScript(field));
        }
    }
    Ok(())
}

/// A holder name: [`check_text`] with the mixed-script rule.
pub fn check_name(field: &'static str, s: &str) -> Result<(), NameError> {
    check_text(field, s, true)
}

/// The identity two names are compared by (see the module docs).
pub fn identity(s: &str) -> String {
    let folded: String = s.nfkc().collect::<String>().to_lowercase();
    let collapsed = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    // Invisible characters are refused at enrolment, but records written
    // before that rule existed may hold them: drop them here too.
    let visible: String = collapsed.chars().filter(|&c| !invisible(c) && !c.is_control()).collect();
    skeleton(&visible).collect()
}

/// Do two holder names name the same person?
pub fn same_person(a: &str, b: &str) -> bool {
    identity(a) == identity(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_of_one_name_are_the_same_person() {
        // The list, each against "Wang Wu".
        for other in ["Wang Wu ", "wang wu", "Wang\u{a0}Wu", "  WANG   WU", "Ｗａｎｇ Ｗｕ", "Wang\tWu"] {
            assert!(same_person("Wang Wu", other), "{other:?}");
        }
        // Cyrillic а (U+0430) in place of Latin a: same skeleton.
        assert!(same_person("Wang Wu", "W\u{430}ng Wu"));
        assert!(!same_person("Wang Wu", "Wang Liu"));
        assert!(!same_person("王五", "王六"));
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        for bad in
            ["Wang Wu\u{200b}", "\u{202e}uW gnaW", "Wang\u{2066}Wu", "Wang\u{ad}Wu", "Wang\u{feff}Wu", "Wang\nWu"]
        {
            assert!(matches!(check_name("holder", bad), Err(NameError::Invisible { .. })), "{bad:?}");
        }
    }

    #[test]
    fn mixed_scripts_that_imitate_are_refused_but_han_with_latin_is_fine() {
        assert_eq!(check_name("holder", "W\u{430}ng Wu"), Err(NameError::MixedScript("holder")));
        for ok in ["Wang Wu", "王五", "王五 Wang Wu", "Ivan Petrov", "Иван Петров", "阿卜杜·热合曼", "O'Brien-Smith"]
        {
            assert_eq!(check_name("holder", ok), Ok(()), "{ok:?}");
        }
        // Units may mix.
        assert_eq!(check_text("unit", "北京市人民检察院 PIL Dept", false), Ok(()));
    }

    #[test]
    fn empty_and_overlong_names_are_refused() {
        assert_eq!(check_name("holder", "  "), Err(NameError::Empty("holder")));
        assert_eq!(check_name("holder", &"x".repeat(201)), Err(NameError::TooLong("holder")));
    }
}
