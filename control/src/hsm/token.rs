//! One PKCS#11 token and its pool of logged-in sessions.
//!
//! Sessions are opened lazily up to the pool's capacity (the configured
//! count, capped by the token's own session limits) and reused. A failed
//! session is closed and replaced; a failed module is finalized and
//! initialized again, which bumps the pool's generation. Sessions of an
//! older generation are never closed: after a C_Finalize their handles may
//! already name someone else's new session.

use super::module::Module;
use super::{Fault, HsmConfig};
use anyhow::Context;
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Limit, Slot};
use cryptoki::types::AuthPin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Attempts per operation before a fault is returned to the caller, with
/// backoff doubling from 10 ms (1.3 s in all). Five (150 ms) were not
/// always enough for SoftHSM2 while another process rewrote the token's
/// files: a fresh-clone CI run saw "no initialized token" on all five.
const ATTEMPTS: u32 = 8;

pub struct Token {
    config: HsmConfig,
    pin: AuthPin,
    module: Arc<Module>,
    state: Mutex<State>,
    returned: Condvar,
}

#[derive(Default)]
struct State {
    /// The module generation the pooled sessions belong to (0: none yet).
    generation: u64,
    slot: Option<Slot>,
    idle: Vec<Session>,
    /// Sessions of this generation out on lease.
    leased: usize,
    capacity: usize,
}

/// A session borrowed from the pool; returned to it on drop.
struct Lease<'a> {
    token: &'a Token,
    session: Option<Session>,
    generation: u64,
}

impl Token {
    /// Loads the module and finds the token, so that a wrong path, label or
    /// PIN fails at start rather than at the first signature.
    pub fn open(config: HsmConfig) -> anyhow::Result<Self> {
        let pin = config.pin()?;
        let module = Module::get(&config.module);
        let token =
            Self { config, pin, module, state: Mutex::new(State::default()), returned: Condvar::new() };
        token.run(|_, _| Ok(()))?;
        Ok(token)
    }

    pub fn config(&self) -> &HsmConfig {
        &self.config
    }

    /// How many sessions the pool may hold.
    pub fn capacity(&self) -> usize {
        self.state().capacity
    }

    /// The module generation the pool is on (bumped by re-initialisation).
    pub fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Runs `op` on a pooled session, replacing failed sessions and
    /// re-initialising a failed module between attempts. `op` gets the
    /// generation so that it can cache object handles per generation.
    pub fn run<T>(&self, op: impl FnMut(&Session, u64) -> Result<T, Error>) -> anyhow::Result<T> {
        let _shared = self.module.shared();
        self.attempt(op)
    }

    /// [`Token::run`] for an operation that creates objects (key
    /// generation): alone on the module.
    pub fn run_exclusive<T>(&self, op: impl FnMut(&Session, u64) -> Result<T, Error>) -> anyhow::Result<T> {
        let _exclusive = self.module.exclusive();
        self.attempt(op)
    }

    fn attempt<T>(&self, mut op: impl FnMut(&Session, u64) -> Result<T, Error>) -> anyhow::Result<T> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(5 << attempt));
            }
            let lease = match self.lease() {
                Ok(lease) => lease,
                Err(error) => {
                    last = Some(error);
                    continue;
                }
            };
            let result = lease.session.as_ref().map(|s| op(s, lease.generation));
            match result {
                Some(Ok(value)) => return Ok(value),
                Some(Err(error)) => {
                    let fault = Fault::of(&error);
                    metrics::counter!("cartorio_hsm_faults_total", "kind" => fault.name()).increment(1);
                    tracing::warn!(%error, ?fault, attempt, "PKCS#11 operation failed");
                    lease.fail(fault);
                    if !fault.retryable() {
                        return Err(error).context("PKCS#11 operation failed");
                    }
                    last = Some(anyhow::Error::new(error));
                }
                None => {}
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no PKCS#11 session"))).with_context(|| {
            format!("token {:?} still failing after {ATTEMPTS} attempts", self.config.token_label)
        })
    }

    /// Borrows a logged-in session, waiting while all are leased.
    fn lease(&self) -> anyhow::Result<Lease<'_>> {
        let mut state = self.state();
        loop {
            let (context, generation) = self.module.context()?;
            if (generation != state.generation || state.slot.is_none())
                && let Err(error) = self.adopt(&mut state, &context, generation)
            {
                // C_GetSlotList or C_GetTokenInfo failing as a module
                // does (SoftHSM2 answered CKR_GENERAL_ERROR while another
                // process rewrote its token directory): the next attempt
                // initializes the module again, as after a failed
                // operation. A token missing from the list is not a
                // module fault: resetting would cut every other token's
                // sessions for a wrong label.
                if Fault::under(&error) == Some(Fault::Module) {
                    self.module.reset(generation);
                }
                return Err(error);
            }
            if let Some(session) = state.idle.pop() {
                state.leased += 1;
                return Ok(Lease { token: self, session: Some(session), generation });
            }
            if state.leased < state.capacity {
                let slot = state.slot.context("no slot")?;
                match self.open_session(&context, slot) {
                    Ok(session) => {
                        state.leased += 1;
                        metrics::gauge!("cartorio_hsm_sessions")
                            .set((state.leased + state.idle.len()) as f64);
                        return Ok(Lease { token: self, session: Some(session), generation });
                    }
                    Err(error) => {
                        if Fault::of(&error) == Fault::Module {
                            self.module.reset(generation);
                        }
                        return Err(error).context("opening a PKCS#11 session");
                    }
                }
            }
            state = self.returned.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a pool on module generation `generation`: finds the slot and
    /// sizes the pool. Sessions of the previous generation are dropped
    /// unclosed.
    fn adopt(&self, state: &mut State, context: &Pkcs11, generation: u64) -> anyhow::Result<()> {
        let slot = find_slot(context, &self.config.token_label)?;
        let info = context.get_token_info(slot).context("C_GetTokenInfo")?;
        let capacity = [info.max_session_count(), info.max_rw_session_count()]
            .into_iter()
            .fold(self.config.wanted_sessions(), |wanted, limit| match limit {
                Limit::Max(n) => wanted.min(usize::try_from(n).unwrap_or(usize::MAX)),
                Limit::Unavailable | Limit::Infinite => wanted,
            })
            .max(1);
        *state = State { generation, slot: Some(slot), idle: Vec::new(), leased: 0, capacity };
        tracing::info!(token = self.config.token_label, capacity, generation, "PKCS#11 session pool ready");
        Ok(())
    }

    fn open_session(&self, context: &Pkcs11, slot: Slot) -> Result<Session, Error> {
        // Closed by us, never on drop: see the module comment.
        let session = context.open_rw_session_no_drop(slot)?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(error) => {
                let _ = session.close();
                Err(error)
            }
        }
    }
}

impl Lease<'_> {
    /// Gives the session back after `fault`: kept when the request was the
    /// problem, closed when the session was, and the whole module reset when
    /// the module was.
    fn fail(mut self, fault: Fault) {
        let Some(session) = self.session.take() else { return };
        let mut state = self.token.state();
        let current = state.generation == self.generation;
        match fault {
            Fault::Permanent if current => state.idle.push(session),
            Fault::Session if current => {
                // What killed one session (C_CloseAllSessions, a logout, a
                // token reset) usually killed its idle siblings too.
                for stale in state.idle.drain(..).chain([session]) {
                    let _ = stale.close();
                }
            }
            Fault::Module => {
                // Its handle may not be closed: the module is finalized next.
                drop(session);
                self.token.module.reset(self.generation);
            }
            // A handle of a finalized module: neither reuse nor close it.
            _ => drop(session),
        }
        if current {
            state.leased = state.leased.saturating_sub(1);
        }
        self.token.returned.notify_all();
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else { return };
        let mut state = self.token.state();
        if state.generation == self.generation {
            state.leased = state.leased.saturating_sub(1);
            state.idle.push(session);
        } else {
            // A handle of a finalized module: neither reuse nor close it
            // (dropping a session opened without close-on-drop does not).
            drop(session);
        }
        self.token.returned.notify_one();
    }
}

fn find_slot(context: &Pkcs11, label: &str) -> anyhow::Result<Slot> {
    for slot in context.get_slots_with_initialized_token().context("C_GetSlotList")? {
        let info = context.get_token_info(slot).context("C_GetTokenInfo")?;
        if info.label().trim_end() == label {
            return Ok(slot);
        }
    }
    anyhow::bail!("no initialized PKCS#11 token labelled {label:?}")
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Module => "module",
            Self::Permanent => "permanent",
        }
    }
}
