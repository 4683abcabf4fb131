//! The KEKs a gateway knows: the current one seals new objects, older ones
//! (kept after a rotation) only open what they sealed until
//! `cartorio gateway rewrap` has moved every object to the current one.

use super::Kek;
use std::path::PathBuf;

pub struct Keyring {
    current: Kek,
    older: Vec<Kek>,
}

impl Keyring {
    pub fn new(current: Kek, older: Vec<Kek>) -> Self {
        Self { current, older }
    }

    /// `current`, and the local KEKs in the files `older`.
    pub fn with_older_files(current: Kek, older: &[PathBuf]) -> anyhow::Result<Self> {
        let older = older.iter().map(|f| Kek::from_file(f)).collect::<anyhow::Result<_>>()?;
        Ok(Self::new(current, older))
    }

    pub fn current(&self) -> &Kek {
        &self.current
    }

    /// The KEK whose id is `id`, current or older.
    pub fn find(&self, id: &[u8]) -> Option<&Kek> {
        std::iter::once(&self.current).chain(&self.older).find(|k| k.id().as_bytes() == id)
    }

    /// Every id, current first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.current).chain(&self.older).map(Kek::id).collect()
    }
}
