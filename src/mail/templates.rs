//! The set of templates: the built-in ones (Djoser 2.3.5's wording, embedded in the binary) with optional
//! per-file overrides from a directory.
//!
//! Each kind has three files named after Djoser's template, e.g. for the activation mail
//! `activation.subject.txt`, `activation.txt` (text part) and `activation.html` (HTML part); the other stems
//! are `confirmation`, `password_reset`, `password_changed_confirmation`, `username_changed_confirmation`,
//! `username_reset`, and imhotep's own `email_change_confirmation`, `email_change_notice` and
//! `registration_attempt` (see `djoser.registration_hides_existing`), and the two-factor notices
//! `mfa_factor_added`, `mfa_factor_removed`, `mfa_recovery_codes_regenerated`, `mfa_recovery_code_used`. In an override directory every
//! file is optional and replaces the built-in one; a `.txt` or `.html` file with any other name is refused so that a misspelt override is not silently ignored.

use std::path::Path;

use super::error::MailError;
use super::message::{EmailContext, EmailKind, Message};
use super::sources::{check_names, invalid, read_part};
use super::template::Template;

/// The parsed templates of every kind, ready to render.
#[derive(Debug, Clone)]
pub struct Templates {
    /// Indexed by `EmailKind as usize`, then subject, text, html.
    kinds: Vec<[Template; 3]>,
}

impl Templates {
    /// Parses the built-in templates, replaced by the files of `dir` that exist (see the module docs for
    /// the names). Any unreadable, misnamed or invalid file is an error here, never at send time.
    pub fn load(dir: Option<&Path>) -> Result<Self, MailError> {
        if let Some(dir) = dir {
            check_names(dir)?;
        }
        let mut kinds = Vec::with_capacity(EmailKind::ALL.len());
        for kind in EmailKind::ALL {
            let parse = |part: usize| -> Result<Template, MailError> {
                let (path, source) = read_part(dir, kind, part)?;
                if part == 0 && source.trim().contains(['\r', '\n']) {
                    return Err(invalid(&path, "a subject must be a single line"));
                }
                Template::parse(&source, kind.has_link()).map_err(|reason| invalid(&path, reason))
            };
            kinds.push([parse(0)?, parse(1)?, parse(2)?]);
        }
        Ok(Self { kinds })
    }

    /// Renders the mail of `kind` for `ctx.email`. Line breaks in the subject's values become spaces.
    pub fn render(&self, kind: EmailKind, ctx: &EmailContext) -> Message {
        let [subject, text, html] = &self.kinds[kind as usize];
        Message {
            to: ctx.email.clone(),
            subject: subject.render(ctx, false).replace(['\r', '\n'], " "),
            text: text.render(ctx, false),
            html: html.render(ctx, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::message::LinkContext;

    fn ctx(kind: EmailKind) -> EmailContext {
        EmailContext {
            protocol: "https".into(),
            domain: "app.example.com".into(),
            site_name: "Imhotep".into(),
            email: "ada@example.com".into(),
            link: kind.has_link().then(|| LinkContext {
                uid: "MQ".into(),
                token: "cz2x-0123abcd".into(),
                url: "#/activate/MQ/cz2x-0123abcd".into(),
            }),
        }
    }

    fn built_in() -> Templates {
        Templates::load(None).expect("the built-in templates are valid")
    }

    #[test]
    fn each_kind_renders_its_djoser_subject() {
        let cases = [
            (EmailKind::Activation, "Account activation on Imhotep"),
            (
                EmailKind::Confirmation,
                "Imhotep - Your account has been successfully created and activated!",
            ),
            (EmailKind::PasswordReset, "Password reset on Imhotep"),
            (
                EmailKind::PasswordChangedConfirmation,
                "Imhotep - Your password has been successfully changed!",
            ),
            (
                EmailKind::UsernameChangedConfirmation,
                "Imhotep - Your username has been successfully changed!",
            ),
            (EmailKind::UsernameReset, "Username reset on Imhotep"),
            (
                EmailKind::EmailChangeConfirmation,
                "Confirm your new email address on Imhotep",
            ),
            (
                EmailKind::EmailChangeNotice,
                "Email address change requested on Imhotep",
            ),
            (
                EmailKind::RegistrationAttempt,
                "Imhotep - Someone tried to register with your address",
            ),
        ];
        let templates = built_in();
        for (kind, subject) in cases {
            let message = templates.render(kind, &ctx(kind));
            assert_eq!(message.subject, subject);
            assert_eq!(message.to, "ada@example.com");
            assert!(
                message.text.ends_with("Thanks for using our site!\n\nThe Imhotep team"),
                "{kind:?}"
            );
            assert!(message.html.ends_with("<p>The Imhotep team</p>"), "{kind:?}");
        }
    }

    #[test]
    fn link_mails_print_the_link_in_both_parts_and_others_print_none() {
        let link = "https://app.example.com/#/activate/MQ/cz2x-0123abcd";
        let templates = built_in();
        for kind in EmailKind::ALL {
            let message = templates.render(kind, &ctx(kind));
            assert_eq!(message.text.contains(link), kind.has_link(), "{kind:?}");
            assert_eq!(
                message.html.contains(&format!("<a href=\"{link}\">{link}</a>")),
                kind.has_link()
            );
            assert_eq!(message.text.contains("://"), kind.has_link(), "{kind:?}");
        }
    }

    #[test]
    fn reset_mails_remind_the_username() {
        let templates = built_in();
        for kind in [EmailKind::PasswordReset, EmailKind::UsernameReset] {
            let message = templates.render(kind, &ctx(kind));
            assert!(
                message
                    .text
                    .contains("Your username, in case you've forgotten: ada@example.com")
            );
            assert!(message.html.contains("<b>ada@example.com</b>"));
        }
    }

    #[test]
    fn values_are_escaped_in_html_only_and_the_subject_stays_on_one_line() {
        let mut context = ctx(EmailKind::Activation);
        context.site_name = "Tom & <Jerry>\r\nBcc: x@y".into();
        let message = built_in().render(EmailKind::Activation, &context);
        assert_eq!(message.subject, "Account activation on Tom & <Jerry>  Bcc: x@y");
        assert!(message.text.contains("on Tom & <Jerry>"));
        assert!(message.html.contains("on Tom &amp; &lt;Jerry&gt;"));
        assert!(!message.html.contains("<Jerry>"));
    }

    #[test]
    fn an_override_file_replaces_only_its_own_part() {
        let dir = tempfile::tempdir().expect("temp dir");
        let subject = "Welcome to {{ site_name }}, {{ email }}\n";
        std::fs::write(dir.path().join("activation.subject.txt"), subject).expect("write");
        std::fs::write(dir.path().join("README.md"), "not a template").expect("write");
        let templates = Templates::load(Some(dir.path())).expect("valid overrides");
        let message = templates.render(EmailKind::Activation, &ctx(EmailKind::Activation));
        assert_eq!(message.subject, "Welcome to Imhotep, ada@example.com");
        assert_eq!(
            message.text,
            built_in()
                .render(EmailKind::Activation, &ctx(EmailKind::Activation))
                .text
        );
    }

    #[test]
    fn a_broken_override_directory_fails_at_load() {
        let cases = [
            ("activation.txt", "{{ site_name }"),
            ("activation.html", "{{ user.get_username }}"),
            ("confirmation.txt", "{{ url }}"),
            ("password_reset.subject.txt", "Reset\non {{ site_name }}"),
            ("activaton.txt", "misspelt name"),
        ];
        for (file, source) in cases {
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::write(dir.path().join(file), source).expect("write");
            let result = Templates::load(Some(dir.path()));
            assert!(matches!(result, Err(MailError::Template { .. })), "{file}: {result:?}");
        }
        let missing = Templates::load(Some(Path::new("/nonexistent/imhotep-templates")));
        assert!(matches!(missing, Err(MailError::TemplateDir { .. })));
    }
}
