//! Outgoing mail over SMTP: lettre on tokio, TLS by rustls (aws-lc-rs, the system's roots).
//!
//! Configured by `SMTP_URL` and `SMTP_FROM` (see [`SmtpSettings::parse`]); without them the
//! [`Mailer`] is off and says so ([`Mailer::is_enabled`]), and callers offer another way.
//! Password reset links use it now; notifications can send through the same [`Mailer`].
//!
//! Neither the SMTP password nor a message's body is ever logged: a body may hold a link
//! that works like a password.

use crate::config::Secret;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// How long one message may take to hand over, connection included.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte (port 465 unless given).
    Tls,
    /// `smtp://`: STARTTLS, required; the mail is not sent if the server cannot (port 587).
    StartTls,
    /// `smtp://...?tls=none`: no encryption at all, for a relay on this machine (port 25).
    None,
}

/// Where and how to send mail: from `SMTP_URL` and `SMTP_FROM`.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub security: Security,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The sender every message names, e.g. `건물 관리사무소 <office@example.com>`.
    pub from: String,
}

impl SmtpSettings {
    /// Reads `SMTP_URL` (`smtps://user:pass@host[:465]`, `smtp://user:pass@host[:587]` for
    /// STARTTLS, or `smtp://host[:25]?tls=none`; the user name and password percent-encoded)
    /// and `SMTP_FROM`. Errors name the variable at fault and never repeat the password.
    pub fn parse(url: &str, from: &str) -> Result<SmtpSettings, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let endpoint = parse_url(url).map_err(|m| problems.push(("SMTP_URL", m)));
        let from = parse_from(from).map_err(|m| problems.push(("SMTP_FROM", m)));
        match (endpoint, from) {
            (Ok((security, host, port, username, password)), Ok(from)) => Ok(SmtpSettings {
                security,
                host,
                port,
                username,
                password,
                from,
            }),
            _ => Err(problems),
        }
    }
}

type Endpoint = (Security, String, u16, Option<String>, Option<Secret>);

fn parse_url(raw: &str) -> Result<Endpoint, String> {
    let expected = "expected smtps://USER:PASSWORD@HOST[:PORT] (TLS), smtp://USER:PASSWORD@HOST[:PORT] \
                    (STARTTLS) or smtp://HOST[:PORT]?tls=none (no encryption, a relay on this machine)";
    // The URL may hold a password: only its scheme is ever repeated.
    let url = url::Url::parse(raw).map_err(|e| format!("{expected}: not a URL ({e})"))?;
    let tls = url
        .query_pairs()
        .find(|(name, _)| name == "tls")
        .map(|(_, value)| value.into_owned());
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Security::Tls,
        ("smtp", None | Some("required")) => Security::StartTls,
        ("smtp", Some("none")) => Security::None,
        ("smtp" | "smtps", Some(other)) => {
            return Err(format!(
                "{expected}: unknown tls={other} (smtp:// takes tls=required, the default, or tls=none)"
            ));
        }
        (scheme, _) => return Err(format!("{expected}, got a {scheme}:// URL")),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{expected}: the host is missing"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port().unwrap_or(match security {
        Security::Tls => 465,
        Security::StartTls => 587,
        Security::None => 25,
    });
    let decode = |text: &str, what: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|t| t.into_owned())
            .map_err(|_| format!("{expected}: the {what} is not UTF-8 once percent-decoded"))
    };
    let username = Some(url.username())
        .filter(|u| !u.is_empty())
        .map(|u| decode(u, "user name"))
        .transpose()?;
    let password = url
        .password()
        .map(|p| decode(p, "password").map(Secret::new))
        .transpose()?;
    if password.is_some() && username.is_none() {
        return Err(format!("{expected}: a password without a user name"));
    }
    Ok((security, host, port, username, password))
}

fn parse_from(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            "SMTP_URL is set but SMTP_FROM is not: add SMTP_FROM=<the sender, e.g. \
             \"건물 관리사무소 <office@example.com>\" or office@example.com>"
                .into(),
        );
    }
    raw.parse::<Mailbox>()
        .map(|_| raw.to_owned())
        .map_err(|e| format!("expected an address such as office@example.com or \"Name <office@example.com>\", got '{raw}' ({e})"))
}

/// One plain-text message.
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    pub subject: String,
    /// UTF-8 text; never logged.
    pub body: String,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no SMTP server is configured (SMTP_URL)")]
    Disabled,
    #[error("cannot address the message: {0}")]
    Address(String),
    #[error("the SMTP server did not take the message: {0}")]
    Send(String),
    #[error("cannot set up TLS for the SMTP server: {0}")]
    Tls(String),
}

struct Transport {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Sends mail through the configured SMTP server; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<Arc<Transport>>,
}

impl Mailer {
    /// A mailer that sends nothing (no `SMTP_URL`).
    pub fn disabled() -> Mailer {
        Mailer { transport: None }
    }

    /// The mailer for these settings (none: [`Mailer::disabled`]). Connects only when sending.
    pub fn new(settings: Option<&SmtpSettings>) -> Result<Mailer, MailError> {
        let Some(settings) = settings else {
            return Ok(Mailer::disabled());
        };
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| MailError::Address(format!("SMTP_FROM: {e}")))?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| MailError::Tls(e.to_string()))
        };
        let tls = match settings.security {
            Security::Tls => Tls::Wrapper(tls(&settings.host)?),
            Security::StartTls => Tls::Required(tls(&settings.host)?),
            Security::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(SEND_TIMEOUT));
        if let Some(username) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        tracing::info!(host = %settings.host, port = settings.port, security = ?settings.security, "mail goes through SMTP");
        Ok(Mailer {
            transport: Some(Arc::new(Transport {
                smtp: builder.build(),
                from,
            })),
        })
    }

    /// Whether mail can be sent at all.
    pub fn is_enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// Hands one message to the SMTP server, waiting until it has taken it.
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let transport = self.transport.as_ref().ok_or(MailError::Disabled)?;
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Address(format!("{e}")))?;
        let message = Message::builder()
            .from(transport.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Address(e.to_string()))?;
        transport
            .smtp
            .send(message)
            .await
            .map(drop)
            .map_err(|e| MailError::Send(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<SmtpSettings, Vec<(&'static str, String)>> {
        SmtpSettings::parse(url, "건물 관리사무소 <office@example.com>")
    }

    #[test]
    fn each_scheme_gets_its_protection_and_default_port() {
        let s = parse("smtps://mailer:s%40cret@mail.example.com").unwrap();
        assert_eq!((s.security, s.port), (Security::Tls, 465));
        assert_eq!(s.host, "mail.example.com");
        assert_eq!(s.username.as_deref(), Some("mailer"));
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("s@cret"));
        let s = parse("smtp://mailer:pw@mail.example.com").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 587));
        let s = parse("smtp://mailer:pw@mail.example.com:2525?tls=required").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 2525));
        let s = parse("smtp://127.0.0.1?tls=none").unwrap();
        assert_eq!((s.security, s.port), (Security::None, 25));
        assert_eq!(s.username, None);
        assert!(Mailer::new(Some(&parse("smtps://a:b@mail.example.com").unwrap())).is_ok());
    }

    #[test]
    fn bad_settings_name_the_variable_and_never_the_password() {
        for url in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=maybe",
            "smtps://:s3cret@mail.example.com",
            "mail.example.com:587",
            "smtp://",
        ] {
            let problems = parse(url).unwrap_err();
            assert_eq!(problems.len(), 1, "{url}");
            assert_eq!(problems[0].0, "SMTP_URL", "{url}");
            assert!(!problems[0].1.contains("s3cret"), "{}", problems[0].1);
        }
        let problems = SmtpSettings::parse("smtps://a:s3cret@mail.example.com", "").unwrap_err();
        assert_eq!(problems[0].0, "SMTP_FROM");
        assert!(problems[0].1.contains("SMTP_FROM=<"), "{}", problems[0].1);
        let problems = SmtpSettings::parse("smtps://a:b@h", "not an address").unwrap_err();
        assert_eq!(problems[0].0, "SMTP_FROM");
        let debug = format!("{:?}", parse("smtps://a:s3cret@mail.example.com").unwrap());
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
