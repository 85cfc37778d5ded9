//! MS-MDE2 enrollment for Windows MDM: Discovery, MS-XCEP GetPolicies, MS-WSTEP
//! RequestSecurityToken and its response, SOAP faults, the wap-provisioningdoc, and
//! the PKI behind them.
//!
//! This crate is under construction; see the crate README and `docs/` for status.
#![forbid(unsafe_code)]
