//! What a PKCS#11 error means for the caller: retry on a new session,
//! re-initialise the module, or give up.

use cryptoki::error::{Error, RvError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The session (or what it had logged in) is gone: open another.
    Session,
    /// The module or the device failed: finalize and initialize again.
    Module,
    /// The request itself is wrong (mechanism, key type, ...): retrying
    /// cannot help.
    Permanent,
}

impl Fault {
    pub fn of(error: &Error) -> Self {
        let Error::Pkcs11(rv, _) = error else {
            return Self::Permanent;
        };
        match rv {
            RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::UserNotLoggedIn
            | RvError::KeyHandleInvalid
            | RvError::ObjectHandleInvalid
            | RvError::OperationActive => Self::Session,
            RvError::CryptokiNotInitialized
            | RvError::DeviceError
            | RvError::DeviceRemoved
            | RvError::DeviceMemory
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::GeneralError
            | RvError::FunctionFailed => Self::Module,
            _ => Self::Permanent,
        }
    }

    /// The fault of the PKCS#11 error under `error`'s context, if any.
    pub fn under(error: &anyhow::Error) -> Option<Self> {
        error.downcast_ref::<Error>().map(Self::of)
    }

    pub fn retryable(self) -> bool {
        self != Self::Permanent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn faults_are_classified_by_return_value() {
        let of = |rv| Fault::of(&Error::Pkcs11(rv, Function::Sign));
        assert_eq!(of(RvError::SessionHandleInvalid), Fault::Session);
        assert_eq!(of(RvError::UserNotLoggedIn), Fault::Session);
        assert_eq!(of(RvError::CryptokiNotInitialized), Fault::Module);
        assert_eq!(of(RvError::DeviceRemoved), Fault::Module);
        assert_eq!(of(RvError::MechanismInvalid), Fault::Permanent);
        assert!(!Fault::Permanent.retryable());
    }

    #[test]
    fn a_fault_is_found_under_its_context() {
        let slot_list = Error::Pkcs11(RvError::GeneralError, Function::GetSlotList);
        let error = anyhow::Error::new(slot_list).context("C_GetSlotList");
        assert_eq!(Fault::under(&error), Some(Fault::Module));
        assert_eq!(Fault::under(&anyhow::anyhow!("no initialized PKCS#11 token labelled")), None);
    }
}
