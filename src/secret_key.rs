//! Where the server's root secret comes from, and how sealed data follows it when it changes.
//!
//! * `SECRET_KEY` (`security.secret_key`) set: that key. Production requires it.
//! * Not set (development): `{data_dir}/secret.key`, generated on the first start as 256
//!   random bits and read on every later start. It is created atomically (written to a
//!   private temporary file, then hard-linked into place, which fails if another process
//!   got there first), so processes starting together all end up with the same key.
//! * The key DocuVault's defaults once published is never used: settings refuse it, and
//!   values an old installation sealed with it are re-sealed under the real key at start
//!   ([`reseal_published`]).
//! * `docuvault rotate-secret` ([`reseal_all`]) re-seals every sealed column under a new
//!   key in one transaction and ends what cannot follow (sessions, backup codes).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait as _,
};
use secrecy::SecretString;
use uuid::Uuid;

use crate::crypto::{Keys, PUBLISHED_DEVELOPMENT_KEY, generate_secret_key};
use crate::entities::{backup_codes, cloud_connections, refresh_tokens, users, webhooks};
use crate::settings::Settings;

/// Shortest key accepted from a key file or for a rotation.
const MIN_KEY_LEN: usize = 32;

/// Where the root secret in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SECRET_KEY` / `security.secret_key`.
    Configured,
    /// The key file in the data directory; `created` on this start.
    KeyFile {
        /// Path of the key file.
        path: PathBuf,
        /// Generated just now (first start).
        created: bool,
    },
}

/// The root secret and where it came from.
pub struct RootSecret {
    /// The secret every sub-key is derived from.
    pub secret: SecretString,
    /// Its origin, for the start-up log.
    pub source: KeySource,
}

/// The file an interrupted `docuvault rotate-secret` leaves next to the key file.
pub fn pending_rotation_file(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// The root secret this process must use: `SECRET_KEY`, else the key file (generated on
/// the first start).
///
/// # Errors
///
/// An unreadable or malformed key file, a data directory where it cannot be created, or
/// an unfinished rotation (`secret.key.new` present).
pub fn resolve(settings: &Settings) -> anyhow::Result<RootSecret> {
    if let Some(key) = settings.configured_secret_key() {
        return Ok(RootSecret {
            secret: SecretString::from(key.to_owned()),
            source: KeySource::Configured,
        });
    }
    let path = settings.secret_key_file();
    let pending = pending_rotation_file(&path);
    if pending.exists() {
        bail!(
            "{} is left from an interrupted `docuvault rotate-secret`; run `docuvault \
             rotate-secret` again to finish it before starting",
            pending.display()
        );
    }
    let (key, created) = load_or_create_key_file(&path)?;
    Ok(RootSecret {
        secret: SecretString::from(key),
        source: KeySource::KeyFile { path, created },
    })
}

/// Reads the key file at `path`, or creates it with a fresh key when it does not exist.
/// Returns the key and whether it was created by this call.
///
/// Safe against concurrent callers: exactly one creates the file, and every caller
/// returns the key it holds.
///
/// # Errors
///
/// The directory cannot be created or written, or an existing file is not a usable key.
pub fn load_or_create_key_file(path: &Path) -> anyhow::Result<(String, bool)> {
    match read_key_file(path) {
        Ok(key) => return Ok((key, false)),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e),
    }
    let key = generate_secret_key();
    if publish_new_key_file(path, &key)? {
        Ok((key, true))
    } else {
        // Another process created it between our read and our link: use theirs.
        Ok((read_key_file(path)?, false))
    }
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == ErrorKind::NotFound)
}

/// Reads and checks a key file (at least 32 printable characters, not the published key).
/// A file readable by other users is used, with a warning.
///
/// # Errors
///
/// The file cannot be read (a `NotFound` [`std::io::Error`] when missing) or holds no
/// usable key.
pub fn read_key_file(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path)?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            "secret key file {} is accessible to other users (mode {:04o}); `chmod 600` it",
            path.display(),
            mode & 0o7777
        );
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("reading secret key file {}", path.display()))?;
    let key = text.trim();
    check_key(key).with_context(|| {
        format!(
            "secret key file {} holds no usable key (it is never replaced automatically: \
             data sealed with it would be lost)",
            path.display()
        )
    })?;
    Ok(key.to_owned())
}

/// A key from a file or for a rotation: long enough, printable, not the published one.
fn check_key(key: &str) -> anyhow::Result<()> {
    if key == PUBLISHED_DEVELOPMENT_KEY {
        bail!("it is the development key published in DocuVault's repository");
    }
    if key.len() < MIN_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("a key must be at least {MIN_KEY_LEN} printable ASCII characters without spaces");
    }
    Ok(())
}

/// Writes `key` to a private temporary file and links it to `path`. `Ok(false)` when
/// `path` already exists (nothing is changed then).
fn publish_new_key_file(path: &Path, key: &str) -> anyhow::Result<bool> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let tmp = dir.join(format!(".secret.key.{}.tmp", Uuid::new_v4().simple()));
    let written = write_private(&tmp, key);
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(dir);
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| {
            format!(
                "creating secret key file {} (set SECRET_KEY instead if this file system \
                 cannot hold it)",
                path.display()
            )
        }),
    }
}

/// Creates `path` (which must not exist) with mode 0600 holding `key`, flushed to disk.
fn write_private(path: &Path, key: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(format!("{key}\n").as_bytes())?;
    file.sync_all()
}

/// Makes a new directory entry durable (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// One sealed column of `users` and the associated data it is sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sealed {
    TotpSecret,
    AiApiKey,
}

impl Sealed {
    const ALL: [Sealed; 2] = [Sealed::TotpSecret, Sealed::AiApiKey];

    fn column(self) -> users::Column {
        match self {
            Sealed::TotpSecret => users::Column::TotpSecret,
            Sealed::AiApiKey => users::Column::AiApiKeyEnc,
        }
    }

    fn value(self, user: &users::Model) -> Option<&str> {
        match self {
            Sealed::TotpSecret => user.totp_secret.as_deref(),
            Sealed::AiApiKey => user.ai_api_key_enc.as_deref(),
        }
    }

    fn aad(self, user: Uuid) -> Vec<u8> {
        match self {
            Sealed::TotpSecret => user.as_bytes().to_vec(),
            Sealed::AiApiKey => crate::crypto::api_key_aad(user),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Sealed::TotpSecret => "TOTP secret",
            Sealed::AiApiKey => "AI provider key",
        }
    }
}

async fn users_with_sealed_values(
    db: &impl ConnectionTrait,
) -> Result<Vec<users::Model>, sea_orm::DbErr> {
    users::Entity::find()
        .filter(
            Condition::any()
                .add(users::Column::TotpSecret.is_not_null())
                .add(users::Column::AiApiKeyEnc.is_not_null()),
        )
        .all(db)
        .await
}

/// Replaces one sealed value, only if it still is `old` (so a concurrent change is
/// never overwritten). Returns whether the row changed.
async fn replace_sealed(
    db: &impl ConnectionTrait,
    user: Uuid,
    what: Sealed,
    old: &str,
    new: String,
) -> Result<bool, sea_orm::DbErr> {
    let result = users::Entity::update_many()
        .col_expr(what.column(), Expr::value(new))
        .filter(users::Column::Id.eq(user))
        .filter(what.column().eq(old))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// What start-up found and fixed about sealed values.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StartupCheck {
    /// Values sealed with the published key, now re-sealed under the current key.
    pub resealed: u64,
    /// Users whose backup codes were removed because they were hashed with the published key.
    pub backup_codes_removed_for: u64,
    /// Values that open with neither key (sealed under some other key).
    pub unreadable: u64,
}

/// Re-seals, under `keys`, every value an old installation sealed with the published
/// development key, and checks the rest open under `keys`.
///
/// Users whose TOTP secret was re-sealed lose their backup codes (stored only as hashes
/// keyed by the published key, they can neither be re-hashed nor kept usable safely); they
/// can generate new ones. Safe to run from several instances at once.
///
/// # Errors
///
/// Database errors.
pub async fn reseal_published(
    db: &DatabaseConnection,
    keys: &Keys,
) -> Result<StartupCheck, sea_orm::DbErr> {
    let published = Keys::derive(PUBLISHED_DEVELOPMENT_KEY);
    let mut check = StartupCheck::default();
    for user in users_with_sealed_values(db).await? {
        for what in Sealed::ALL {
            let Some(sealed) = what.value(&user) else {
                continue;
            };
            let aad = what.aad(user.id);
            if keys.decrypt(sealed, &aad).is_ok() {
                continue;
            }
            let Ok(plain) = published.decrypt(sealed, &aad) else {
                check.unreadable += 1;
                continue;
            };
            let txn = db.begin().await?;
            if replace_sealed(&txn, user.id, what, sealed, keys.encrypt(&plain, &aad)).await? {
                check.resealed += 1;
                if what == Sealed::TotpSecret {
                    let removed = backup_codes::Entity::delete_many()
                        .filter(backup_codes::Column::UserId.eq(user.id))
                        .exec(&txn)
                        .await?;
                    if removed.rows_affected > 0 {
                        check.backup_codes_removed_for += 1;
                    }
                }
            }
            txn.commit().await?;
        }
    }
    Ok(check)
}

/// `sealed` (the `what` of user `user`) sealed under `new` instead of `old`; `None` when
/// it already is under `new`. The one re-sealing step of a rotation and of an import.
fn reseal_value(
    what: Sealed,
    user: Uuid,
    sealed: &str,
    old: &Keys,
    new: &Keys,
) -> anyhow::Result<Option<String>> {
    let aad = what.aad(user);
    match old.decrypt(sealed, &aad) {
        Ok(plain) => Ok(Some(new.encrypt(&plain, &aad))),
        Err(_) if new.decrypt(sealed, &aad).is_ok() => Ok(None),
        Err(_) => bail!(
            "the {} of user {user} opens with neither the old key nor the new one",
            what.name()
        ),
    }
}

/// Re-seals the sealed values of one account row (TOTP secret, AI provider key) from `old`
/// to `new` in memory, as a rotation does in the database (`docuvault import
/// --source-secret-key`); values already under `new` stay. Returns how many changed.
///
/// # Errors
///
/// A value opens with neither key (the row is then unchanged).
pub fn reseal_user(user: &mut users::Model, old: &Keys, new: &Keys) -> anyhow::Result<u32> {
    let mut changed = Vec::new();
    for what in Sealed::ALL {
        if let Some(sealed) = what.value(user)
            && let Some(resealed) = reseal_value(what, user.id, sealed, old, new)?
        {
            changed.push((what, resealed));
        }
    }
    let count = changed.len() as u32;
    for (what, resealed) in changed {
        match what {
            Sealed::TotpSecret => user.totp_secret = Some(resealed),
            Sealed::AiApiKey => user.ai_api_key_enc = Some(resealed),
        }
    }
    Ok(count)
}

/// Re-seals the sealed login of a linked account (`cloud_connections`; only mail
/// accounts, provider `imap`, are written by this version) from `old` to `new` in memory.
/// Returns whether it changed (`false`: already under `new`).
///
/// # Errors
///
/// Another provider (format unknown), or the login opens with neither key.
pub fn reseal_connection(
    row: &mut cloud_connections::Model,
    old: &Keys,
    new: &Keys,
) -> anyhow::Result<bool> {
    if row.provider != "imap" {
        bail!(
            "cloud connection {} (provider {:?}) cannot be re-sealed by this version",
            row.id,
            row.provider
        );
    }
    let aad = crate::crypto::mail_credentials_aad(row.id);
    match old.decrypt(&row.credentials_enc, &aad) {
        Ok(plain) => {
            row.credentials_enc = new.encrypt(&plain, &aad);
            Ok(true)
        }
        Err(_) if new.decrypt(&row.credentials_enc, &aad).is_ok() => Ok(false),
        Err(_) => bail!(
            "the login of mail account {} opens with neither the old key nor the new one",
            row.id
        ),
    }
}

/// Checks that every sealed value of one account row opens under `keys`.
///
/// # Errors
///
/// Names the first value that does not.
pub fn check_user_sealed(user: &users::Model, keys: &Keys) -> anyhow::Result<()> {
    for what in Sealed::ALL {
        if let Some(sealed) = what.value(user)
            && keys.decrypt(sealed, &what.aad(user.id)).is_err()
        {
            bail!(
                "the {} of user {} ({}) does not open with this instance's secret key",
                what.name(),
                user.id,
                user.handle
            );
        }
    }
    Ok(())
}

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// TOTP secrets re-sealed under the new key.
    pub totp_secrets: u64,
    /// Users' AI provider keys re-sealed under the new key.
    pub ai_keys: u64,
    /// Mail accounts' logins (e-mail intake) re-sealed under the new key.
    pub mail_accounts: u64,
    /// Values that were already sealed under the new key (a resumed rotation).
    pub already_new: u64,
    /// Refresh tokens removed (every session ends).
    pub refresh_tokens: u64,
    /// Users whose backup codes were removed.
    pub backup_code_users: u64,
    /// Webhook signing secrets re-sealed under the new key.
    pub webhook_secrets: u64,
}

/// Re-seals every sealed value from `old` to `new` in one transaction, and removes what is
/// keyed by the old key and cannot be converted: refresh tokens (every session ends) and
/// backup codes (users generate new ones). Values already under `new` are left as they
/// are, so an interrupted rotation can be run again.
///
/// # Errors
///
/// Nothing changes when a value opens with neither key, when a value changes meanwhile
/// (an instance is still running), when linked cloud credentials exist (no code seals
/// them yet, so their format is unknown), or on database errors.
pub async fn reseal_all(
    db: &DatabaseConnection,
    old: &Keys,
    new: &Keys,
) -> anyhow::Result<RotationReport> {
    let txn = crate::db::begin_write(db).await?;
    let mut report = RotationReport::default();
    for row in cloud_connections::Entity::find().all(&txn).await? {
        let mut resealed = row.clone();
        if !reseal_connection(&mut resealed, old, new)
            .map_err(|e| anyhow::anyhow!("{e}; nothing changed"))?
        {
            report.already_new += 1;
            continue;
        }
        let changed = cloud_connections::Entity::update_many()
            .col_expr(
                cloud_connections::Column::CredentialsEnc,
                Expr::value(resealed.credentials_enc),
            )
            .filter(cloud_connections::Column::Id.eq(row.id))
            .filter(cloud_connections::Column::CredentialsEnc.eq(row.credentials_enc))
            .exec(&txn)
            .await?;
        if changed.rows_affected != 1 {
            bail!(
                "the login of mail account {} changed during the rotation (is an instance \
                 still running? stop them all first); nothing changed",
                row.id
            );
        }
        report.mail_accounts += 1;
    }
    for user in users_with_sealed_values(&txn).await? {
        for what in Sealed::ALL {
            let Some(sealed) = what.value(&user) else {
                continue;
            };
            let Some(resealed) = reseal_value(what, user.id, sealed, old, new)
                .map_err(|e| anyhow::anyhow!("{e}; nothing changed"))?
            else {
                report.already_new += 1;
                continue;
            };
            if !replace_sealed(&txn, user.id, what, sealed, resealed).await? {
                bail!(
                    "the {} of user {} changed during the rotation (is an instance still \
                     running? stop them all first); nothing changed",
                    what.name(),
                    user.id
                );
            }
            match what {
                Sealed::TotpSecret => report.totp_secrets += 1,
                Sealed::AiApiKey => report.ai_keys += 1,
            }
        }
    }
    for webhook in webhooks::Entity::find().all(&txn).await? {
        let aad = crate::crypto::webhook_secret_aad(webhook.id);
        let resealed = match old.decrypt(&webhook.secret, &aad) {
            Ok(plain) => new.encrypt(&plain, &aad),
            Err(_) if new.decrypt(&webhook.secret, &aad).is_ok() => {
                report.already_new += 1;
                continue;
            }
            Err(_) => bail!(
                "the signing secret of webhook {} opens with neither the old key nor the new \
                 one; nothing changed",
                webhook.id
            ),
        };
        let replaced = webhooks::Entity::update_many()
            .col_expr(webhooks::Column::Secret, Expr::value(resealed))
            .filter(webhooks::Column::Id.eq(webhook.id))
            .filter(webhooks::Column::Secret.eq(webhook.secret.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if replaced != 1 {
            bail!(
                "webhook {} changed during the rotation (is an instance still running? stop \
                 them all first); nothing changed",
                webhook.id
            );
        }
        report.webhook_secrets += 1;
    }
    report.backup_code_users = backup_codes::Entity::find()
        .select_only()
        .column(backup_codes::Column::UserId)
        .distinct()
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?
        .len() as u64;
    backup_codes::Entity::delete_many().exec(&txn).await?;
    // Personal API tokens are keyed hashes too: under the new key none would match.
    crate::entities::api_tokens::Entity::delete_many()
        .exec(&txn)
        .await?;
    report.refresh_tokens = refresh_tokens::Entity::delete_many()
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(report)
}

/// Writes the next key of a key-file rotation to `secret.key.new` (mode 0600), unless an
/// interrupted rotation left one there, which is then reused. Returns the key.
///
/// # Errors
///
/// The file cannot be written, or the one left over holds no usable key.
pub fn prepare_pending_key(key_file: &Path, new_key: Option<String>) -> anyhow::Result<String> {
    let pending = pending_rotation_file(key_file);
    match read_key_file(&pending) {
        Ok(key) => return Ok(key),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e),
    }
    let key = new_key.unwrap_or_else(generate_secret_key);
    check_new_key(&key)?;
    write_private(&pending, &key)
        .with_context(|| format!("writing the new key to {}", pending.display()))?;
    if let Some(dir) = pending.parent() {
        sync_dir(dir);
    }
    Ok(key)
}

/// Moves `secret.key.new` over the key file once the database uses the new key.
///
/// # Errors
///
/// The rename fails.
pub fn commit_pending_key(key_file: &Path) -> anyhow::Result<()> {
    let pending = pending_rotation_file(key_file);
    std::fs::rename(&pending, key_file).with_context(|| {
        format!(
            "moving {} to {} (the database already uses the new key: move it by hand)",
            pending.display(),
            key_file.display()
        )
    })?;
    if let Some(dir) = key_file.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Checks a key given for a rotation.
///
/// # Errors
///
/// Too short, not printable, or the published development key.
pub fn check_new_key(key: &str) -> anyhow::Result<()> {
    check_key(key).context("DOCUVAULT_NEW_SECRET_KEY")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_first_call_creates_a_private_key_file_and_later_calls_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/secret.key");
        let (key, created) = load_or_create_key_file(&path).unwrap();
        assert!(created);
        assert_eq!(key.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{key}\n"));
        assert_eq!(load_or_create_key_file(&path).unwrap(), (key, false));
        // No temporary files are left behind.
        assert_eq!(
            std::fs::read_dir(dir.path().join("data")).unwrap().count(),
            1
        );
    }

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("secret.key");
            let results: Vec<(String, bool)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| s.spawn(|| load_or_create_key_file(&path).unwrap()))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
            assert!(results.iter().all(|(k, _)| *k == results[0].0));
        }
    }

    #[test]
    fn a_damaged_key_file_is_refused_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        for bad in ["", "short\n", PUBLISHED_DEVELOPMENT_KEY] {
            std::fs::write(&path, bad).unwrap();
            let e = format!("{:#}", load_or_create_key_file(&path).unwrap_err());
            assert!(e.contains("holds no usable key"), "{e}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
        }
        // A key written by hand (e.g. copied from another instance) is fine.
        std::fs::write(&path, "my-own-key-that-is-long-enough-0123456789\n").unwrap();
        assert_eq!(
            load_or_create_key_file(&path).unwrap().0,
            "my-own-key-that-is-long-enough-0123456789"
        );
    }

    #[test]
    fn a_pending_rotation_key_is_written_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let (old, _) = load_or_create_key_file(&path).unwrap();
        let new = prepare_pending_key(&path, None).unwrap();
        assert_ne!(new, old);
        assert_eq!(prepare_pending_key(&path, None).unwrap(), new);
        let pending = pending_rotation_file(&path);
        assert_eq!(
            std::fs::metadata(&pending).unwrap().permissions().mode() & 0o777,
            0o600
        );
        commit_pending_key(&path).unwrap();
        assert!(!pending.exists());
        assert_eq!(read_key_file(&path).unwrap(), new);
        assert!(prepare_pending_key(&path, Some("short".into())).is_err());
        assert!(!pending.exists());
    }
}
