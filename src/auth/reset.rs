//! Password reset links: `{base}/password-reset/new?token=<64 hex digits>`.
//!
//! A link is mailed on request (when SMTP is configured) or issued by a super admin. It works
//! once, for [`LINK_MINUTES`]; only the SHA-256 of its token is stored. Setting the new
//! password ends every session of the account and uses up every open link of it (as any
//! password change does). The token and the link are never logged.
//!
//! A request by e-mail answers at once and the same way whether or not the address has an
//! account: the lookup, the link and the mail happen afterwards in the background. At most
//! [`MAILS_PER_ACCOUNT_PER_HOUR`] links are mailed to one account an hour; further requests
//! are answered the same and send nothing.

use crate::accounts::{self, User};
use crate::db::{self, password_resets::Via};
use crate::errors::AppError;
use crate::ids::{Timestamp, UserId};
use crate::mail::Mail;
use crate::state::AppState;
use crate::taxonomy::Role;
use crate::web::i18n::Lang;
use aws_lc_rs::digest;

/// How long a link works.
pub const LINK_MINUTES: i64 = 30;
/// Links mailed to one account in any hour; more requests are answered the same, unsent.
pub const MAILS_PER_ACCOUNT_PER_HOUR: u64 = 3;

const TOKEN_BYTES: usize = 32;

/// A link a super admin issued, to hand to the account's owner.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    pub url: String,
    pub expires_at: Timestamp,
    pub user: User,
}

fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn hash(token: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// Only what [`new_token`] makes is looked up.
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_BYTES * 2 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The page a link opens, on `base` (`PUBLIC_URL` or the request's scheme and host).
pub fn link(base: &str, token: &str) -> String {
    format!("{base}/password-reset/new?token={token}")
}

fn expiry(now: i64) -> i64 {
    now + LINK_MINUTES * 60
}

/// Starts mailing a link to the account with this address, if there is one, and returns at
/// once: the caller answers the same whatever happens next. The mail is written in `lang`,
/// the language of the visitor who asked (accounts keep no language of their own).
pub fn request_by_mail(state: &AppState, email: String, base: String, lang: Lang) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = mail_link(&state, &email, &base, lang).await {
            tracing::warn!(error = %e, "could not make or send a password reset link");
        }
    });
}

async fn mail_link(state: &AppState, email: &str, base: &str, lang: Lang) -> Result<(), AppError> {
    let Some(user) = accounts::find_by_email(&state.db, email).await? else {
        tracing::debug!("password reset requested for an address without an account");
        return Ok(());
    };
    let token = new_token();
    let token_hash = hash(&token);
    let now = chrono::Utc::now();
    let hour_ago = Timestamp(now - chrono::Duration::hours(1));
    let expires_at = expiry(now.timestamp());
    let id = user.id;
    let made = state
        .db
        .change(move |tx| {
            db::password_resets::prune(tx, now.timestamp())?;
            if db::password_resets::mailed_since(tx, id, hour_ago)? >= MAILS_PER_ACCOUNT_PER_HOUR {
                return Ok(false);
            }
            db::password_resets::insert(tx, &token_hash, id, Via::Email, expires_at)?;
            Ok(true)
        })
        .await?;
    if !made {
        tracing::info!(user_id = %id, "password reset link not mailed: the account's hourly limit is reached");
        return Ok(());
    }
    let mail = Mail {
        to: user.email.clone(),
        subject: lang.t("reset-mail-subject"),
        body: mail_body(lang, &user, &link(base, &token)),
    };
    match state.mailer.send(mail).await {
        Ok(()) => tracing::info!(user_id = %id, "mailed a password reset link"),
        Err(e) => {
            tracing::warn!(user_id = %id, error = %e, "could not mail a password reset link")
        }
    }
    Ok(())
}

/// The mail's text (`locales/<lang>/account.ftl`), one line per message.
fn mail_body(lang: Lang, user: &User, link: &str) -> String {
    // Greeted by the address, never the name: anyone may register someone's address with a
    // "name" of their choosing and then have the office mail it to them.
    format!(
        "{greeting}\n\n{requested}\n{open}\n\n{link}\n\n{expiry}\n{ignore}\n",
        greeting = lang.t1("reset-mail-greeting", "name", &user.email),
        requested = lang.t1("reset-mail-requested", "email", &user.email),
        open = lang.t("reset-mail-open"),
        expiry = lang.t1("reset-mail-expiry", "minutes", LINK_MINUTES),
        ignore = lang.t("reset-mail-ignore"),
    )
}

/// A link for `target`, issued by `actor`, who must (still) be a super admin.
pub async fn issue(
    state: &AppState,
    actor: &User,
    target: UserId,
    base: &str,
) -> Result<IssuedLink, AppError> {
    let token = new_token();
    let token_hash = hash(&token);
    let now = chrono::Utc::now().timestamp();
    let expires_at = expiry(now);
    let actor = actor.id;
    let user = state
        .db
        .change(move |tx| {
            if db::users::role_of(tx, actor)? != Some(Role::SuperAdmin) {
                return Err(AppError::Forbidden("Not enough permissions".into()));
            }
            let user =
                db::users::find_user(tx, target)?.ok_or_else(|| AppError::not_found("User"))?;
            // A link would change a password without the current one: one's own goes through
            // the account page, another super admin's through `maintenance set-password`.
            if user.id == actor {
                return Err(AppError::Forbidden(
                    "Change your own password on the account page, with the current one".into(),
                ));
            }
            if user.role == Role::SuperAdmin {
                return Err(AppError::Forbidden(
                    "A super admin's password is reset on the server with `maintenance set-password EMAIL`"
                        .into(),
                ));
            }
            db::password_resets::prune(tx, now)?;
            db::password_resets::insert(tx, &token_hash, target, Via::Admin, expires_at)?;
            Ok(user)
        })
        .await?;
    tracing::info!(actor = %actor, target = %target, "issued a password reset link");
    Ok(IssuedLink {
        url: link(base, &token),
        expires_at: Timestamp(
            chrono::DateTime::from_timestamp(expires_at, 0)
                .ok_or_else(|| AppError::internal("expiry out of range"))?,
        ),
        user,
    })
}

/// The account a link opens, while it is unused and unexpired.
pub async fn account_for(state: &AppState, token: &str) -> Result<Option<User>, AppError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let token_hash = hash(token);
    let now = chrono::Utc::now().timestamp();
    state
        .db
        .run(move |conn| db::password_resets::account(conn, &token_hash, now))
        .await
}

/// Sets the password of the account a link opens and uses the link up; None (nothing
/// changed) when the link is unknown, used or expired. Every session of the account ends
/// and every other open link of it is used up.
pub async fn complete(
    state: &AppState,
    token: &str,
    new_password: String,
) -> Result<Option<UserId>, AppError> {
    accounts::check_password(&new_password).map_err(|m| AppError::invalid("new_password", m))?;
    if account_for(state, token).await?.is_none() {
        return Ok(None);
    }
    let password_hash = state.passwords.hash(new_password).await?;
    let token_hash = hash(token);
    let now = chrono::Utc::now().timestamp();
    let claimed = state
        .db
        .write(&state.events, move |tx| {
            // Claimed in the same transaction as the change: of two uses at once, one wins.
            let Some(id) = db::password_resets::claim(tx, &token_hash, now)? else {
                return Ok((None, Vec::new()));
            };
            db::users::set_password_hash(tx, id, &password_hash)?;
            Ok((Some(id), Vec::new()))
        })
        .await?;
    if let Some(id) = claimed {
        state.account_changes.record(id);
        tracing::info!(user_id = %id, "password set through a reset link");
    }
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert_ne!(hash(&a), a);
        assert_eq!(hash(&a), hash(&a));
        assert_eq!(hash(&a).len(), 64);
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(!well_formed(bad), "{bad}");
        }
        assert_eq!(
            link("https://m.example", "ab"),
            "https://m.example/password-reset/new?token=ab"
        );
    }
}
