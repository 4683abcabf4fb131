//! Backups are age files (age-encryption.org/v1, the `age` crate): to a
//! passphrase (scrypt) or to X25519 recipients (`age1…`), so the `age` CLI
//! opens them too. A backup holds private keys: there is no unencrypted
//! form.

use age::secrecy::SecretString;
use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

/// The environment variable a passphrase may come from (else a file).
pub const PASSPHRASE_ENV: &str = "CARTORIO_BACKUP_PASSPHRASE";

/// Who can open a backup.
pub enum Seal {
    Passphrase(SecretString),
    Recipients(Vec<age::x25519::Recipient>),
}

/// What opens a backup.
pub enum Unseal {
    Passphrase(SecretString),
    Identities(Vec<Box<dyn age::Identity>>),
}

/// scrypt over a short passphrase is the only protection of the CA's keys.
const MIN_PASSPHRASE_CHARS: usize = 12;

/// The passphrase of `file` (first line) or of [`PASSPHRASE_ENV`].
pub fn passphrase(file: Option<&Path>) -> anyhow::Result<Option<SecretString>> {
    let text = match file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            text.lines().next().unwrap_or("").to_owned()
        }
        None => match std::env::var(PASSPHRASE_ENV) {
            Ok(text) => text,
            Err(_) => return Ok(None),
        },
    };
    if text.chars().count() < MIN_PASSPHRASE_CHARS {
        bail!("the backup passphrase must have at least {MIN_PASSPHRASE_CHARS} characters");
    }
    Ok(Some(SecretString::from(text)))
}

impl Seal {
    /// From the command line: recipients (`age1…`) or a passphrase, not both.
    pub fn choose(recipients: &[String], passphrase_file: Option<&Path>) -> anyhow::Result<Self> {
        let passphrase = passphrase(passphrase_file)?;
        match (recipients.is_empty(), passphrase) {
            (false, Some(_)) => bail!("give recipients or a passphrase, not both"),
            (false, None) => recipients
                .iter()
                .map(|r| {
                    age::x25519::Recipient::from_str(r.trim())
                        .map_err(|e| anyhow::anyhow!("recipient {r:?}: {e}"))
                })
                .collect::<anyhow::Result<_>>()
                .map(Self::Recipients),
            (true, Some(passphrase)) => Ok(Self::Passphrase(passphrase)),
            (true, None) => bail!(
                "a backup holds the CA's private keys and is always encrypted: give --recipient age1… \
                 (see age-keygen), --passphrase-file FILE, or set {PASSPHRASE_ENV}"
            ),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Passphrase(_) => "a passphrase (scrypt)".into(),
            Self::Recipients(r) => format!("{} age recipient(s)", r.len()),
        }
    }

    /// Encrypts everything written to the returned writer into `out`;
    /// call `finish()` on it to write the last chunk.
    pub fn wrap<W: Write>(&self, out: W) -> anyhow::Result<age::stream::StreamWriter<W>> {
        let encryptor = match self {
            Self::Passphrase(passphrase) => age::Encryptor::with_user_passphrase(passphrase.clone()),
            Self::Recipients(recipients) => {
                age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))?
            }
        };
        Ok(encryptor.wrap_output(out)?)
    }
}

impl Unseal {
    /// From the command line: an identity file (`age-keygen` output) or a passphrase.
    pub fn choose(identity: Option<&Path>, passphrase_file: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(path) = identity {
            let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            let identities = age::IdentityFile::from_buffer(std::io::BufReader::new(file))
                .with_context(|| format!("parsing the age identity file {}", path.display()))?
                .into_identities()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            return Ok(Self::Identities(identities));
        }
        match passphrase(passphrase_file)? {
            Some(passphrase) => Ok(Self::Passphrase(passphrase)),
            None => bail!("give --identity FILE or --passphrase-file FILE (or set {PASSPHRASE_ENV})"),
        }
    }

    /// The plaintext of the age file `input`.
    pub fn open<R: Read>(&self, input: R) -> anyhow::Result<impl Read> {
        let decryptor = age::Decryptor::new(input).context("this is not an age-encrypted Cartorio backup")?;
        let opened = match self {
            Self::Passphrase(passphrase) => {
                if !decryptor.is_scrypt() {
                    bail!("this backup is encrypted to age recipients: give --identity FILE");
                }
                let identity = age::scrypt::Identity::new(passphrase.clone());
                decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
            }
            Self::Identities(identities) => {
                if decryptor.is_scrypt() {
                    bail!("this backup is encrypted to a passphrase: give --passphrase-file FILE");
                }
                decryptor.decrypt(identities.iter().map(|i| i.as_ref()))
            }
        };
        opened.map_err(|error| match error {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                anyhow::anyhow!("the passphrase or identity given does not open this backup")
            }
            other => anyhow::anyhow!("decrypting the backup: {other}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(seal: &Seal, unseal: &Unseal) -> anyhow::Result<Vec<u8>> {
        let mut sealed = Vec::new();
        let mut writer = seal.wrap(&mut sealed)?;
        writer.write_all(b"registry and keys")?;
        writer.finish()?;
        let mut plain = Vec::new();
        unseal.open(&sealed[..])?.read_to_end(&mut plain)?;
        Ok(plain)
    }

    #[test]
    fn a_recipient_backup_opens_with_its_identity_only() {
        let identity = age::x25519::Identity::generate();
        let seal = Seal::Recipients(vec![identity.to_public()]);
        let right = Unseal::Identities(vec![Box::new(identity)]);
        assert_eq!(roundtrip(&seal, &right).expect("opens"), b"registry and keys");
        let wrong = Unseal::Identities(vec![Box::new(age::x25519::Identity::generate())]);
        let error = roundtrip(&seal, &wrong).expect_err("another identity");
        assert!(error.to_string().contains("does not open"), "{error}");
        let passphrase = Unseal::Passphrase(SecretString::from("a passphrase long enough".to_owned()));
        assert!(roundtrip(&seal, &passphrase).is_err());
    }

    #[test]
    fn a_passphrase_backup_needs_the_same_passphrase() {
        let seal = Seal::Passphrase(SecretString::from("correct horse battery".to_owned()));
        let right = Unseal::Passphrase(SecretString::from("correct horse battery".to_owned()));
        assert_eq!(roundtrip(&seal, &right).expect("opens"), b"registry and keys");
        let wrong = Unseal::Passphrase(SecretString::from("incorrect horse battery".to_owned()));
        assert!(roundtrip(&seal, &wrong).expect_err("wrong").to_string().contains("does not open"));
    }

    #[test]
    fn there_is_no_unencrypted_backup() {
        let error = Seal::choose(&[], Some(Path::new("/nonexistent"))).err().expect("no file");
        assert!(error.to_string().contains("reading"), "{error}");
        assert!(Seal::choose(&["not-a-recipient".into()], None).is_err());
    }
}
