//! A PKCS#11 module (shared library) as this process sees it: loaded and
//! initialized once, however many tokens use it. PKCS#11 has one C_Initialize
//! per process, and SoftHSM2 crashes when two threads initialize it at once.

use anyhow::Context;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub struct Module {
    path: PathBuf,
    state: Mutex<State>,
    /// Held shared by every operation and exclusively by those that create
    /// objects: SoftHSM2's file object store corrupts its heap when a key is
    /// generated while other threads use the token (seen in our tests). Key
    /// management is rare, so real HSMs lose nothing.
    objects: RwLock<()>,
}

#[derive(Default)]
struct State {
    context: Option<Pkcs11>,
    /// Bumped by every initialization.
    generation: u64,
}

static LOADED: LazyLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = LazyLock::new(Default::default);

impl Module {
    /// The module at `path`, shared by every token of this process.
    pub fn get(path: &Path) -> Arc<Self> {
        let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        loaded
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                Arc::new(Self { path: path.to_path_buf(), state: Mutex::default(), objects: RwLock::new(()) })
            })
            .clone()
    }

    /// For operations that only use objects (sign, find, read attributes).
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.objects.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// For operations that create or destroy objects.
    pub fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.objects.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The initialized context and its generation, initializing if needed.
    pub fn context(&self) -> anyhow::Result<(Pkcs11, u64)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(context) = &state.context {
            return Ok((context.clone(), state.generation));
        }
        let context = Pkcs11::new(&self.path).with_context(|| format!("loading {}", self.path.display()))?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(error) => return Err(error).context("C_Initialize"),
        }
        state.generation += 1;
        state.context = Some(context.clone());
        metrics::counter!("cartorio_hsm_initialisations_total").increment(1);
        tracing::info!(module = %self.path.display(), generation = state.generation, "PKCS#11 module initialized");
        Ok((context, state.generation))
    }

    /// Finalizes generation `generation` after a module fault (if nobody
    /// has yet); the next `context` initializes it again.
    pub fn reset(&self, generation: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.generation != generation {
            return;
        }
        if let Some(context) = state.context.take() {
            // "Not initialized" is the usual reason we are here.
            let _ = context.finalize();
            metrics::counter!("cartorio_hsm_module_failures_total").increment(1);
        }
    }
}
