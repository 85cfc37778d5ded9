//! MS-MDE2 enrollment for Windows MDM: Discovery, MS-XCEP GetPolicies, MS-WSTEP
//! RequestSecurityToken and its response, SOAP faults, the wap-provisioningdoc, and
//! the PKI behind them.
#![forbid(unsafe_code)]

pub mod pki;
pub mod token;
