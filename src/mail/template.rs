//! The template syntax: plain text with `{{ name }}` placeholders, nothing else.
//!
//! Names: `protocol`, `domain`, `site_name`, `email` in every mail, plus `uid`, `token`, `url` in the mails
//! that carry a link. A template is parsed once (unclosed `{{`, unknown or unavailable names are errors),
//! so rendering cannot fail. Values are HTML-escaped in the HTML part only.

use super::message::EmailContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Protocol,
    Domain,
    SiteName,
    Email,
    Uid,
    Token,
    Url,
}

const VARS: [(&str, Var); 7] = [
    ("protocol", Var::Protocol),
    ("domain", Var::Domain),
    ("site_name", Var::SiteName),
    ("email", Var::Email),
    ("uid", Var::Uid),
    ("token", Var::Token),
    ("url", Var::Url),
];

impl Var {
    fn value(self, ctx: &EmailContext) -> &str {
        let link = ctx.link.as_ref();
        match self {
            Var::Protocol => &ctx.protocol,
            Var::Domain => &ctx.domain,
            Var::SiteName => &ctx.site_name,
            Var::Email => &ctx.email,
            Var::Uid => link.map_or("", |l| &l.uid),
            Var::Token => link.map_or("", |l| &l.token),
            Var::Url => link.map_or("", |l| &l.url),
        }
    }

    fn needs_link(self) -> bool {
        matches!(self, Var::Uid | Var::Token | Var::Url)
    }
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Var(Var),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub(super) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `source`; `has_link` says whether `uid`, `token` and `url` are available. The error is a
    /// sentence naming the line.
    pub(super) fn parse(source: &str, has_link: bool) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            let line = source[..source.len() - rest.len() + open].matches('\n').count() + 1;
            let close = rest[open..]
                .find("}}")
                .ok_or_else(|| format!("line {line}: `{{{{` is never closed by `}}}}`"))?;
            let name = rest[open + 2..open + close].trim();
            let var = VARS
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, var)| *var)
                .ok_or_else(|| format!("line {line}: unknown placeholder `{name}`"))?;
            if var.needs_link() && !has_link {
                return Err(format!("line {line}: `{name}` exists only in mails with a link"));
            }
            parts.push(Part::Text(rest[..open].to_owned()));
            parts.push(Part::Var(var));
            rest = &rest[open + close + 2..];
        }
        parts.push(Part::Text(rest.to_owned()));
        Ok(Self { parts })
    }

    /// Fills the placeholders, escaping values for HTML when `html` is set; trims the result like Djoser.
    pub(super) fn render(&self, ctx: &EmailContext, html: bool) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(var) if html => escape_html(var.value(ctx), &mut out),
                Part::Var(var) => out.push_str(var.value(ctx)),
            }
        }
        out.trim().to_owned()
    }
}

/// Django's `escape`: `&`, `<`, `>`, `"` and `'`.
fn escape_html(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::message::LinkContext;

    fn ctx() -> EmailContext {
        EmailContext {
            protocol: "https".into(),
            domain: "example.com".into(),
            site_name: "Tom & Jerry's <b>".into(),
            email: "a@example.com".into(),
            link: Some(LinkContext {
                uid: "MQ".into(),
                token: "t-1".into(),
                url: "#/a?x=\"1\"".into(),
            }),
        }
    }

    #[test]
    fn placeholders_are_filled_with_or_without_inner_spaces() {
        let template = Template::parse(" {{site_name}} at {{ domain }}/{{ uid }}\n", true);
        let rendered = template.map(|t| t.render(&ctx(), false));
        assert_eq!(rendered.as_deref(), Ok("Tom & Jerry's <b> at example.com/MQ"));
    }

    #[test]
    fn html_rendering_escapes_values_but_not_the_template() {
        let template = Template::parse("<p>{{ site_name }} {{ url }}</p>", true);
        let rendered = template.map(|t| t.render(&ctx(), true));
        let expected = "<p>Tom &amp; Jerry&#x27;s &lt;b&gt; #/a?x=&quot;1&quot;</p>";
        assert_eq!(rendered.as_deref(), Ok(expected));
    }

    #[test]
    fn bad_templates_are_refused_with_the_line() {
        let cases = [
            ("a\n{{ site_name", true, "line 2: `{{` is never closed by `}}`"),
            ("{{ user.email }}", true, "line 1: unknown placeholder `user.email`"),
            (
                "x\n\n{{ token }}",
                false,
                "line 3: `token` exists only in mails with a link",
            ),
        ];
        for (source, has_link, expected) in cases {
            let error = Template::parse(source, has_link).err();
            assert_eq!(error.as_deref(), Some(expected), "{source:?}");
        }
    }
}
