//! `SmtpNotifier`: account messages as email (plain text + HTML) through an SMTP server, with
//! `lettre` (TLS by rustls).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::message::{Notification, Notifier, NotifyError};
use super::templates::{DefaultTemplates, MessageTemplates};
use crate::model::Recipient;

/// Where and as whom to send.
#[derive(Clone)]
pub struct SmtpSettings {
    /// The server, as a URL: `smtp://host:25` (plain; add `?tls=required` for STARTTLS),
    /// `smtps://host:465` (TLS from the start); credentials as `smtp://user:pass@host`.
    pub url: String,
    /// The sender, e.g. `Acme Learning <no-reply@acme.test>`.
    pub from: String,
    /// How long one delivery may take (default 10 seconds).
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("SmtpSettings")
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// Settings for `url` and `from`, with the default timeout.
    pub fn new(url: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            from: from.into(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Sends account messages as email through an SMTP server, rendered by replaceable
/// [`MessageTemplates`] ([`DefaultTemplates`] unless replaced). Messages for a phone go to
/// the SMS notifier given with [`SmtpNotifier::with_sms`]; without one they fail with
/// [`NotifyError`].
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    templates: Arc<dyn MessageTemplates>,
    sms: Option<Arc<dyn Notifier>>,
}

impl std::fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpNotifier")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    /// A notifier for the server and sender of `settings`. Connects only when sending.
    pub fn new(settings: &SmtpSettings) -> Result<Self, NotifyError> {
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| NotifyError(format!("the sender address is not valid: {e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|_| NotifyError("the SMTP URL is not valid".to_owned()))?
            .timeout(Some(settings.timeout))
            .build();
        Ok(Self {
            transport,
            from,
            templates: Arc::new(DefaultTemplates::default()),
            sms: None,
        })
    }

    /// Renders messages with `templates` instead of [`DefaultTemplates`].
    pub fn with_templates(mut self, templates: Arc<dyn MessageTemplates>) -> Self {
        self.templates = templates;
        self
    }

    /// Hands messages for a phone (SMS) to `sms`.
    pub fn with_sms(mut self, sms: Arc<dyn Notifier>) -> Self {
        self.sms = Some(sms);
        self
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn send(&self, message: &Notification) -> Result<(), NotifyError> {
        let address = match &message.recipient {
            Recipient::Email(address) => address,
            Recipient::Phone(_) => {
                return match &self.sms {
                    Some(sms) => sms.send(message).await,
                    None => Err(NotifyError("no SMS delivery is configured".to_owned())),
                };
            }
        };
        let to = Mailbox::new(
            Some(message.name.clone()),
            address
                .parse()
                .map_err(|_| NotifyError("the recipient address is not valid".to_owned()))?,
        );
        let rendered = self.templates.render(message);
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|_| NotifyError("the message could not be built".to_owned()))?;
        self.transport.send(email).await.map_err(|e| {
            // The server's answer goes to the log; callers get a fixed sentence.
            tracing::warn!(error = %e, "the SMTP server did not take an account message");
            NotifyError("the mail server did not accept the message".to_owned())
        })?;
        Ok(())
    }
}
