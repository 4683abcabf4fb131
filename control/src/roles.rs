//! Who may do what on the admin API. A bearer token carries one role; each
//! route names the roles it admits. `docs/openapi.json` documents the same
//! table (a test keeps the two equal).

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything (the demo token `up` creates).
    Admin,
    /// Issue certificates, read their status.
    Issuer,
    /// Revoke certificates, read their status and the CRL.
    Revoker,
    /// Read status, the CRL and the audit log's verification; change nothing.
    Auditor,
}

impl Role {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Role::Admin),
            "issuer" => Some(Role::Issuer),
            "revoker" => Some(Role::Revoker),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Issuer => "issuer",
            Role::Revoker => "revoker",
            Role::Auditor => "auditor",
        }
    }
}

/// The admin API's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Issue,
    Status,
    Revoke,
    Crl,
    AuditVerify,
    RotateOcspSigner,
}

/// (method, OpenAPI path template, operation, roles admitted besides admin).
pub const ROUTES: &[(&str, &str, Operation, &[Role])] = &[
    ("POST", "/v1/certificates", Operation::Issue, &[Role::Issuer]),
    ("GET", "/v1/certificates/{serial}", Operation::Status, &[Role::Issuer, Role::Revoker, Role::Auditor]),
    ("POST", "/v1/certificates/{serial}/revoke", Operation::Revoke, &[Role::Revoker]),
    ("GET", "/v1/crl", Operation::Crl, &[Role::Revoker, Role::Auditor]),
    ("GET", "/v1/audit/verify", Operation::AuditVerify, &[Role::Auditor]),
    ("POST", "/v1/ocsp-signer/rotate", Operation::RotateOcspSigner, &[]),
];

/// The OpenAPI path template of `operation` (the access log's route).
pub fn template(operation: Operation) -> Option<&'static str> {
    ROUTES.iter().find(|(_, _, op, _)| *op == operation).map(|(_, template, _, _)| *template)
}

/// Whether `role` may perform `operation`.
pub fn allows(role: Role, operation: Operation) -> bool {
    role == Role::Admin || ROUTES.iter().any(|(_, _, op, roles)| *op == operation && roles.contains(&role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_admit_only_their_operations() {
        assert!(allows(Role::Admin, Operation::Revoke));
        assert!(allows(Role::Issuer, Operation::Issue) && !allows(Role::Issuer, Operation::Revoke));
        assert!(allows(Role::Revoker, Operation::Revoke) && !allows(Role::Revoker, Operation::Issue));
        assert!(allows(Role::Auditor, Operation::AuditVerify) && !allows(Role::Auditor, Operation::Revoke));
        assert!(!allows(Role::Auditor, Operation::Issue));
        for role in ["admin", "issuer", "revoker", "auditor"] {
            assert_eq!(Role::parse(role).map(Role::name), Some(role));
        }
    }

    /// `docs/openapi.json` documents exactly the routes served, each with
    /// the roles that may call it.
    #[test]
    fn the_openapi_file_matches_the_routes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("docs/openapi.json")).expect("JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let mut roles: Vec<String> = op["x-roles"]
                    .as_array()
                    .expect("x-roles")
                    .iter()
                    .map(|r| r.as_str().expect("role").to_owned())
                    .collect();
                roles.sort();
                documented.push((method.to_ascii_uppercase(), path.clone(), roles));
            }
        }
        documented.sort();
        let mut served: Vec<(String, String, Vec<String>)> = ROUTES
            .iter()
            .map(|(m, p, _, roles)| {
                let mut names: Vec<String> = std::iter::once("admin")
                    .chain(roles.iter().map(|r| r.name()))
                    .map(str::to_owned)
                    .collect();
                names.sort();
                (m.to_string(), p.to_string(), names)
            })
            .collect();
        served.sort();
        assert_eq!(documented, served);
    }
}
