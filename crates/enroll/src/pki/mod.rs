//! PKI for enrollment: CSR parsing and device certificate issuance.
