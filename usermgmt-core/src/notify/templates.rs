//! The words of account messages: a subject, a plain-text body and an HTML body per message,
//! from [`MessageTemplates`]. [`DefaultTemplates`] writes short English messages; a host
//! replaces them (its own wording, languages by [`Notification::locale`], branding) by
//! implementing the trait.

use super::message::{Notification, Proof};
use crate::model::TokenKind;

/// A message rendered for sending.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    /// The subject line (email) — unused for SMS.
    pub subject: String,
    /// The plain-text body (also the SMS text).
    pub text: String,
    /// The HTML body (email).
    pub html: String,
}

impl std::fmt::Debug for RenderedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies carry the link or code: a secret.
        f.debug_struct("RenderedMessage")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Turns a [`Notification`] into the text that is sent.
pub trait MessageTemplates: Send + Sync {
    /// Renders one message. Everything taken from the notification into `html` must be
    /// escaped (the name is the user's own input).
    fn render(&self, message: &Notification) -> RenderedMessage;
}

/// Short English messages naming `product`: what the message is for, the link (or code),
/// and when it stops working.
#[derive(Debug, Clone)]
pub struct DefaultTemplates {
    /// The product's name, as users know it (e.g. "Acme Learning").
    pub product: String,
}

impl Default for DefaultTemplates {
    fn default() -> Self {
        Self {
            product: "your account".to_owned(),
        }
    }
}

impl MessageTemplates for DefaultTemplates {
    fn render(&self, message: &Notification) -> RenderedMessage {
        let (subject, purpose) = match message.kind {
            TokenKind::Invitation => (
                format!("You are invited to {}", self.product),
                "You have been invited. Choose a password to start",
            ),
            TokenKind::PasswordReset => (
                format!("Reset your password for {}", self.product),
                "Someone (hopefully you) asked to reset your password. Choose a new one",
            ),
            TokenKind::Verification => (
                format!("Confirm your address for {}", self.product),
                "Please confirm this address",
            ),
        };
        let until = message.expires_at.format("%Y-%m-%d %H:%M UTC");
        let ignore = "If you did not expect this message, you can ignore it.";
        let name = &message.name;
        let (text_action, html_action) = match &message.proof {
            Proof::Link(link) => (
                format!("{purpose}: {link}"),
                format!(
                    "<p>{purpose}:</p><p><a href=\"{href}\">{text}</a></p>",
                    href = html_escape::encode_double_quoted_attribute(link),
                    text = html_escape::encode_text(link),
                ),
            ),
            Proof::Code(code) => (
                format!("{purpose} with the code {code}."),
                format!(
                    "<p>{purpose} with the code <strong>{}</strong>.</p>",
                    html_escape::encode_text(code)
                ),
            ),
        };
        RenderedMessage {
            text: format!(
                "Hello {name},\n\n{text_action}\n\nThis works once, until {until}.\n{ignore}\n"
            ),
            html: format!(
                "<!doctype html><html><body><p>Hello {},</p>{html_action}\
                 <p>This works once, until {until}.</p><p>{ignore}</p></body></html>",
                html_escape::encode_text(name)
            ),
            subject,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{Recipient, TenantId};

    fn message(name: &str, proof: Proof) -> Notification {
        Notification {
            kind: TokenKind::Invitation,
            tenant_id: TenantId::new("t1").unwrap_or_else(|_| unreachable!()),
            user_id: uuid::Uuid::nil(),
            name: name.to_owned(),
            recipient: Recipient::Email("a@b.test".into()),
            locale: None,
            proof,
            expires_at: Utc
                .with_ymd_and_hms(2026, 12, 7, 9, 30, 0)
                .single()
                .unwrap_or_else(Utc::now),
        }
    }

    #[test]
    fn the_html_escapes_what_users_wrote_and_both_bodies_carry_the_link() {
        let link = "https://lms.test/account/accept-invitation?token=abc&x=\"1\"";
        let rendered = DefaultTemplates {
            product: "Acme".into(),
        }
        .render(&message(
            "<script>alert(1)</script>",
            Proof::Link(link.into()),
        ));
        assert_eq!(rendered.subject, "You are invited to Acme");
        assert!(rendered.text.contains(link));
        assert!(rendered.text.contains("2026-12-07 09:30 UTC"));
        assert!(!rendered.html.contains("<script>"));
        assert!(rendered.html.contains("&lt;script&gt;"));
        assert!(rendered.html.contains("token=abc&amp;x=&quot;1&quot;"));
        assert!(
            !format!("{rendered:?}").contains("token="),
            "Debug hides it"
        );
    }

    #[test]
    fn a_code_message_names_the_code() {
        let rendered =
            DefaultTemplates::default().render(&message("Al", Proof::Code("042917".into())));
        assert!(rendered.text.contains("042917"));
        assert!(rendered.html.contains("<strong>042917</strong>"));
    }
}
