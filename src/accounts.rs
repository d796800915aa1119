//! Accounts: registration, login, roles, and the super admin at start-up.

use crate::auth::Passwords;
use crate::config::{Secret, SuperAdminSeed};
use crate::db::{self, Db};
use crate::errors::AppError;
use crate::ids::UserId;
use crate::model::Page;
pub use crate::model::User;
use crate::state::AppState;
use crate::taxonomy::Role;

/// bcrypt reads at most this many bytes; longer passwords are refused, never truncated.
pub const PASSWORD_MAX_BYTES: usize = 72;
pub const PASSWORD_MIN_BYTES: usize = 8;
pub const FULL_NAME_MAX_CHARS: usize = 100;
/// The account created on first start when no super admin is configured.
pub const DEFAULT_SUPER_ADMIN_EMAIL: &str = "admin@localhost";

const BAD_LOGIN: &str = "Incorrect email or password";

/// Characters that show as nothing (or reorder what follows) yet make two strings differ:
/// Unicode format characters (zero-width spaces and joiners, bidirectional overrides, the
/// BOM), the Hangul fillers and the combining grapheme joiner.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}'
        | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{110BD}' | '\u{110CD}')
}

/// Trims and lower-cases an email and checks its shape (`local@domain`). Only printable
/// ASCII is accepted, so no invisible or look-alike letter (a Cyrillic `а`, a zero-width
/// space) can make one address pass for another in the admin list.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let invalid = || {
        format!(
            "'{}' is not a valid email address",
            raw.trim().escape_default()
        )
    };
    if !email.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "'{}' is not a valid email address: only ASCII letters, digits and punctuation are accepted",
            raw.trim().escape_default()
        ));
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let well_formed = !local.is_empty()
        && local.len() <= 64
        && email.len() <= 254
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        Ok(email)
    } else {
        Err(invalid())
    }
}

/// Checks a new password: its length in bytes, as bcrypt counts it, and no control
/// characters (bcrypt stops at NUL, so an all-NUL password would equal the empty one).
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().any(char::is_control) {
        return Err("password must not contain control characters".into());
    }
    let len = password.len();
    if len < PASSWORD_MIN_BYTES {
        return Err(format!(
            "password must be at least {PASSWORD_MIN_BYTES} bytes"
        ));
    }
    if len > PASSWORD_MAX_BYTES {
        return Err(format!(
            "password must be at most {PASSWORD_MAX_BYTES} bytes (UTF-8); longer ones would be silently truncated"
        ));
    }
    Ok(())
}

/// A validated registration.
pub struct Registration {
    pub email: String,
    pub password: String,
    pub full_name: Option<String>,
}

impl Registration {
    pub fn parse(
        email: &str,
        password: String,
        full_name: Option<&str>,
    ) -> Result<Registration, AppError> {
        let email = normalize_email(email).map_err(|m| AppError::invalid("email", m))?;
        // Self-registered addresses need a real domain; this also keeps the
        // built-in admin@localhost out of reach of registration.
        if !email
            .split_once('@')
            .is_some_and(|(_, domain)| domain.contains('.'))
        {
            return Err(AppError::invalid(
                "email",
                "email domain must contain a dot",
            ));
        }
        check_password(&password).map_err(|m| AppError::invalid("password", m))?;
        Ok(Registration {
            email,
            password,
            full_name: parse_full_name(full_name)?,
        })
    }
}

/// Checks a name as typed: trimmed, blank is no name; no control or invisible characters,
/// at most [`FULL_NAME_MAX_CHARS`].
pub fn parse_full_name(full_name: Option<&str>) -> Result<Option<String>, AppError> {
    let full_name = full_name.map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = full_name {
        // A name is one line: it is shown in menus and tables, and greets nobody in mail.
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "full_name",
                "full_name must be one line without control characters (no line breaks or tabs)",
            ));
        }
        if name.chars().any(is_invisible) {
            return Err(AppError::invalid(
                "full_name",
                "full_name must not contain invisible characters (zero-width spaces, direction overrides)",
            ));
        }
    }
    if full_name.is_some_and(|n| n.chars().count() > FULL_NAME_MAX_CHARS) {
        return Err(AppError::invalid(
            "full_name",
            format!("full_name must be at most {FULL_NAME_MAX_CHARS} characters"),
        ));
    }
    Ok(full_name.map(str::to_owned))
}

/// Gives the caller's account a new name (None or blank clears it).
pub async fn rename(db: &Db, user: UserId, full_name: Option<&str>) -> Result<User, AppError> {
    let full_name = parse_full_name(full_name)?;
    db.change(move |tx| db::users::set_full_name(tx, user, full_name.as_deref()))
        .await?
        .ok_or_else(|| AppError::not_found("User"))
}

/// Creates a resident account.
pub async fn register(
    db: &Db,
    passwords: &Passwords,
    registration: Registration,
) -> Result<User, AppError> {
    create(db, passwords, registration, Role::User).await
}

/// Creates a staff account (`maintenance create-admin`): the address only normalized (an
/// operator may use a local domain such as `ops@localhost`), the password checked as at
/// registration.
pub async fn create_staff(
    db: &Db,
    passwords: &Passwords,
    email: &str,
    password: String,
    role: Role,
) -> Result<User, AppError> {
    if !role.is_staff() {
        return Err(AppError::invalid(
            "role",
            "create-admin makes admin or super_admin accounts",
        ));
    }
    let email = normalize_email(email).map_err(|m| AppError::invalid("email", m))?;
    check_password(&password).map_err(|m| AppError::invalid("password", m))?;
    let registration = Registration {
        email,
        password,
        full_name: None,
    };
    create(db, passwords, registration, role).await
}

async fn create(
    db: &Db,
    passwords: &Passwords,
    registration: Registration,
    role: Role,
) -> Result<User, AppError> {
    let hash = passwords.hash(registration.password).await?;
    db.change(move |tx| {
        db::users::insert_user(
            tx,
            &registration.email,
            registration.full_name.as_deref(),
            &hash,
            role,
        )
    })
    .await
}

/// The account for these credentials; the same 401 whether the email or the password is wrong.
pub async fn authenticate(
    db: &Db,
    passwords: &Passwords,
    email: &str,
    password: String,
) -> Result<User, AppError> {
    let email = email.trim().to_lowercase();
    let found = db
        .run(move |conn| db::users::find_credentials(conn, &email))
        .await?;
    let verifiable = verifiable(&password);
    let (user, hash) = match found {
        Some((user, hash)) if verifiable => (Some(user), Some(hash)),
        _ => (None, None),
    };
    if passwords.verify(password, hash).await? {
        user.ok_or_else(|| AppError::Unauthorized(BAD_LOGIN.into()))
    } else {
        Err(AppError::Unauthorized(BAD_LOGIN.into()))
    }
}

/// The account with this id, if it still exists.
pub async fn find(db: &Db, id: UserId) -> Result<Option<User>, AppError> {
    db.read(move |conn| db::users::find_user(conn, id)).await
}

/// One page of accounts and the total count.
pub async fn list(db: &Db, page: Page) -> Result<(Vec<User>, u64), AppError> {
    search(db, None, page).await
}

/// One page of the accounts whose email or name contains `text` (all without it), and how
/// many there are.
pub async fn search(
    db: &Db,
    text: Option<String>,
    page: Page,
) -> Result<(Vec<User>, u64), AppError> {
    db.run(move |conn| db::users::list_users(conn, text.as_deref(), page.limit, page.offset))
        .await
}

/// Refuses a change by `actor` unless they are still a super admin as the transaction
/// sees it, and unless at least one super admin remains after `target` stops being one.
/// Checked inside the write transaction, so two super admins demoting each other at once
/// cannot leave none: the second change finds its actor already demoted.
fn check_super_admin_change(
    tx: &rusqlite::Transaction<'_>,
    actor: UserId,
    target: UserId,
    target_remains_super_admin: bool,
) -> Result<(), AppError> {
    if db::users::role_of(tx, actor)? != Some(Role::SuperAdmin) {
        return Err(AppError::Forbidden("Not enough permissions".into()));
    }
    let target_is_super_admin = db::users::role_of(tx, target)? == Some(Role::SuperAdmin);
    if target_is_super_admin
        && !target_remains_super_admin
        && db::users::count_super_admins(tx)? <= 1
    {
        return Err(AppError::BadRequest(
            "At least one super admin must remain".into(),
        ));
    }
    Ok(())
}

/// An account's role change: the account as changed, and the role it had before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub user: User,
    pub previous: Role,
}

/// Gives `target` a new role and ends its sessions; nobody changes their own.
pub async fn change_role(
    state: &AppState,
    actor: &User,
    target: UserId,
    role: Role,
) -> Result<RoleChange, AppError> {
    if actor.id == target {
        return Err(AppError::Forbidden(
            "You cannot change your own role".into(),
        ));
    }
    let actor = actor.id;
    let change = state
        .db
        .write(&state.events, move |tx| {
            check_super_admin_change(tx, actor, target, role == Role::SuperAdmin)?;
            let previous = db::users::role_of(tx, target)?;
            let user = db::users::set_role(tx, target, role)?;
            let change = user
                .zip(previous)
                .map(|(user, previous)| RoleChange { user, previous });
            Ok((change, Vec::new()))
        })
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    state.account_changes.record(target);
    Ok(change)
}

/// Deletes another account in one transaction: each of its requests through the same path
/// as deleting that request (history, events, then the photos), then the account and its sessions.
pub async fn delete(state: &AppState, actor: &User, target: UserId) -> Result<(), AppError> {
    if actor.id == target {
        return Err(AppError::Forbidden(
            "You cannot delete your own account".into(),
        ));
    }
    let actor = actor.id;
    let photos = state
        .db
        .write(&state.events, move |tx| {
            check_super_admin_change(tx, actor, target, false)?;
            let mut photos = Vec::new();
            let mut events = Vec::new();
            for id in db::users::request_ids_of(tx, target)? {
                if let Some((owner, photo)) =
                    db::requests::delete_request(tx, id, crate::requests::Scope::All, actor)?
                {
                    photos.extend(photo);
                    events.push(crate::events::Event::RequestDeleted { id, user_id: owner });
                }
            }
            if !db::users::delete_user(tx, target)? {
                return Err(AppError::not_found("User"));
            }
            Ok((photos, events))
        })
        .await?;
    state.account_changes.record(target);
    for file in photos {
        crate::photos::remove(state, file).await;
    }
    Ok(())
}

/// Ends every session of an account (log out everywhere); open sockets close.
pub async fn end_all_sessions(state: &AppState, id: UserId) -> Result<(), AppError> {
    crate::auth::sessions::end_all(&state.db, id).await?;
    state.account_changes.record(id);
    Ok(())
}

/// Replaces the caller's password after checking the current one. Every session of the
/// account ends, the caller's too (open sockets close), and its reset links are used up.
pub async fn change_password(
    state: &AppState,
    user: &User,
    current: String,
    new: String,
) -> Result<(), AppError> {
    check_password(&new).map_err(|m| AppError::invalid("new_password", m))?;
    let id = user.id;
    let hash = state
        .db
        .run(move |conn| db::users::password_hash(conn, id))
        .await?;
    // Checked as a login checks it (a dummy verify keeps the time the same).
    let hash = hash.filter(|_| verifiable(&current));
    if !state.passwords.verify(current, hash).await? {
        return Err(AppError::Forbidden("Current password is incorrect".into()));
    }
    set_password(&state.db, &state.passwords, id, new).await?;
    state.account_changes.record(id);
    Ok(())
}

/// Whether bcrypt can check `password` as typed: one it would cut short (NUL) or truncate
/// (past 72 bytes) never matches.
fn verifiable(password: &str) -> bool {
    !password.is_empty() && !password.contains('\0') && password.len() <= PASSWORD_MAX_BYTES
}

/// Sets an account's password without asking for the old one (command line, recovery).
pub async fn set_password(
    db: &Db,
    passwords: &Passwords,
    id: UserId,
    new: String,
) -> Result<(), AppError> {
    check_password(&new).map_err(|m| AppError::invalid("password", m))?;
    let hash = passwords.hash(new).await?;
    let updated = db
        .change(move |tx| db::users::set_password_hash(tx, id, &hash))
        .await?;
    if updated {
        Ok(())
    } else {
        Err(AppError::not_found("User"))
    }
}

/// The account with this email, if any.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, AppError> {
    let email = email.trim().to_lowercase();
    Ok(db
        .run(move |conn| db::users::find_credentials(conn, &email))
        .await?
        .map(|(user, _)| user))
}

/// Makes sure a super admin exists at start-up.
///
/// With a configured seed: create that account, or promote it, but never
/// change an existing password. Without one, and with no super admin yet:
/// create `admin@localhost` with a random password, returned so that the caller can show it
/// once (in the start-up banner, never in a log line).
pub async fn ensure_super_admin(
    db: &Db,
    passwords: &Passwords,
    seed: Option<&SuperAdminSeed>,
) -> Result<Option<Secret>, AppError> {
    match seed {
        Some(seed) => ensure_seeded(db, passwords, seed).await.map(|()| None),
        None => ensure_default(db, passwords).await,
    }
}

async fn ensure_seeded(
    db: &Db,
    passwords: &Passwords,
    seed: &SuperAdminSeed,
) -> Result<(), AppError> {
    let email = seed.email.clone();
    let found = db
        .run(move |conn| db::users::find_credentials(conn, &email))
        .await?;
    match found {
        None => {
            let registration = Registration {
                email: seed.email.clone(),
                password: seed.password.expose().to_owned(),
                full_name: None,
            };
            create(db, passwords, registration, Role::SuperAdmin).await?;
            tracing::info!(email = %seed.email, "created the super admin account from SUPER_ADMIN_EMAIL");
        }
        // The import disables a staff password that was the original's published default:
        // the operator naming this account with a new password is the one to revive it.
        Some((user, hash)) if hash.starts_with('!') => {
            let id = user.id;
            set_password(db, passwords, id, seed.password.expose().to_owned()).await?;
            db.change(move |tx| db::users::set_role(tx, id, Role::SuperAdmin))
                .await?;
            tracing::info!(
                email = %seed.email,
                "set SUPER_ADMIN_PASSWORD on the super admin whose password the import had disabled"
            );
        }
        Some((user, hash)) => {
            let matches = passwords
                .verify(seed.password.expose().to_owned(), Some(hash))
                .await?;
            match (user.role == Role::SuperAdmin, matches) {
                (true, true) => {}
                (true, false) => tracing::warn!(
                    email = %seed.email,
                    "SUPER_ADMIN_PASSWORD differs from this super admin's password; the current password was kept \
                     (it was changed after the account was created)"
                ),
                // Whoever knows the password owns the account: promoting it gives nobody anything new.
                (false, true) => {
                    let id = user.id;
                    db.change(move |tx| db::users::set_role(tx, id, Role::SuperAdmin))
                        .await?;
                    tracing::info!(email = %seed.email, "promoted the existing account to super_admin");
                }
                // Someone else may have registered this address first: never hand them the keys.
                (false, false) => {
                    return Err(AppError::Conflict(format!(
                        "SUPER_ADMIN_EMAIL names an existing {role} account ({email}) whose password is not \
                         SUPER_ADMIN_PASSWORD, so it was not promoted. If the account is yours, set its password \
                         with `maintenance set-password {email}` and start again; otherwise unset \
                         SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD (or name another address).",
                        role = user.role.as_str(),
                        email = seed.email,
                    )));
                }
            }
        }
    }
    Ok(())
}

async fn ensure_default(db: &Db, passwords: &Passwords) -> Result<Option<Secret>, AppError> {
    if db.run(|conn| db::users::super_admin_exists(conn)).await? {
        let locked = db
            .run(|conn| db::users::super_admins_locked_out(conn))
            .await?;
        if let Some(email) = locked.first() {
            tracing::warn!(
                accounts = %locked.join(", "),
                "no super admin can log in: the import disabled their published default password; \
                 set one with `maintenance set-password {email}` (or SUPER_ADMIN_EMAIL={email} and \
                 SUPER_ADMIN_PASSWORD)"
            );
        }
        return Ok(None);
    }
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    let password = hex::encode(bytes);
    let registration = Registration {
        email: DEFAULT_SUPER_ADMIN_EMAIL.into(),
        password: password.clone(),
        full_name: Some("Administrator".into()),
    };
    match create(db, passwords, registration, Role::SuperAdmin).await {
        Ok(_) => {
            // The password goes to the banner only.
            tracing::info!(
                email = DEFAULT_SUPER_ADMIN_EMAIL,
                "created the super admin account (its password is in the start-up banner)"
            );
            Ok(Some(Secret::new(password)))
        }
        Err(AppError::EmailTaken) => {
            tracing::error!(
                "no super admin exists and {DEFAULT_SUPER_ADMIN_EMAIL} is taken by another account; \
                 set SUPER_ADMIN_EMAIL and SUPER_ADMIN_PASSWORD to name one"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Kim@Example.COM ").unwrap(),
            "kim@example.com"
        );
        assert_eq!(
            normalize_email("admin@localhost").unwrap(),
            "admin@localhost"
        );
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a@.com",
            "a@b.com.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn invisible_and_look_alike_characters_are_refused_in_emails_and_names() {
        for bad in [
            "kim\u{200B}@example.com",
            "kim@exam\u{202E}ple.com",
            "kim@ex\u{0430}mple.com",
            "\u{FEFF}kim@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
        for bad in ["홍길동\u{200B}", "\u{202E}nimda", "\u{3164}", "a\u{2066}b"] {
            assert!(
                Registration::parse("a@b.co", "password1".into(), Some(bad)).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(Registration::parse("a@b.co", "password1".into(), Some("김 철수")).is_ok());
    }

    #[test]
    fn passwords_with_control_characters_are_refused() {
        assert!(check_password(&"\0".repeat(10)).is_err());
        assert!(check_password("password\0").is_err());
        assert!(check_password("pass\tword").is_err());
        assert!(check_password("pass word 비밀").is_ok());
    }

    #[test]
    fn password_length_is_counted_in_bytes() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"a".repeat(72)).is_ok());
        assert!(check_password(&"a".repeat(73)).is_err());
        // 24 Hangul syllables are 72 bytes; 25 are 75.
        assert!(check_password(&"가".repeat(24)).is_ok());
        assert!(check_password(&"가".repeat(25)).is_err());
    }

    #[test]
    fn registration_requires_a_dotted_domain() {
        assert!(Registration::parse("admin@localhost", "password1".into(), None).is_err());
        let r = Registration::parse("A@B.co", "password1".into(), Some("  홍길동 ")).unwrap();
        assert_eq!(r.email, "a@b.co");
        assert_eq!(r.full_name.as_deref(), Some("홍길동"));
    }
}
